// The vault kept in etcd (docs/ETCD.md, docs/VAULT-FORMAT.md § etcd): the SecretStore a `serve`
// replica offers when started with `--store etcd://…`. Reads come from an EtcdView of
// `PREFIX/vault/`, and only while it is fresh (else `unavailable`); values stay sealed in memory
// exactly as etcd holds them and are opened for one `get`. Writes are transactions compared on
// the key's mod_revision, retried on conflict, and never applied twice: a write whose outcome is
// unknown (the member died mid-request) is checked against etcd before anything is tried again
// (the record's random nonce makes our bytes recognisable).

import { fail, GlassdomeError } from '../errors.js';
import { secretCopy } from '../vault/bytes.js';
import {
  etcdVaultKeys,
  MASTER_KEY_PATH,
  META_PATH,
  openPolicyRecord,
  openSecretRecord,
  POLICY_PATH,
  sealPolicyRecord,
  sealSecretRecord,
  secretPath,
  SECRETS_PATH,
  VAULT_PATH,
  wipeEtcdVaultKeys,
  type EtcdVaultKeys,
} from '../vault/etcd-record.js';
import { MAX_VALUE_BYTES } from '../vault/names.js';
import { checkBatch, notFound, type NewSecret, type SecretInfo, type SecretStore } from '../vault/store.js';
import type { VaultKeys } from '../vault/vault.js';
import { type Compare, type EtcdClient, EtcdUnavailable, isUnavailable, type KeyValue, type TxnOp } from './client.js';
import { etcdKey } from './layout.js';
import { EtcdView, FRESHNESS_BOUND_MS } from './view.js';

/** How long a write keeps trying through an election or a failover before it gives up (ms). */
export const WRITE_DEADLINE_MS = 5000;
/** Pause between two attempts of a write that etcd could not take (ms). */
export const WRITE_RETRY_PAUSE_MS = 100;
/** Conflicting writes (another replica won the compare) a write retries before `busy`. */
export const MAX_WRITE_CONFLICTS = 16;
/** Secrets one `setMany` may write (etcd's --max-txn-ops is 128 by default; one more op is the clock). */
export const MAX_BATCH_SECRETS = 100;
/** Bytes of records one transaction may carry (etcd's --max-request-bytes is 1.5 MiB by default). */
export const MAX_TXN_RECORD_BYTES = MAX_VALUE_BYTES + 256 * 1024;

/** A secret's name and times as the index keeps them, or why its record does not open. */
type IndexEntry = SecretInfo | { error: GlassdomeError };

/** What the replica does when the sealed policy changes, or the vault itself is replaced. */
export interface EtcdVaultHooks {
  onPolicy(policy: string | null): void;
  /** Another vault (or none) now lives under the prefix (`store migrate --force`, a delete): the replica's keys open nothing there. */
  onReplaced?(): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** The vault under an etcd prefix, for one unlocked replica. */
export class EtcdVault implements SecretStore {
  /** Set before `start`. */
  hooks: EtcdVaultHooks = { onPolicy: () => undefined };
  private readonly view: EtcdView;
  private readonly index = new Map<string, IndexEntry>();
  private keys: EtcdVaultKeys | undefined;
  private policy: string | null = null;
  /** The vault's metadata and wrapped master key as they were at start: a change means another vault. */
  private head: Map<string, Uint8Array> | undefined;

  /** The vault stored under `prefix` (`/glassdome`), opened with `keys` (the caller keeps and wipes them). */
  constructor(
    private readonly client: EtcdClient,
    private readonly prefix: string,
    keys: VaultKeys,
    onTrouble?: (err: Error) => void,
  ) {
    this.keys = etcdVaultKeys(keys);
    this.view = new EtcdView(client, etcdKey(prefix, VAULT_PATH), { onChange: (events) => this.changed(events.length === 0 ? null : events.map((e) => e.kv.key)), ...(onTrouble ? { onTrouble } : {}) });
  }

  /** Loads the vault and keeps it current; `unavailable` when etcd cannot be read. */
  async start(): Promise<void> {
    await this.view.start();
    this.changed(null);
  }

  /** The sealed policy in force (null: none). */
  get sealedPolicy(): string | null {
    return this.policy;
  }

  /** True while reads are answered (the view is fresh). */
  isFresh(): boolean {
    return this.view.isFresh();
  }

