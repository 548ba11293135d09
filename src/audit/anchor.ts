// The audit anchor: the chain's line count and the hash of its last line, sealed in the vault
// payload by every vault write (and at lock and unlock), so `audit verify` with the key finds a
// cut tail, a deleted log or a dropped head (docs/AUDIT.md). An anchor only moves forward along
// the same chain: when the log no longer holds the line the vault anchored, the old anchor is kept
// (verify keeps saying `tampered`) and the break is reported to the caller, who audits it.

import fs from 'node:fs';
import { lineHash } from './chain.js';
import { KEEP_ROTATED, type AuditLog, type ChainHead } from './log.js';
import { readPrivate } from '../store/secure-file.js';
import type { AuditAnchor } from '../vault/payload.js';
import { toHex } from '../vault/format.js';

/**
 * Reads the log's head, then returns the step that picks the anchor to seal: the head, when the
 * log still holds the line `previous` anchored; else `previous`, after `onBreak` heard why.
 */
export async function prepareAnchor(log: AuditLog, onBreak: (why: string) => void): Promise<(previous: AuditAnchor | null) => AuditAnchor | null> {
  const head = await log.head();
  return (previous) => {
    const why = previous ? breakSince(log.path, head, previous) : null;
    if (why) {
      onBreak(why);
      return previous;
    }
    return { lines: head.seq, hash: Buffer.from(head.hash, 'hex') };
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

/** The hash of line `target` counting back from the last line (`lastSeq`); undefined when it was rotated away. */
function hashOfLine(path: string, lastSeq: number, target: number): string | undefined {
  let seq = lastSeq;
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
    for (let i = lines.length - 1; i >= 0; i--, seq--) if (seq === target) return lineHash(lines[i]!);
  }
  return undefined;
}
