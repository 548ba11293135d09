// Appending to and reading the audit log ($GLASSDOME_HOME/audit.log, mode 0600, O_APPEND). An
// append reads the previous line's hash and number and writes the new lines under an exclusive
// flock on the log itself, so the agent and a CLI in fallback mode never fork the chain; each line
// is MACed under the audit subkey when the writer holds it (`key`). Past a size limit the log
// rotates (audit.log → audit.log.1 …) and the chain continues into the new file; a rotation that
// drops the oldest file says where the log now starts. `head` reads the chain's last line for the
// anchor sealed in the vault. Any failure is `audit_failed`: the caller then withholds secrets
// (fail closed); the lines of one batch stand or fall together (a write cut short is cut back).
// An event may carry a `LineCheck` (the agent's process-identity check): the writer runs the
// checks of a batch together, just before its lines are built and just after they are written,
// so one batch shares what they read.

import fs from 'node:fs';
import { GlassdomeError } from '../errors.js';
import { unlock as funlock } from '../os/libc.js';
import { flockWithin } from '../store/lock.js';
import { ioError, isAt, openPrivate, readPrivate, sameFile } from '../store/secure-file.js';
import { buildLine, GENESIS, LineMac, lineHash, verifyChain, type AuditEvent, type ChainReport, type VerifyKey } from './chain.js';
import { randomHex } from './digest.js';

/** The chain's last line: its number (0: empty) and its hash. */
export interface ChainHead {
  seq: number;
  hash: string;
}

/** Rotate when the log passes this size. */
export const ROTATE_BYTES = 10 * 1024 * 1024;
/** Rotated files kept (audit.log.1 … audit.log.5). */
export const KEEP_ROTATED = 5;
/** How long an append waits for another writer (ms). */
const APPEND_LOCK_MS = 2000;

/** An event without the fields the log fills in. */
export type NewEvent = Omit<AuditEvent, 'timestamp' | 'event_id'>;

/** Event ids: unique, not secret — a random prefix per process and a counter. */
const ID_PREFIX = randomHex(4);
let idCounter = 0;

/** Why an event's line may not stand: the event to write instead (or after it), and the error its append rejects with. */
export interface Refusal {
  event: NewEvent;
  error: Error;
}

/**
 * A condition an event depends on, run by the writer just before the event's line is built (a
 * refusal's event is written in its place) and again just after it is written (a refusal's event
 * follows it). `memo` is shared by the checks of one batch at one moment, for what they read.
 */
export type LineCheck = (memo: Map<unknown, unknown>) => Refusal | null;

interface Pending {
  event: AuditEvent;
  resolve: () => void;
  reject: (err: Error) => void;
  check?: LineCheck | undefined;
  /** Set when a check refused the event: the append rejects with it once the batch is written. */
  refused?: Error;
}

/** The audit log of one vault. */
export class AuditLog {
  private fd: number | undefined;
  private knownSize = -1;
  private lastHash = GENESIS;
  private lastSeq = 0;
  private queue: Pending[] = [];
  private flushing = false;
  /** Called with each line written (syslog forwarding), best effort. */
  forward: ((line: string) => void) | undefined;

  constructor(
    readonly path: string,
    private readonly rotateBytes = ROTATE_BYTES,
    /** The audit subkey while the writer holds it (undefined: lines say `"mac":null`). */
    private readonly key: () => Uint8Array | undefined = () => undefined,
  ) {}

  /**
   * The chain's last line as it is on disk now (for the anchor): read under the log's lock, after
   * every line already queued is written.
   */
  async head(): Promise<ChainHead> {
    await this.drain();
    for (let attempt = 0; attempt < 5; attempt++) {
      const fd = this.open();
      if (!(await flockWithin(fd, APPEND_LOCK_MS))) throw new GlassdomeError('busy', `another writer held ${this.path} too long`);
      try {
        const st = fs.fstatSync(fd);
        if (st.nlink === 0 || !sameFile(fd, this.path)) {
          this.close();
          continue;
        }
        const size = dropTornLine(fd, st.size);
        return size === 0 ? chainStart(this.path) : tailHead(fd, size, this.path);
      } finally {
        if (this.fd === fd) funlock(fd);
      }
    }
    throw new GlassdomeError('busy', `${this.path} kept being rotated`);
  }

