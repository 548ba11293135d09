// The audit anchor of a `serve` replica on etcd: each replica keeps its own chained log (its own
// $GLASSDOME_HOME/audit.log) and anchors the chain's head — seq and hash of its last line, MACed
// under the audit subkey — at `PREFIX/audit/<replica-id>/head`. The replica advances it at most
// every HEAD_INTERVAL_MS while lines are written, and once more when it stops; like the vault's
// anchor it only moves forward along the same chain (anchor.ts): a log that no longer holds the
// anchored line keeps the old anchor, and the break is reported. `audit verify --store` reads it
// back, checks its MAC, and verifies the local log against it.

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fail } from '../errors.js';
import type { EtcdClient, KeyValue } from '../etcd/client.js';
import { AUDIT, AUDIT_HEAD, etcdKey } from '../etcd/layout.js';
import type { AuditAnchor } from '../vault/payload.js';
import { prepareAnchor } from './anchor.js';
import type { AuditLog } from './log.js';

/** How often a replica anchors its head while lines are written (ms). */
export const HEAD_INTERVAL_MS = 1000;
/** What the head's MAC covers, before its fields. */
const HEAD_DOMAIN = 'glassdome/audit-head/v1\n';
/** A replica id: what `--replica-id` accepts. */
const REPLICA_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** The head as stored in etcd. */
interface StoredHead {
  replica: string;
  seq: number;
  hash: string;
  at: string;
  mac: string;
}

/** The replica id: `--replica-id`, else the host name and a digest of the replica's $GLASSDOME_HOME (stable across restarts, distinct for two replicas on one host). */
export function replicaId(given: string | undefined, home: string): string {
  let id = given;
  if (id === undefined) {
    let where = path.resolve(home);
    try {
      where = fs.realpathSync(home);
    } catch {
      // not there yet: the path as given
    }
    id = `${os.hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 55)}-${crypto.createHash('sha256').update(where).digest('hex').slice(0, 8)}`;
  }
  if (!REPLICA_ID.test(id)) fail('usage', `--replica-id ${JSON.stringify(id)} is not usable`, 'letters, digits, _ . - (at most 64), like serve-a');
  return id;
}

/** One replica's anchor in etcd. */
export class EtcdHeadAnchor {
  private readonly key: Uint8Array;
  private stored: { kv: KeyValue | null; anchor: AuditAnchor | null } | undefined;
  private timer: NodeJS.Timeout | null = null;
  private advancing: Promise<void> = Promise.resolve();
  /** The anchor whose break was last reported (a break is reported once, not at every tick). */
  private reportedBreak: string | null = null;

  constructor(
    private readonly client: EtcdClient,
    prefix: string,
    readonly replica: string,
    private readonly auditKey: () => Uint8Array | undefined,
  ) {
    this.key = etcdKey(prefix, AUDIT, replica, AUDIT_HEAD);
  }

  /** The anchor stored in etcd (its MAC checked: `tampered` when it fails), or null when none is. */
  async read(): Promise<AuditAnchor | null> {
    const kv = (await this.client.range(this.key, { limit: 1 })).kvs[0] ?? null;
    this.stored = { kv, anchor: kv ? this.open(kv) : null };
    return this.stored.anchor;
  }

  /** Anchors the log's head when it moved on along the same chain; a break is told to `onBreak` and the old anchor kept. */
  advance(log: AuditLog, onBreak: (why: string) => void): Promise<void> {
    this.advancing = this.advancing.then(async () => {
      const key = this.auditKey();
      if (!key) return;
      if (!this.stored) await this.read();
      const previous = this.stored!.anchor;
      const at = previous ? `${previous.lines}:${Buffer.from(previous.hash).toString('hex')}` : null;
      const next = (
        await prepareAnchor(log, (why) => {
          if (at !== this.reportedBreak) onBreak(why);
          this.reportedBreak = at;
        })
      )(previous);
      if (!next || (previous && previous.lines === next.lines && Buffer.from(previous.hash).equals(Buffer.from(next.hash)))) return;
      const head = { replica: this.replica, seq: next.lines, hash: Buffer.from(next.hash).toString('hex'), at: new Date().toISOString() };
      const value = new TextEncoder().encode(JSON.stringify({ ...head, mac: headMac(key, head) }));
      const kv = this.stored!.kv;
      const r = await this.client.txn([kv ? { key: this.key, target: 'MOD', result: 'EQUAL', modRevision: kv.modRevision } : { key: this.key, target: 'CREATE', result: 'EQUAL', createRevision: 0 }], [{ put: { key: this.key, value } }]);
      if (r.succeeded) this.stored = { kv: { key: this.key, value, createRevision: kv?.createRevision ?? r.revision, modRevision: r.revision, version: (kv?.version ?? 0) + 1 }, anchor: next };
      else this.stored = undefined; // another writer under the same replica id: read it again next time (and find the break)
    });
    return this.advancing;
  }

  /** Advances every HEAD_INTERVAL_MS until `stop`; failures go to `log`. */
  start(log: AuditLog, onBreak: (why: string) => void, report: (message: string) => void): void {
    const tick = (): void => {
      this.advance(log, onBreak).catch((err: Error) => report(`audit head not anchored in etcd: ${err.message}`));
      this.timer = setTimeout(tick, HEAD_INTERVAL_MS);
      this.timer.unref();
    };
    tick();
  }

  /** Stops the timer (the caller anchors a last time with `advance`). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private open(kv: KeyValue): AuditAnchor {
    let head: StoredHead;
    try {
      head = JSON.parse(new TextDecoder().decode(kv.value)) as StoredHead;
    } catch {
      return fail('tampered', `the audit head of replica ${this.replica} in etcd is not JSON`);
    }
    const key = this.auditKey() ?? fail('locked', 'checking the audit head needs the master key');
    const expected = Buffer.from(headMac(key, head), 'hex');
    const given = Buffer.from(typeof head.mac === 'string' && /^[0-9a-f]{64}$/.test(head.mac) ? head.mac : '', 'hex');
    if (head.replica !== this.replica || given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
      fail('tampered', `the audit head of replica ${this.replica} in etcd was altered or written without the key`, 'keep a copy of the log; glassdome audit verify --store … names what still holds');
    }
    return { lines: head.seq, hash: Buffer.from(head.hash, 'hex') };
  }
}

/** The MAC of a head's fields under the audit subkey. */
function headMac(key: Uint8Array, head: Omit<StoredHead, 'mac'>): string {
  return crypto.createHmac('sha256', key).update(HEAD_DOMAIN).update(JSON.stringify([head.replica, head.seq, head.hash, head.at]), 'utf8').digest('hex');
}
