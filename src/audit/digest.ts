// The audit chain's digests (docs/AUDIT.md): SHA-256 of a line, HMAC-SHA-256 of its body, and the
// random prefix of event ids, through OpenSSL (node:crypto), fast under the agent's load. The CLI's
// keyring bundle swaps in digest-js.ts (scripts/bundle.js), which gives the same bytes without
// loading node:crypto; test/unit/digest.test.ts holds the two to each other.

import crypto from 'node:crypto';

/** SHA-256 of a text's UTF-8 bytes, in hex (one-shot `crypto.hash`: half the cost of a Hash object). */
export function sha256Hex(text: string): string {
  return crypto.hash('sha256', text, 'hex');
}

/** SHA-256 of bytes, as `crypto.hash` gives it: hex, a latin1 ('binary') string, or a Buffer. */
export function sha256(data: Uint8Array, encoding: 'hex' | 'binary'): string;
export function sha256(data: Uint8Array, encoding: 'buffer'): Buffer;
export function sha256(data: Uint8Array, encoding: 'hex' | 'binary' | 'buffer'): string | Buffer {
  return crypto.hash('sha256', data, encoding as 'hex');
}

/** HMAC-SHA-256 under `key` of `domain` then `body` (both as UTF-8), in hex: about 2 µs a line. */
export function hmacSha256Hex(key: Uint8Array, domain: string, body: string): string {
  return crypto.createHmac('sha256', key).update(domain, 'utf8').update(body, 'utf8').digest('hex');
}

/** `bytes` random bytes from the platform CSPRNG, in hex. */
export function randomHex(bytes: number): string {
  return crypto.randomBytes(bytes).toString('hex');
}