  /** Resolves once every line appended so far is written (or failed). */
  private async drain(): Promise<void> {
    while (this.flushing || this.queue.length > 0) await new Promise<void>((r) => setImmediate(r));
  }

  /**
   * Appends one event; resolves once its line is written, throws `audit_failed` when it cannot
   * be. Events arriving while a write is under way are written together by the next one (group
   * commit: one lock, one stat and one write for many lines under load). With `check`, rejects
   * with the refusal's error when the check refuses it before or after its line is written.
   */
  append(event: NewEvent, check?: LineCheck): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ event: stamped(event), resolve, reject, check });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    await new Promise<void>((r) => setImmediate(r)); // gather what this turn of the event loop appends
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      let lines: string[];
      try {
        lines = await this.write(batch);
      } catch (err) {
        this.close();
        const cause = err instanceof GlassdomeError ? err.message : ioError(err, 'write').message.replace(/^write: /, '');
        const failure = new GlassdomeError('audit_failed', `cannot write the audit log ${this.path} (${cause})`, `make it writable again: ls -l ${this.path}`);
        for (const p of batch) p.reject(failure);
        continue;
      }
      const memo = new Map<unknown, unknown>(); // the checks after the write, all in this one step
      for (const p of batch) {
        const late = p.refused ? null : p.check?.(memo);
        if (late) this.queue.push({ event: stamped(late.event), resolve: () => p.reject(late.error), reject: p.reject });
        else if (p.refused) p.reject(p.refused);
        else p.resolve();
      }
      for (const line of lines) {
        try {
          this.forward?.(line);
        } catch {
          // forwarding is best effort; the local line is written
        }
      }
    }
    this.flushing = false;
  }

  /** Runs the checks of a batch about to be written; a refused event is replaced by its refusal's. */
  private checkBefore(batch: Pending[]): void {
    const memo = new Map<unknown, unknown>();
    for (const p of batch) {
      const refusal = p.check?.(memo);
      if (!refusal) continue;
      p.event = stamped(refusal.event);
      p.refused = refusal.error;
    }
  }

  /** Closes the log's descriptor. */
  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    this.knownSize = -1;
  }

  private async write(batch: Pending[]): Promise<string[]> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const fd = this.open();
      if (!(await flockWithin(fd, APPEND_LOCK_MS))) throw new GlassdomeError('busy', 'another writer held it too long');
      try {
        const st = fs.fstatSync(fd);
        // Still the file at this.path (one stat a batch): a log removed, rotated or renamed away
        // while we held it is left as it is, and the lines go to the current file.
        if (st.nlink === 0 || !isAt(st, this.path)) {
          this.close();
          continue;
        }
        let size = st.size;
        if (size !== this.knownSize) {
          size = dropTornLine(fd, size);
          ({ hash: this.lastHash, seq: this.lastSeq } = size === 0 ? chainStart(this.path) : tailHead(fd, size, this.path));
        }
        if (size >= this.rotateBytes) {
          this.writeLines(fd, [rotationEvent(this.path)], size);
          rotate(this.path);
          this.close();
          const fresh = this.open(); // new, empty; the chain continues from this.lastHash
          this.checkBefore(batch);
          return this.writeLines(fresh, batch.map((p) => p.event), 0);
        }
        this.checkBefore(batch);
        return this.writeLines(fd, batch.map((p) => p.event), size);
      } finally {
        if (this.fd === fd) funlock(fd);
      }
    }
    throw new GlassdomeError('busy', 'it kept being rotated');
  }

  private writeLines(fd: number, events: AuditEvent[], size: number): string[] {
    let prev = this.lastHash;
    let seq = this.lastSeq;
    const key = this.key();
    const mac = key ? new LineMac(key) : undefined; // the key's pads, once for the batch
    let lines: string[];
    try {
      lines = events.map((event) => {
        const line = buildLine(event, ++seq, prev, mac);
        prev = lineHash(line);
        return line;
      });
    } finally {
      mac?.wipe();
    }
    const bytes = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    let written = 0;
    try {
      while (written < bytes.length) written += fs.writeSync(fd, bytes, written);
    } catch (err) {
      // The lines of a batch stand or fall together: a write cut short (a full disk, the file size
      // limit) is cut back, so no line claims a value went out that its failed append withheld.
      if (written > 0) cutBack(fd, size);
      throw err;
    }
    this.knownSize = size + bytes.length;
    this.lastHash = prev;
    this.lastSeq = seq;
    return lines;
  }

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    // Read-write: the previous line's hash is read from the tail; O_APPEND puts every write at the end.
    // Never blocking, and only a regular file: a FIFO here would take a few lines, then stall the agent.
    const fd = openPrivate(this.path, fs.constants.O_RDWR | fs.constants.O_APPEND | fs.constants.O_CREAT);
    this.fd = fd;
    this.knownSize = -1;
    return fd;
  }
}

