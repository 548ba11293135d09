// NDJSON framing: splits a byte stream into lines no longer than MAX_LINE_BYTES, and encodes
// messages as one JSON line each. Pure. An oversized line is reported once and then skipped up
// to its newline, so one bad frame never desynchronizes the stream. Keys and values travel as
// base64 bytes both ways: a request's `key` and `value` are cut out of the line before it is
// decoded as text, and a reply's value is spliced into its line as bytes, so neither becomes a JS
// string (which nothing could wipe) on the side that does this.

import { base64Length, writeBase64 } from '../vault/base64.js';
import { secretBuffer, secretCopy } from '../vault/bytes.js';
import { MAX_LINE_BYTES } from './limits.js';

/** One frame out of the splitter: a complete line, or a line that was too long. */
export type Frame = { kind: 'line'; bytes: Uint8Array } | { kind: 'oversized' };

/** The first room held for an unfinished line; it doubles as the line grows, up to the line limit. */
export const FIRST_PARTIAL_BYTES = 1024;

/**
 * Splits incoming chunks into newline-terminated frames. The bytes of an unfinished line are
 * copied into one buffer that doubles as it fills, so a line arriving a byte a chunk costs about
 * its own length, not a chunk (a buffer and its views, some 200 bytes) per byte.
 */
export class LineSplitter {
  private partial: Uint8Array | null = null;
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
        this.drop();
        frames.push({ kind: 'oversized' });
        this.discarding = nl === -1;
      } else if (nl === -1) {
        this.hold(chunk.subarray(start, end));
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

  /** Copies part of an unfinished line into the held buffer (grown by doubling, wiping the old one), and wipes the chunk's copy. */
  private hold(part: Uint8Array): void {
    const needed = this.size + part.length;
    if (this.partial === null || this.partial.length < needed) {
      const grown = secretBuffer(Math.min(this.maxLine, Math.max(needed, FIRST_PARTIAL_BYTES, 2 * (this.partial?.length ?? 0))));
      if (this.partial !== null) {
        grown.set(this.partial.subarray(0, this.size));
        this.partial.fill(0);
      }
      this.partial = grown;
    }
    this.partial.set(part, this.size);
    this.size = needed;
    part.fill(0); // the received chunk's copy of the line: the caller wipes only the joined one
  }

  private take(tail: Uint8Array): Uint8Array {
    if (this.size === 0) return tail;
    const out = secretBuffer(this.size + tail.length);
    out.set(this.partial!.subarray(0, this.size));
    out.set(tail, this.size);
    this.drop();
    return out;
  }

  /** Wipes and lets go of the unfinished line. */
  private drop(): void {
    this.partial?.fill(0, 0, this.size);
    this.partial = null;
    this.size = 0;
  }
}

/** Base64 text held as ASCII bytes: a secret field of a message that must never become a JS string. */
export class Base64Bytes {
  constructor(readonly ascii: Uint8Array) {}
}

/**
 * Secret bytes a reply carries as base64 text: encodeReply writes their base64 straight into the
 * line (no separate base64 copy) and wipes them at once.
 */
export class SecretBytes {
  constructor(readonly raw: Uint8Array) {}
}

/** An encoded line and the way to wipe it once it has been written. */
export interface EncodedLine {
  bytes: Uint8Array;
  wipe(): void;
}

const encoder = new TextEncoder();
const NO_WIPE = (): void => undefined;

/**
 * Encodes one message as a JSON line of bytes, splicing Base64Bytes and SecretBytes fields in as
 * JSON strings (base64 needs no escaping) after the plain ones. Wiping the line also wipes the
 * Base64Bytes fields' bytes; SecretBytes are wiped as soon as they are encoded.
 */
export function encodeReply(message: Record<string, unknown>): EncodedLine {
  let secrets: Array<[string, Base64Bytes | SecretBytes]> | undefined;
  for (const k in message) {
    const v = message[k];
    if (v instanceof Base64Bytes || v instanceof SecretBytes) (secrets ??= []).push([k, v]);
  }
  let plain = message;
  if (secrets) {
    plain = {}; // built by adding, never by deleting: a deleted key would make JSON.stringify take its slow path
    for (const k in message) if (!secrets.some(([name]) => name === k)) plain[k] = message[k];
  }
  const head = JSON.stringify(plain);
  if (!secrets) return { bytes: encoder.encode(`${head}\n`), wipe: NO_WIPE };
  // Text pieces around the secrets: `{...,"name":"` before the first, `","name":"` between, `"}\n` after.
  const pieces: Uint8Array[] = [];
  let before = `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}`;
  let size = 0;
  for (const [k, v] of secrets) {
    pieces.push(encoder.encode(`${before}${JSON.stringify(k)}:"`));
    size += v instanceof Base64Bytes ? v.ascii.length : base64Length(v.raw.length);
    before = '",';
  }
  pieces.push(CLOSE_LINE);
  for (const p of pieces) size += p.length;
  const bytes = secretBuffer(size);
  let o = 0;
  secrets.forEach(([, v], i) => {
    bytes.set(pieces[i]!, o);
    o += pieces[i]!.length;
    if (v instanceof Base64Bytes) {
      bytes.set(v.ascii, o);
      o += v.ascii.length;
    } else {
      o = writeBase64(v.raw, bytes, o);
      v.raw.fill(0);
    }
  });
  bytes.set(CLOSE_LINE, o);
  return {
    bytes,
    wipe: () => {
      bytes.fill(0);
      for (const [, v] of secrets) if (v instanceof Base64Bytes) v.ascii.fill(0);
    },
  };
}

