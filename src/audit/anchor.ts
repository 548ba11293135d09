// The audit anchor: the chain's line count and the hash of its last line, sealed in the vault
// payload by every vault write (and at lock), so `audit verify` with the key finds a
// cut tail, a deleted log or a dropped head (docs/AUDIT.md). An anchor only moves forward along
// the same chain: when the log no longer holds the line the vault anchored, the old anchor is kept
// (verify keeps saying `tampered`) and the break is reported to the caller, who audits it. The
// log is fsynced up to the head before the head is handed out: the vault that seals it is fsynced
// too, and an anchor naming lines a power loss took back would read as a cut log.

import fs from 'node:fs';
import nodePath from 'node:path';
import { lineHash } from './chain.js';
import { KEEP_ROTATED, type AuditLog, type ChainHead, type NewEvent } from './log.js';
import { fsyncDir, ioError, openPrivate, readPrivate } from '../store/secure-file.js';
import type { AuditAnchor } from '../vault/payload.js';
import type { VaultKeys } from '../vault/vault.js';
import type { VaultPaths } from '../store/paths.js';
import { toHex } from '../vault/format.js';

/**
 * Reads the log's head, then returns the step that picks the anchor to seal: the head, when the
 * log still holds the line `previous` anchored; else `previous`, after `onBreak` heard why.
 */
export async function prepareAnchor(log: AuditLog, onBreak: (why: string) => void): Promise<(previous: AuditAnchor | null) => AuditAnchor | null> {
  const head = await durableHead(log);
  return (previous) => {
    const why = previous ? breakSince(log.path, head, previous) : null;
    if (why) {
      onBreak(why);
      return previous;
    }
    return { lines: head.seq, hash: Buffer.from(head.hash, 'hex') };
  };
}

/**
 * The log's head, once every line up to it is on disk: the log and the file it last rotated into
 * (a rotation may have moved the head's line there) are fsynced, and their directory too when
 * either is a file this process has not yet made durable there (a creation or a rotation). Lines
 * are not fsynced as they are appended (a disk flush per `get`); only here, where something
 * durable is about to name them.
 */
export async function durableHead(log: AuditLog): Promise<ChainHead> {
  const head = await log.head();
  const files: string[] = [];
  for (const file of [log.path, `${log.path}.1`]) {
    let fd: number;
    try {
      fd = openPrivate(file, fs.constants.O_RDONLY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && file !== log.path) continue; // never rotated
      throw ioError(err, `cannot open ${file} to make it durable`);
    }
    try {
      const st = fs.fstatSync(fd);
      files.push(`${st.dev}:${st.ino}`);
      fs.fsyncSync(fd);
    } catch (err) {
      throw ioError(err, `cannot make ${file} durable (fsync)`);
    } finally {
      fs.closeSync(fd);
    }
  }
  const names = files.join(' ');
  if (durableNames.get(log.path) !== names) {
    try {
      fsyncDir(nodePath.dirname(log.path));
    } catch (err) {
      throw ioError(err, `cannot make the directory of ${log.path} durable (fsync)`);
    }
    durableNames.set(log.path, names);
  }
  return head;
}

/**
 * Seals the head of the log at paths.audit as the vault's anchor, whatever the anchor before named
 * (`audit verify --reset-anchor`; a restore that starts the home's log anew); returns its line.
 */
export async function sealHeadAsAnchor(paths: VaultPaths, keys: VaultKeys, log: AuditLog): Promise<number> {
  const { updateVault } = require('../store/vault-files.js') as typeof import('../store/vault-files.js');
  let line = 0;
  await updateVault(paths, keys, () => undefined, {
    anchor: async () => {
      const head = await durableHead(log);
      line = head.seq;
      return () => ({ lines: head.seq, hash: Buffer.from(head.hash, 'hex') });
    },
  });
  return line;
}

/** Per log path: the files (device:inode) whose names in the directory this process last made durable. */
const durableNames = new Map<string, string>();

/**
 * The anchor hook of a writer's vault writes (WriteHooks.anchor): each write seals the log's head;
 * a break is told to `onBreak` and audited as `audit_tampered` on the log itself by `client`
 * (a failure to write that line goes to `onError`).
 */
export function anchorOnWrite(log: AuditLog, client: NewEvent['client'], onBreak: (why: string) => void, onError: (err: Error) => void = () => undefined): () => ReturnType<typeof prepareAnchor> {
  return () => prepareAnchor(log, auditBreak(log, client, onBreak, onError));
}

