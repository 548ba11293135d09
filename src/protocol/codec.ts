// NDJSON framing: splits a byte stream into lines no longer than MAX_LINE_BYTES, and encodes
// messages as one JSON line each. Pure. An oversized line is reported once and then skipped up
// to its newline, so one bad frame never desynchronizes the stream.

import { MAX_LINE_BYTES } from './limits.js';

/** One frame out of the splitter: a complete line, or a line that was too long. */
export type Frame = { kind: 'line'; bytes: Uint8Array } | { kind: 'oversized' };

/** Splits incoming chunks into newline-terminated frames. */
export class LineSplitter {
  private parts: Uint8Array[] = [];
  private size = 0;
  private discarding = false;

  constructor(private readonly maxLine: number = MAX_LINE_BYTES) {}

  /** Feeds one chunk; returns the frames it completes. */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl === -1 ? chunk.length : nl;
      if (this.discarding) {
        if (nl !== -1) this.discarding = false;
      } else if (this.size + (end - start) > this.maxLine) {
        this.parts = [];
        this.size = 0;
        frames.push({ kind: 'oversized' });
        this.discarding = nl === -1;
      } else if (nl === -1) {
        this.parts.push(chunk.subarray(start, end));
        this.size += end - start;
      } else {
        frames.push({ kind: 'line', bytes: this.take(chunk.subarray(start, end)) });
      }
      if (nl === -1) break;
      start = nl + 1;
    }
    return frames;
  }

  /** Bytes held for an unfinished line. */
  get buffered(): number {
    return this.size;
  }

  private take(tail: Uint8Array): Uint8Array {
    if (this.parts.length === 0) return tail;
    const out = new Uint8Array(this.size + tail.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    out.set(tail, o);
    this.parts = [];
    this.size = 0;
    return out;
  }
}

/** Encodes one message as a JSON line. */
export function encodeLine(message: object): string {
  return `${JSON.stringify(message)}\n`;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Decodes a line as strict UTF-8 JSON; returns undefined when it is neither. */
export function decodeJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
}
