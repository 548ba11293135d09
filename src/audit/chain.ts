// The audit log's hash chain (docs/AUDIT.md): each line is a JSON event that carries `prev`, the
// SHA-256 of the previous line's text, and ends with `hash`, the SHA-256 of its own text without
// that field. `prev` finds a removed or reordered line; `hash` finds an edited one (the last line
// included). Building and checking lines is pure; reading files is the caller's.

import crypto from 'node:crypto';

/** The `prev` of the very first line. */
export const GENESIS = '0'.repeat(64);

/** One audit event, as written (before `prev` and `hash`). */
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

/** SHA-256 of a line's text, in hex. */
export function lineHash(line: string): string {
  return crypto.createHash('sha256').update(line, 'utf8').digest('hex');
}

/** The text of a new line after `prev` (no newline). */
export function buildLine(event: AuditEvent, prev: string): string {
  const body = JSON.stringify({ ...event, prev });
  return `${body.slice(0, -1)},"hash":"${lineHash(body)}"}`;
}

const HASH_SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/;

/** Checks a line's own hash; returns its parsed event, or why it fails. */
export function checkLine(line: string): { event: AuditEvent & { prev: string; hash: string } } | { problem: string } {
  const m = HASH_SUFFIX.exec(line);
  if (!m) return { problem: 'it has no hash (not a glassdome audit line, or cut short)' };
  const body = `${line.slice(0, m.index)}}`;
  if (lineHash(body) !== m[1]) return { problem: 'it was edited (its hash does not match its text)' };
  try {
    const event = JSON.parse(line) as AuditEvent & { prev: string; hash: string };
    if (typeof event.prev !== 'string' || !/^[0-9a-f]{64}$/.test(event.prev)) return { problem: 'its prev is malformed' };
    return { event };
  } catch {
    return { problem: 'it is not JSON' };
  }
}

/** Where a chain breaks, if it does. */
export interface ChainBreak {
  file: string;
  line: number;
  problem: string;
}

/**
 * Verifies files in chain order (oldest first). The first line must follow GENESIS, unless
 * `startsMidway` (older rotated files were removed), in which case it anchors the chain.
 */
export function verifyChain(files: Array<{ name: string; lines: string[] }>, startsMidway: boolean): { lines: number; broken: ChainBreak | null } {
  let prev: string | null = startsMidway ? null : GENESIS;
  let count = 0;
  for (const { name, lines } of files) {
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i]!;
      const where = { file: name, line: i + 1 };
      const checked = checkLine(text);
      if ('problem' in checked) return { lines: count, broken: { ...where, problem: checked.problem } };
      if (prev !== null && checked.event.prev !== prev) {
        const problem =
          count === 0
            ? 'the chain does not start here: lines before it were removed'
            : 'it does not follow the line before it: a line was removed, or lines were reordered, in between';
        return { lines: count, broken: { ...where, problem } };
      }
      prev = lineHash(text);
      count++;
    }
  }
  return { lines: count, broken: null };
}