  /** Stops following etcd and wipes the subkeys (on lock and expiry). */
  clear(): void {
    this.view.stop();
    wipeEtcdVaultKeys(this.keys);
    this.keys = undefined;
    this.index.clear();
  }

  /** The number of secrets. */
  count(): number {
    this.fresh();
    return this.index.size;
  }

  async get(name: string): Promise<Uint8Array> {
    const keys = this.fresh();
    const path = secretPath(keys, name);
    const kv = this.view.get(this.relative(path)) ?? notFound(name);
    const { name: stored, entry } = openSecretRecord(keys, path, kv.value);
    if (stored !== name) {
      entry.value.fill(0);
      fail('tampered', `the etcd record ${path} holds another secret`);
    }
    return entry.value;
  }

  async list(): Promise<string[]> {
    return (await this.infos()).map((i) => i.name);
  }

  async infos(): Promise<SecretInfo[]> {
    this.fresh();
    const out: SecretInfo[] = [];
    for (const entry of this.index.values()) {
      if ('error' in entry) throw entry.error;
      out.push(entry);
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async set(name: string, value: Uint8Array): Promise<void> {
    await this.setMany([{ name, value }]);
  }

  async setMany(entries: readonly NewSecret[]): Promise<void> {
    checkBatch(entries);
    if (entries.length > MAX_BATCH_SECRETS) fail('too_large', `${entries.length} secrets in one write; an etcd store takes at most ${MAX_BATCH_SECRETS}`, 'write them in smaller batches');
    const keys = this.writable();
    const copies = entries.map(({ name, value }) => ({ name, value: secretCopy(value), path: secretPath(keys, name) }));
    try {
      await this.write(
        copies.map((c) => c.path),
        (current) => {
          const now = Date.now();
          let bytes = 0;
          const ops = copies.map((c, i): TxnOp => {
            const created = current[i] ? this.createdOf(c.path, current[i]!) ?? now : now;
            const { record } = sealSecretRecord(keys, c.name, { value: c.value, created, updated: now });
            bytes += record.length;
            return { put: { key: this.key(c.path), value: record } };
          });
          if (bytes > MAX_TXN_RECORD_BYTES) fail('too_large', `this write would send ${bytes} bytes to etcd in one transaction (limit ${MAX_TXN_RECORD_BYTES})`, 'write the secrets one at a time');
          return ops;
        },
      );
    } finally {
      for (const c of copies) c.value.fill(0);
    }
  }

  async rm(name: string): Promise<void> {
    const keys = this.writable();
    const path = secretPath(keys, name);
    if (!this.view.get(this.relative(path))) notFound(name);
    await this.write([path], (current) => (current[0] ? [{ delete: { key: this.key(path) } }] : notFound(name)));
  }

  /** Seals a policy text into the vault (already validated by the caller). */
  async applyPolicy(text: string): Promise<void> {
    const keys = this.writable();
    await this.write([POLICY_PATH], () => [{ put: { key: this.key(POLICY_PATH), value: sealPolicyRecord(keys, text) } }]);
  }

  /**
   * A compare-and-swap on `paths`: `ops` builds the operations from the keys' current values, the
   * transaction holds only if none changed since (mod_revision), and a conflict builds them again
   * from the values etcd returned. An outcome etcd did not confirm is read back before a retry.
   */
  private async write(paths: string[], ops: (current: Array<KeyValue | undefined>) => TxnOp[]): Promise<void> {
    const keys = paths.map((p) => this.key(p));
    let current = paths.map((p) => this.view.get(this.relative(p)));
    const deadline = performance.now() + WRITE_DEADLINE_MS;
    let conflicts = 0;
    for (;;) {
      const attempt = ops(current);
      const compare = keys.map((key, i): Compare => ({ key, target: 'MOD', result: 'EQUAL', modRevision: current[i]?.modRevision ?? 0 }));
      try {
        const r = await this.view.txn(compare, attempt, keys.map((key) => ({ range: { key } })));
        if (r.succeeded) {
          await this.view.waitFor(r.revision, FRESHNESS_BOUND_MS); // read-your-writes on this replica
          return;
        }
        if (++conflicts > MAX_WRITE_CONFLICTS) fail('busy', `the write lost ${MAX_WRITE_CONFLICTS} races with other replicas`, 'retry');
        current = r.responses.map((res) => (res as { range: { kvs: KeyValue[] } }).range.kvs[0]);
      } catch (err) {
        if (!isUnavailable(err) || performance.now() > deadline) throw err;
        if (err instanceof EtcdUnavailable && err.ambiguous) {
          const now = await this.readBack(keys, deadline);
          if (applied(attempt, now)) {
            await this.view.waitFor(Math.max(...now.map((kv) => kv?.modRevision ?? 0)), FRESHNESS_BOUND_MS);
            return;
          }
          current = now;
        } else await sleep(WRITE_RETRY_PAUSE_MS);
      }
    }
  }

  /** Reads keys back (linearizably) until etcd answers or the deadline passes. */
  private async readBack(keys: Uint8Array[], deadline: number): Promise<Array<KeyValue | undefined>> {
    for (;;) {
      try {
        const out: Array<KeyValue | undefined> = [];
        for (const key of keys) out.push((await this.client.range(key)).kvs[0]);
        return out;
      } catch (err) {
        if (!isUnavailable(err) || performance.now() > deadline) {
          throw new EtcdUnavailable('etcd did not confirm a write and cannot be read back: it may or may not have been applied', true);
        }
        await sleep(WRITE_RETRY_PAUSE_MS);
      }
    }
  }

  /** Rebuilds the index entries of changed keys (null: everything), and follows the policy. */
  private changed(keys: Uint8Array[] | null): void {
    const k = this.keys;
    if (!k) return;
    const rels = keys === null ? null : new Set(keys.map((key) => new TextDecoder().decode(key).slice(this.key(VAULT_PATH).length)));
    if (rels === null) this.index.clear();
    const policyRel = this.relative(POLICY_PATH);
    const secretsRel = this.relative(SECRETS_PATH);
    for (const rel of rels ?? this.view.entries.keys()) {
      if (rel === policyRel) continue;
      if (!rel.startsWith(secretsRel)) continue;
      const kv = this.view.get(rel);
      if (!kv) {
        this.index.delete(rel);
        continue;
      }
      try {
        const { name, entry } = openSecretRecord(k, VAULT_PATH + rel, kv.value);
        entry.value.fill(0);
        this.index.set(rel, { name, created: entry.created, updated: entry.updated });
      } catch (err) {
        if (!(err instanceof GlassdomeError)) throw err;
        this.index.set(rel, { error: err });
      }
    }
    for (const rel of [this.relative(META_PATH), this.relative(MASTER_KEY_PATH)]) {
      const now = this.view.get(rel)?.value;
      this.head ??= new Map();
      const then = this.head.get(rel);
      if (then === undefined && now) this.head.set(rel, now);
      else if (then !== undefined && (!now || !sameBytes(now, then))) return this.hooks.onReplaced?.();
    }
    if (rels === null || rels.has(policyRel)) {
      const kv = this.view.get(policyRel);
      const next = kv ? openPolicyRecord(k, kv.value) : null;
      this.policy = next;
      this.hooks.onPolicy(next);
    }
  }

  private createdOf(path: string, kv: KeyValue): number | undefined {
    try {
      const { entry } = openSecretRecord(this.keys!, path, kv.value);
      entry.value.fill(0);
      return entry.created;
    } catch {
      return undefined;
    }
  }

  private fresh(): EtcdVaultKeys {
    const keys = this.keys ?? fail('locked', 'the daemon holds no key');
    this.view.assertFresh();
    return keys;
  }

  private writable(): EtcdVaultKeys {
    return this.keys ?? fail('locked', 'the daemon holds no key');
  }

  /** The full etcd key of a path relative to the store's prefix. */
  private key(path: string): Uint8Array {
    return etcdKey(this.prefix, path);
  }

  /** A path relative to the store's prefix, as the view (of `PREFIX/vault/`) names it. */
  private relative(path: string): string {
    return path.slice(VAULT_PATH.length);
  }
}

/** Whether etcd now holds exactly what `ops` wrote (our records carry a fresh nonce, so equal bytes are ours). */
function applied(ops: TxnOp[], now: Array<KeyValue | undefined>): boolean {
  return ops.every((op, i) => ('put' in op ? now[i] !== undefined && sameBytes(now[i]!.value, op.put.value) : 'delete' in op ? now[i] === undefined : true));
}
