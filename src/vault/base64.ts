// Strict base64 (RFC 4648 §4, standard alphabet, with padding) between bytes and strings. Pure.
// Decoding accepts only the canonical encoding: no whitespace, no missing or extra padding, and
// zero bits in the unused tail, so one byte string has exactly one accepted text.

import { secretBuffer } from './bytes.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;
const CODES = new TextEncoder().encode(ALPHABET);

/** Encodes bytes as canonical base64. */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  const n = bytes.length;
  const chunk: string[] = [];
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    chunk.push(ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + ALPHABET[(v >> 6) & 63]! + ALPHABET[v & 63]!);
    if (chunk.length === 4096) {
      out += chunk.join('');
      chunk.length = 0;
    }
  }
  out += chunk.join('');
  const rest = n - i;
  if (rest === 1) {
    const v = bytes[i]! << 16;
    out += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + '==';
  } else if (rest === 2) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + ALPHABET[(v >> 6) & 63]! + '=';
  }
  return out;
}

/** Encodes bytes as canonical base64 held in bytes (ASCII), so the text never becomes a JS string. */
export function toBase64Bytes(bytes: Uint8Array): Uint8Array {
  const out = secretBuffer(base64Length(bytes.length));
  writeBase64(bytes, out, 0);
  return out;
}

/** The length of the base64 text of `n` bytes. */
export function base64Length(n: number): number {
  return Math.ceil(n / 3) * 4;
}

/** Writes the canonical base64 of `bytes` as ASCII into `out` at `offset`; returns the offset after it. */
export function writeBase64(bytes: Uint8Array, out: Uint8Array, offset: number): number {
  const n = bytes.length;
  let o = offset;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = CODES[v >> 18]!;
    out[o++] = CODES[(v >> 12) & 63]!;
    out[o++] = CODES[(v >> 6) & 63]!;
    out[o++] = CODES[v & 63]!;
  }
  const rest = n - i;
  if (rest > 0) {
    const v = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    out[o++] = CODES[v >> 18]!;
    out[o++] = CODES[(v >> 12) & 63]!;
    out[o++] = rest === 2 ? CODES[(v >> 6) & 63]! : 61;
    out[o++] = 61;
  }
  return o;
}

/**
 * Decodes canonical base64, or returns null for anything else. The text may be a string or its
 * ASCII bytes (a key or value cut out of a request line before it was ever a JS string).
 */
export function fromBase64(text: string | Uint8Array): Uint8Array | null {
  const len = text.length;
  if (len % 4 !== 0) return null;
  let pad = 0;
  const code = typeof text === 'string' ? (i: number) => text.charCodeAt(i) : (i: number) => text[i]!;
  if (len > 0 && code(len - 1) === 61) pad = code(len - 2) === 61 ? 2 : 1;
  const out = secretBuffer((len / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < len; i += 4) {
    const last = i + 4 === len;
    const c0 = sextet(code(i));
    const c1 = sextet(code(i + 1));
    const c2 = last && pad === 2 ? 0 : sextet(code(i + 2));
    const c3 = last && pad >= 1 ? 0 : sextet(code(i + 3));
    if ((c0 | c1 | c2 | c3) < 0) return null;
    const v = (c0 << 18) | (c1 << 12) | (c2 << 6) | c3;
    out[o++] = v >> 16;
    if (last && pad === 2) {
      if ((c1 & 15) !== 0) return null;
      break;
    }
    out[o++] = (v >> 8) & 255;
    if (last && pad === 1) {
      if ((c2 & 3) !== 0) return null;
      break;
    }
    out[o++] = v & 255;
  }
  return out;
}

function sextet(c: number): number {
  return c < 128 ? DECODE[c]! : -1;
}