/** Truncates the log back to `size` (best effort: a line left torn is dropped before the next append). */
function cutBack(fd: number, size: number): void {
  try {
    fs.ftruncateSync(fd, size);
  } catch {
    // dropTornLine removes a torn tail at the next append
  }
}

/** An event with the fields the log fills in: its time and a unique id. */
function stamped(event: NewEvent): AuditEvent {
  return {
    timestamp: isoNow(),
    event_id: `evt_${ID_PREFIX}${(idCounter++ % 0x100000000).toString(16).padStart(8, '0')}`,
    event_type: event.event_type,
    client: event.client,
    action: event.action,
    resource: event.resource,
    result: event.result,
    ...(event.reason !== undefined ? { reason: event.reason } : {}),
  };
}

let isoAt = -1;
let isoText = '';

/** The time now as ISO 8601 text, formatted once per millisecond (lines of one batch share it). */
function isoNow(): string {
  const now = Date.now();
  if (now !== isoAt) {
    isoAt = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

/** The line that closes a file before it is rotated away; it says so when the oldest file is dropped. */
function rotationEvent(path: string): AuditEvent {
  const start = fs.existsSync(`${path}.${KEEP_ROTATED}`) ? firstSeq(`${path}.${KEEP_ROTATED - 1}`) : null;
  return {
    timestamp: isoNow(),
    event_id: `evt_${ID_PREFIX}${(idCounter++ % 0x100000000).toString(16).padStart(8, '0')}`,
    event_type: 'admin_action',
    client: null,
    action: 'rotate',
    resource: 'audit.log',
    result: 'success',
    reason: `the chain continues in the next file${start === null ? '' : `; audit.log.${KEEP_ROTATED} dropped: the log now starts at line ${start}`}`,
  };
}

/** The seq of a file's first line, or null (no such file, or a line of an earlier release). */
function firstSeq(file: string): number | null {
  try {
    const fd = openPrivate(file, fs.constants.O_RDONLY);
    try {
      const chunk = Buffer.alloc(64 * 1024);
      const n = fs.readSync(fd, chunk, 0, chunk.length, 0);
      const line = chunk.subarray(0, n).toString('utf8').split('\n')[0]!;
      const m = /,"seq":(\d+),"prev":"[0-9a-f]{64}",/.exec(line);
      return m ? Number(m[1]) : null;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return null;
  }
}

/**
 * The hash and number of the last line of a file that ends with a newline. A line of an earlier
 * release has no `seq`: then the lines of every file are counted (once, on the first append).
 */
function tailHead(fd: number, size: number, path: string): ChainHead {
  const line = lastLine(fd, size);
  if (line === null) return { seq: 0, hash: GENESIS };
  const m = /,"seq":(\d+),"prev":"[0-9a-f]{64}",/.exec(line);
  return { seq: m ? Number(m[1]) : countLines(path), hash: lineHash(line) };
}

function countLines(path: string): number {
  return readAuditFiles(path).files.reduce((n, f) => n + f.lines.length, 0);
}

/**
 * Cuts off a line a failed write left unfinished (no final newline: the disk full, the file size
 * limit, a kill midway), so that the next line starts on a line of its own and follows the last
 * complete one; its event was never acknowledged (the caller heard audit_failed). Called with the
 * log's lock held. Returns the size after.
 */
function dropTornLine(fd: number, size: number): number {
  const end = endOfLastLine(fd, size);
  if (end !== size) fs.ftruncateSync(fd, end);
  return end;
}

/** Where the last newline of an open file ends (its size when it ends with one; 0 when it has none). */
function endOfLastLine(fd: number, size: number): number {
  const chunk = Buffer.alloc(4096);
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - chunk.length);
    const n = fs.readSync(fd, chunk, 0, end - start, start);
    const nl = chunk.subarray(0, n).lastIndexOf(10);
    if (nl !== -1) return start + nl + 1;
    end = start;
  }
  return 0;
}

/** The last complete line of an open file, or null when it has none. */
function lastLine(fd: number, size: number): string | null {
  let end = size;
  const chunk = Buffer.alloc(4096);
  const parts: Buffer[] = [];
  // Skip the final newline, then read back to the one before it.
  let skippedNewline = false;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const n = fs.readSync(fd, chunk, 0, end - start, start);
    let piece = chunk.subarray(0, n);
    if (!skippedNewline) {
      if (piece[piece.length - 1] === 10) piece = piece.subarray(0, piece.length - 1);
      skippedNewline = true;
    }
    const nl = piece.lastIndexOf(10);
    if (nl !== -1) {
      parts.unshift(Buffer.from(piece.subarray(nl + 1)));
      return Buffer.concat(parts).toString('utf8');
    }
    parts.unshift(Buffer.from(piece));
    end = start;
  }
  const all = Buffer.concat(parts);
  return all.length > 0 ? all.toString('utf8') : null;
}

