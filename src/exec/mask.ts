// exec --mask: a stream filter that replaces every occurrence of a secret value in the child's
// output with `<concealed by glassdome>`, even when a value is split across writes. It holds back
// only a tail that could still become a value (a suffix that is a prefix of one), so output that
// cannot contain a value passes at once and prompts are not delayed.

import { Transform, type TransformCallback } from 'node:stream';

/** What a concealed value is replaced with. */
export const CONCEALED = Buffer.from('<concealed by glassdome>');

/** A Transform that masks the given values (empty values are ignored). */
export class Masker extends Transform {
  private readonly patterns: Buffer[];
  private carry: Buffer = Buffer.alloc(0);

  constructor(values: Iterable<Uint8Array>) {
    super();
    const seen = new Set<string>();
    this.patterns = [];
    for (const v of values) {
      if (v.length === 0) continue;
      const b = Buffer.from(v);
      const key = b.toString('latin1');
      if (seen.has(key)) continue;
      seen.add(key);
      this.patterns.push(b);
    }
    this.patterns.sort((a, b) => b.length - a.length);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const buf = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = Buffer.alloc(0);
    this.scan(buf, false);
    done();
  }

  override _flush(done: TransformCallback): void {
    const tail = this.carry;
    this.carry = Buffer.alloc(0);
    if (tail.length > 0) this.scan(tail, true);
    done();
  }

  /** Emits `buf` with values concealed; unless `final`, keeps back a tail that may still become one. */
  private scan(buf: Buffer, final: boolean): void {
    let pos = 0;
    for (;;) {
      const match = this.earliestMatch(buf, pos);
      const pending = final ? -1 : this.earliestPartial(buf, pos, match ? match.at : buf.length);
      if (pending !== -1) {
        if (pending > pos) this.push(buf.subarray(pos, pending));
        this.carry = Buffer.from(buf.subarray(pending));
        return;
      }
      if (!match) {
        if (pos < buf.length) this.push(buf.subarray(pos));
        return;
      }
      if (match.at > pos) this.push(buf.subarray(pos, match.at));
      this.push(CONCEALED);
      pos = match.at + match.length;
    }
  }

  /** The leftmost complete occurrence of any value at or after `from` (the longest on a tie). */
  private earliestMatch(buf: Buffer, from: number): { at: number; length: number } | null {
    let best: { at: number; length: number } | null = null;
    for (const p of this.patterns) {
      const at = buf.indexOf(p, from);
      if (at !== -1 && (!best || at < best.at)) best = { at, length: p.length };
    }
    return best;
  }

  /**
   * The leftmost position in [from, limit] where the rest of `buf` is a proper prefix of some
   * value (a value that may complete in the next chunk), or -1.
   */
  private earliestPartial(buf: Buffer, from: number, limit: number): number {
    let best = -1;
    for (const p of this.patterns) {
      const start = Math.max(from, buf.length - p.length + 1);
      for (let j = start; j < buf.length && j <= limit && (best === -1 || j < best); j++) {
        if (buf[j] === p[0] && buf.compare(p, 0, buf.length - j, j) === 0) {
          best = j;
          break;
        }
      }
    }
    return best;
  }
}
