// The audit log's chain (docs/AUDIT.md): each line is a JSON event that carries `seq` (its number
// in the chain, from 1), `prev` (the SHA-256 of the previous line's text), `mac` (HMAC-SHA-256 of
// the line under the audit subkey of the master key, or null when the writer held no key: the
// agent locked, the CLI without a session), and ends with `hash`, the SHA-256 of its own text
// without that field. `prev` finds a removed or reordered line; `hash` an edited one; `mac` a line
// rebuilt by someone without the key; the anchor sealed in the vault (the count and last hash when
// the vault was last written) a cut tail, a deleted log or a dropped head. Building and checking
// lines is pure; reading files is the caller's.

import { hmacSha256Hex, sha256, sha256Hex } from './digest.js';
import { toHex } from '../vault/format.js';
import type { AuditAnchor } from '../vault/payload.js';

/** The `prev` of the very first line. */
export const GENESIS = '0'.repeat(64);

/** What the MAC of a line covers, before the line's own text. */
const MAC_DOMAIN = 'glassdome/audit/v1\n';

/** One audit event, as written (before `seq`, `prev`, `mac` and `hash`). */
export interface AuditEvent {
  timestamp: string;
  event_id: string;
  event_type: string;
  /** A local process; or, for `glassdome serve`, the remote address and the CN (and token accessor). */
  client: { pid: number; uid: number; exe: string | null } | { remote: string; cn: string; accessor?: string } | null;
  action: string;
  resource: string | null;
  result: string;
  reason?: string;
}

/** A line as read back: the event and its chain fields (`seq` and `mac` are absent in lines of earlier releases). */
export type ChainedEvent = AuditEvent & { seq?: number; prev: string; mac?: string | null; hash: string };

/** SHA-256 of a line's text, in hex (digest.ts). */
export function lineHash(line: string): string {
  return sha256Hex(line);
}

/**
 * HMAC-SHA-256 of a line (digest.ts: OpenSSL's HMAC in the agent), for verification. The writer
 * computes the same MAC with LineMac; every MAC a test writes is checked here, so the two cannot
 * drift apart.
 */
function lineMac(key: Uint8Array, body: string): string {
  return hmacSha256Hex(key, MAC_DOMAIN, body);
}

const SHA256_BLOCK = 64;

/**
 * HMAC-SHA-256 of lines under one audit key (RFC 2104), the key's pads computed once for a batch
 * of lines: two one-shot hashes a line, with no OpenSSL HMAC object to create and collect (~1 µs
 * less a line on the agent's hot path). Holds key material: wipe it when the batch is written.
 */
export class LineMac {
  /** The inner pad, the MAC domain, then room for a line's text. */
  private inner: Buffer;
  /** The outer pad, then room for the inner digest. */
  private readonly outer = Buffer.alloc(SHA256_BLOCK + 32);
  private readonly prefix: number;

  constructor(key: Uint8Array) {
    const hashed = key.length > SHA256_BLOCK ? sha256(key, 'buffer') : undefined; // a key as good as `key`: wiped below
    const k = hashed ?? key;
    this.prefix = SHA256_BLOCK + Buffer.byteLength(MAC_DOMAIN);
    this.inner = Buffer.alloc(this.prefix + 1024);
    for (let i = 0; i < SHA256_BLOCK; i++) {
      this.inner[i] = 0x36 ^ (k[i] ?? 0);
      this.outer[i] = 0x5c ^ (k[i] ?? 0);
    }
    hashed?.fill(0);
    this.inner.write(MAC_DOMAIN, SHA256_BLOCK, 'latin1');
  }

  /** The MAC (hex) of a line's text. */
  of(body: string): string {
    if (this.prefix + body.length * 3 > this.inner.length) {
      const grown = Buffer.alloc(this.prefix + body.length * 3);
      this.inner.copy(grown, 0, 0, this.prefix);
      this.inner.fill(0);
      this.inner = grown;
    }
    const n = this.inner.write(body, this.prefix, 'utf8');
    this.outer.write(sha256(this.inner.subarray(0, this.prefix + n), 'binary'), SHA256_BLOCK, 'binary'); // 'binary' is latin1: one char a byte, no Buffer made
    return sha256(this.outer, 'hex');
  }