/** anchorOnWrite for a daemon (the agent, serve): the break and any failure to audit it go to its log, as tamperedMessage says. */
export function daemonAnchorOnWrite(log: AuditLog, say: (message: string) => void): () => ReturnType<typeof prepareAnchor> {
  return () => prepareAnchor(log, daemonBreak(log, say));
}

/** What a daemon does with a break of the chain it anchors (in the vault or in etcd): says it in its log and audits it. */
export function daemonBreak(log: AuditLog, say: (message: string) => void): (why: string) => void {
  return auditBreak(log, null, (why) => say(tamperedMessage(why)), (err) => say(err.message));
}

/** The line a daemon logs when the audit log no longer holds the line last anchored. */
export function tamperedMessage(why: string): string {
  return `audit log tampered with: ${why}; the anchor stays where it was, so audit verify reports it`;
}

/** Tells a break to `onBreak`, then audits it as `audit_tampered` on the log itself by `client`. */
function auditBreak(log: AuditLog, client: NewEvent['client'], onBreak: (why: string) => void, onError: (err: Error) => void): (why: string) => void {
  return (why) => {
    onBreak(why);
    log.append({ client, event_type: 'audit_tampered', action: 'anchor', resource: 'audit.log', result: 'tampered', reason: why }).catch(onError);
  };
}

/** Why the log at `path`, ending at `head`, no longer continues from `anchor`; null when it does. */
export function breakSince(path: string, head: ChainHead, anchor: AuditAnchor): string | null {
  if (anchor.lines === 0) return null;
  const want = toHex(anchor.hash);
  if (head.seq < anchor.lines) return `the log ends at line ${head.seq}, before line ${anchor.lines} the vault anchored: lines were cut, or the log was deleted`;
  if (head.seq === anchor.lines) return head.hash === want ? null : `line ${anchor.lines} is not the line the vault anchored: the log was replaced`;
  const found = hashOfLine(path, head.seq, anchor.lines);
  if (found === undefined) return null; // rotated away since: nothing left to compare
  return found === want ? null : `line ${anchor.lines} is not the line the vault anchored: the log was replaced or rebuilt`;
}

/** How much of the log's end is read first when looking for the anchored line (most writes find it there). */
const TAIL_BYTES = 256 * 1024;

/** The hash of line `target`, searched from the log's end; undefined when it was rotated away. */
function hashOfLine(path: string, lastSeq: number, target: number): string | undefined {
  const tail = tailLines(path);
  if (tail) {
    const found = findInLines(tail, lastSeq, target);
    if (found.hash !== undefined) return found.hash;
  }
  let next = lastSeq + 1; // the number of the line after the one being looked at
  for (let k = 0; k <= KEEP_ROTATED; k++) {
    const name = k === 0 ? path : `${path}.${k}`;
    if (k > 0 && !fs.existsSync(name)) return undefined;
    let text: string;
    try {
      text = readPrivate(name)?.text ?? '';
    } catch {
      return undefined; // unreadable (a FIFO, another owner): verify reports it
    }
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const found = findInLines(lines, next - 1, target);
    if (found.hash !== undefined || found.passed) return found.hash ?? '';
    next = found.next;
  }
  return undefined;
}

const SEQ = /,"seq":(\d+),"prev":"[0-9a-f]{64}",/;

/**
 * Looks for line `target` in `lines` (in order), numbering them back from the last (`lastSeq`
 * unless the lines say their own `seq`: another writer may have appended since the head was read).
 */
function findInLines(lines: string[], lastSeq: number, target: number): { hash?: string; passed: boolean; next: number } {
  let next = lastSeq + 1;
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = SEQ.exec(lines[i]!);
    const seq = m ? Number(m[1]) : next - 1;
    if (seq === target) return { hash: lineHash(lines[i]!), passed: true, next: seq };
    if (seq < target) return { passed: true, next: seq };
    next = seq;
  }
  return { passed: false, next };
}

/** The complete lines in the last TAIL_BYTES of the current log (the first, partial one dropped), or null. */
function tailLines(path: string): string[] | null {
  let fd: number;
  try {
    fd = openPrivate(path, fs.constants.O_RDONLY); // non-blocking, a private regular file
  } catch {
    return null;
  }
  try {
    const st = fs.fstatSync(fd);
    const start = Math.max(0, st.size - TAIL_BYTES);
    const buf = Buffer.alloc(st.size - start);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    const lines = buf.subarray(0, got).toString('utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    if (start > 0) lines.shift();
    return lines;
  } finally {
    fs.closeSync(fd);
  }
}