const CLOSE_LINE = encoder.encode('"}\n');

/** Top-level fields whose string values are cut out of a line as bytes (see decodeRequestLine). */
export const SECRET_FIELDS: readonly string[] = ['key', 'value', 'old_key'];

/**
 * Decodes a line like decodeJson, except that the top-level string members named in `fields`
 * come out as Base64Bytes: their bytes are copied out and blanked in `bytes` before the line is
 * decoded as text, so the secret never becomes a JS string. A member that is not plain printable
 * ASCII (escapes, control or non-ASCII bytes) is left to the JSON parser, which judges it as
 * before. The caller wipes `bytes` and the returned fields.
 */
export function decodeRequestLine(bytes: Uint8Array, fields: readonly string[] = SECRET_FIELDS): unknown {
  const cut = new Map<string, Uint8Array>();
  for (const span of secretSpans(bytes, fields)) {
    cut.set(span.field, secretCopy(bytes.subarray(span.start, span.end)));
    bytes.fill(32, span.start, span.end); // spaces inside the quotes: a valid string, now blank
  }
  const doc = decodeJson(bytes);
  if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
    for (const [field, ascii] of cut) {
      const msg = doc as Record<string, unknown>;
      if (typeof msg[field] === 'string') msg[field] = new Base64Bytes(ascii);
      else ascii.fill(0);
    }
  } else {
    for (const ascii of cut.values()) ascii.fill(0);
  }
  return doc;
}

interface Span {
  field: string;
  start: number;
  end: number;
}

const QUOTE_BYTE = 34;
const BACKSLASH = 92;

/** Where the plain-ASCII string values of the named top-level members lie in a JSON object line. */
function secretSpans(b: Uint8Array, fields: readonly string[]): Span[] {
  const spans: Span[] = [];
  let i = skipSpace(b, 0);
  if (b[i] !== 123) return spans; // not an object: the parser will say so
  i = skipSpace(b, i + 1);
  while (i < b.length && b[i] === QUOTE_BYTE) {
    const keyEnd = stringEnd(b, i);
    if (keyEnd < 0) return spans;
    const key = asciiName(b, i + 1, keyEnd);
    i = skipSpace(b, keyEnd + 1);
    if (b[i] !== 58) return spans; // ':'
    i = skipSpace(b, i + 1);
    const valueStart = i;
    i = valueEnd(b, i);
    if (i < 0) return spans;
    if (key !== null && fields.includes(key) && b[valueStart] === QUOTE_BYTE && plainAscii(b, valueStart + 1, i - 1)) {
      spans.push({ field: key, start: valueStart + 1, end: i - 1 });
    }
    i = skipSpace(b, i);
    if (b[i] !== 44) break; // ','
    i = skipSpace(b, i + 1);
  }
  return spans;
}

function skipSpace(b: Uint8Array, i: number): number {
  while (i < b.length && (b[i] === 32 || b[i] === 9 || b[i] === 10 || b[i] === 13)) i++;
  return i;
}

/** The index of the closing quote of the string opening at `i`, or -1. */
function stringEnd(b: Uint8Array, i: number): number {
  for (let j = i + 1; j < b.length; j++) {
    if (b[j] === BACKSLASH) j++;
    else if (b[j] === QUOTE_BYTE) return j;
  }
  return -1;
}

/** The index just past the JSON value starting at `i` (strings, nested containers, literals), or -1. */
function valueEnd(b: Uint8Array, i: number): number {
  if (b[i] === QUOTE_BYTE) {
    const end = stringEnd(b, i);
    return end < 0 ? -1 : end + 1;
  }
  let depth = 0;
  for (let j = i; j < b.length; j++) {
    const c = b[j];
    if (c === QUOTE_BYTE) {
      j = stringEnd(b, j);
      if (j < 0) return -1;
    } else if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) {
      if (depth === 0) return j;
      depth--;
      if (depth === 0) return j + 1;
    } else if (c === 44 && depth === 0) return j;
  }
  return -1;
}

function plainAscii(b: Uint8Array, start: number, end: number): boolean {
  for (let j = start; j < end; j++) if (b[j]! < 32 || b[j]! > 126 || b[j] === BACKSLASH) return false;
  return true;
}

function asciiName(b: Uint8Array, start: number, end: number): string | null {
  if (end - start > 16 || !plainAscii(b, start, end)) return null;
  let name = '';
  for (let j = start; j < end; j++) name += String.fromCharCode(b[j]!); // a spread of the bytes cost ~1 µs a key
  return name;
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