  wipe(): void {
    this.inner.fill(0);
    this.outer.fill(0);
  }
}

/** The text of a new line number `seq` after `prev` (no newline), MACed under `key` when there is one. */
export function buildLine(event: AuditEvent, seq: number, prev: string, key: Uint8Array | LineMac | undefined): string {
  if (key instanceof Uint8Array) {
    const mac = new LineMac(key);
    try {
      return buildLine(event, seq, prev, mac);
    } finally {
      mac.wipe();
    }
  }
  // The text of JSON.stringify({ ...event, seq, prev, mac, hash }), built from one open prefix
  // (no copy of the event, no slicing of the longer strings: each slice flattened a rope).
  const json = JSON.stringify(event);
  const open = `${json.slice(0, -1)},"seq":${JSON.stringify(seq)},"prev":${JSON.stringify(prev)}`;
  const withMac = `${open},"mac":${key ? `"${key.of(`${open}}`)}"` : 'null'}`;
  return `${withMac},"hash":"${lineHash(`${withMac}}`)}"}`;
}

const HASH_SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/;
const MAC_SUFFIX = /,"mac":(null|"[0-9a-f]{64}")\}$/;

/** A line whose own hash holds: its event, and the text its MAC covers (when it has a MAC field). */
export interface CheckedLine {
  event: ChainedEvent;
  macBody: string | null;
}

/** Checks a line's own hash; returns its parsed event, or why it fails. */
export function checkLine(line: string): CheckedLine | { problem: string } {
  const m = HASH_SUFFIX.exec(line);
  if (!m) return { problem: 'it has no hash (not a glassdome audit line, or cut short)' };
  const body = `${line.slice(0, m.index)}}`;
  if (lineHash(body) !== m[1]) return { problem: 'it was edited (its hash does not match its text)' };
  let event: ChainedEvent;
  try {
    event = JSON.parse(line) as ChainedEvent;
  } catch {
    return { problem: 'it is not JSON' };
  }
  if (typeof event.prev !== 'string' || !/^[0-9a-f]{64}$/.test(event.prev)) return { problem: 'its prev is malformed' };
  if ('seq' in event && !(Number.isSafeInteger(event.seq) && event.seq! >= 1)) return { problem: 'its seq is malformed' };
  const mm = MAC_SUFFIX.exec(body);
  if ('mac' in event !== (mm !== null)) return { problem: 'its mac is malformed' };
  return { event, macBody: mm ? `${body.slice(0, mm.index)}}` : null };
}

/** Where a chain breaks, if it does. */
export interface ChainBreak {
  file: string;
  line: number;
  problem: string;
}

/** What verify knows beyond the plain chain: the audit subkey and the anchor sealed in the vault. */
export interface VerifyKey {
  key: Uint8Array;
  anchor: AuditAnchor | null;
}

/** The outcome of a verification. */
export interface ChainReport {
  lines: number;
  broken: ChainBreak | null;
  /** Lines with a MAC (checked when a key was given). */
  keyed: number;
  /** Lines written without the key (`"mac":null`). */
  unkeyed: number;
  /** Lines of earlier releases, with no `seq` and no `mac`. */
  legacy: number;
  /** The seq of the last line (0 for an empty log). */
  lastSeq: number;
  /** Keyed check: the line the anchor names, when it was found; null when none was sealed yet. */
  anchoredAt: number | null;
}

/** The reason of the line that closes a file whose rotation dropped the oldest one: "… the log now starts at line N". */
export const DROP_PATTERN = /the log now starts at line (\d+)$/;

/**
 * Verifies files in chain order (oldest first). The first line must follow GENESIS as line 1,
 * unless a rotation recorded that older lines were dropped (a `rotate` line saying where the log
 * now starts — with a key, only a keyed or anchored one counts), or, for lines of earlier
 * releases, `startsMidway` (all rotated files present). With `verifyKey`, every MAC is checked
 * and the anchor must name a line of the log, with the same hash.
 */