/** Where the chain of an empty current log starts: the last line of audit.log.1, if any. */
function chainStart(path: string): ChainHead {
  try {
    const fd = openPrivate(`${path}.1`, fs.constants.O_RDONLY);
    try {
      return tailHead(fd, fs.fstatSync(fd).size, path);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return { seq: 0, hash: GENESIS };
  }
}

function rotate(path: string): void {
  for (let k = KEEP_ROTATED; k >= 1; k--) {
    const from = k === 1 ? path : `${path}.${k - 1}`;
    try {
      fs.renameSync(from, `${path}.${k}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** The log's files, oldest first, with their lines; `startsMidway` when older files were rotated away. */
export function readAuditFiles(path: string): { files: Array<{ name: string; lines: string[] }>; startsMidway: boolean } {
  const files: Array<{ name: string; lines: string[] }> = [];
  let oldest = 0;
  for (let k = KEEP_ROTATED; k >= 1; k--) {
    const text = readPrivate(`${path}.${k}`)?.text ?? null;
    if (text === null) continue;
    oldest = Math.max(oldest, k);
    files.push({ name: `audit.log.${k}`, lines: splitLines(text) });
  }
  const current = readPrivate(path)?.text ?? null;
  if (current !== null) files.push({ name: 'audit.log', lines: splitLines(current) });
  return { files, startsMidway: oldest === KEEP_ROTATED };
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Verifies the log's files (with the key and anchor when given); adds how many files were read. */
export function verifyAuditLog(path: string, verifyKey?: VerifyKey): ChainReport & { files: number } {
  const { files, startsMidway } = readAuditFiles(path);
  return { ...verifyChain(files, startsMidway, verifyKey), files: files.length };
}