export function verifyChain(files: Array<{ name: string; lines: string[] }>, startsMidway: boolean, verifyKey?: VerifyKey): ChainReport {
  const report: ChainReport = { lines: 0, broken: null, keyed: 0, unkeyed: 0, legacy: 0, lastSeq: 0, anchoredAt: null };
  const anchor = verifyKey?.anchor ?? null;
  let prev: string | null = null;
  let first: { where: ChainBreak; event: ChainedEvent } | null = null;
  const drops: Array<{ start: number; trusted: boolean }> = [];
  const fail = (where: Omit<ChainBreak, 'problem'>, problem: string): ChainReport => ({ ...report, broken: { ...where, problem } });
  const macFrom = verifyKey ? lastRotation(files, verifyKey.key) : 0;
  let index = 0;
  for (const { name, lines } of files) {
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i]!;
      const where = { file: name, line: i + 1 };
      const checked = checkLine(text);
      if ('problem' in checked) return fail(where, checked.problem);
      const { event, macBody } = checked;
      const seq = event.seq ?? report.lastSeq + 1;
      if (prev === null) {
        first = { where: { ...where, problem: '' }, event };
      } else {
        if (event.prev !== prev) return fail(where, 'it does not follow the line before it: a line was removed, or lines were reordered, in between');
        if (seq !== report.lastSeq + 1) return fail(where, `it is numbered ${seq} after line ${report.lastSeq}: lines were removed or added in between`);
      }
      if (event.mac === undefined) report.legacy++;
      else if (event.mac === null) report.unkeyed++;
      else {
        report.keyed++;
        // Lines before the last keyed rotate_key were MACed under a retired key: the chain and the anchor cover them.
        if (verifyKey && index >= macFrom && lineMac(verifyKey.key, macBody!) !== event.mac) return fail(where, 'its MAC does not match: it was written or rebuilt without the key');
      }
      if (anchor && seq === anchor.lines && anchor.lines > 0) {
        if (lineHash(text) !== toHex(anchor.hash)) return fail(where, `it is not the line ${anchor.lines} the vault anchored: the log was replaced or rebuilt`);
        report.anchoredAt = seq;
      }
      const drop = event.action === 'rotate' && event.reason ? DROP_PATTERN.exec(event.reason) : null;
      if (drop) drops.push({ start: Number(drop[1]), trusted: !verifyKey || (event.mac !== null && event.mac !== undefined) || (anchor !== null && seq <= anchor.lines) });
      prev = lineHash(text);
      report.lastSeq = seq;
      report.lines++;
      index++;
    }
  }
  if (first) {
    const { event, where } = first;
    const startSeq = event.seq ?? 1;
    const legacyMidway = event.seq === undefined && startsMidway;
    const dropped = drops.some((d) => d.start === startSeq && d.trusted);
    if (!legacyMidway && !dropped && (startSeq !== 1 || event.prev !== GENESIS)) {
      return { ...fail(where, 'the chain does not start here: lines before it were removed'), lines: 0 };
    }
  }
  if (anchor && anchor.lines > 0 && report.anchoredAt === null) {
    const firstSeq = first ? (first.event.seq ?? 1) : 0;
    if (report.lastSeq < anchor.lines) {
      const last = files.length > 0 ? files[files.length - 1]! : { name: 'audit.log', lines: [] };
      if (report.lines === 0) return fail({ file: last.name, line: 0 }, `the log is empty or missing, but the vault anchored line ${anchor.lines}: it was deleted or emptied`);
      return fail({ file: last.name, line: last.lines.length }, `the log ends at line ${report.lastSeq} but the vault anchored line ${anchor.lines}: lines at its end were cut`);
    }
    if (firstSeq > anchor.lines) report.anchoredAt = null; // rotated away since: nothing left to compare
  }
  return report;
}

/**
 * The position (0-based, over all files) of the last `rotate_key` line MACed under `key`: a
 * rotation changed the master key, and so the audit subkey, there; 0 when there is none.
 */
function lastRotation(files: Array<{ name: string; lines: string[] }>, key: Uint8Array): number {
  let index = 0;
  let found = 0;
  for (const { lines } of files) {
    for (const text of lines) {
      if (text.includes('"action":"rotate_key"')) {
        const checked = checkLine(text);
        if (!('problem' in checked) && checked.event.action === 'rotate_key' && typeof checked.event.mac === 'string' && lineMac(key, checked.macBody!) === checked.event.mac) found = index;
      }
      index++;
    }
  }
  return found;
}
