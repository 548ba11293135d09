// digest.ts in JavaScript, for the CLI's keyring fallback (swapped in by scripts/bundle.js): the
// same SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), and random bytes read from /dev/urandom.
// node:crypto costs ~3.5 ms to load (it loads node:stream), more than one command's few lines
// take to hash; the agent, which writes thousands, keeps OpenSSL. Written out here rather than
// taken from @noble/hashes: a command runs these once, in V8's interpreter, where @noble's
// generic hash classes cost ~0.6 ms a line and this straight loop ~0.15 ms (measured).
// test/unit/digest.test.ts holds every output to OpenSSL's. No branch or index depends on the data.

import fs from 'node:fs';

/** SHA-256's round constants (FIPS 180-4 §4.2.2), read as signed 32-bit words. */
const K = new Int32Array(
  Uint32Array.of(
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ).buffer,
);

/** SHA-256's initial hash value (FIPS 180-4 §5.3.3). */
const H0 = new Int32Array(Uint32Array.of(0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19).buffer);

/** Bytes in a SHA-256 block. */
const BLOCK_BYTES = 64;

/** SHA-256 of the concatenation of `parts`. */
function sha256Bytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const padded = new Uint8Array(Math.ceil((length + 9) / BLOCK_BYTES) * BLOCK_BYTES);
  let off = 0;
  for (const p of parts) {
    padded.set(p, off);
    off += p.length;
  }
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(length / 0x20000000)); // the length in bits, big-endian
  view.setUint32(padded.length - 4, (length * 8) >>> 0);
  const h = Int32Array.from(H0);
  const w = new Int32Array(64);
  for (let block = 0; block < padded.length; block += BLOCK_BYTES) {
    for (let i = 0; i < 16; i++) w[i] = view.getInt32(block + i * 4);
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (s0 + s1 + w[i - 7]! + w[i - 16]!) | 0;
    }
    let a = h[0]!;
    let b = h[1]!;
    let c = h[2]!;
    let d = h[3]!;
    let e = h[4]!;
    let f = h[5]!;
    let g = h[6]!;
    let hh = h[7]!;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
      const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d! + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] = h[0]! + a;
    h[1] = h[1]! + b;
    h[2] = h[2]! + c;
    h[3] = h[3]! + d;
    h[4] = h[4]! + e;
    h[5] = h[5]! + f;
    h[6] = h[6]! + g;
    h[7] = h[7]! + hh;
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) outView.setInt32(i * 4, h[i]!);
  padded.fill(0);
  w.fill(0);
  return out;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** SHA-256 of a text's UTF-8 bytes, in hex. */
export function sha256Hex(text: string): string {
  return hex(sha256Bytes([Buffer.from(text, 'utf8')]));
}

/** SHA-256 of bytes, as `crypto.hash` gives it: hex, a latin1 ('binary') string, or a Buffer. */
export function sha256(data: Uint8Array, encoding: 'hex' | 'binary'): string;
export function sha256(data: Uint8Array, encoding: 'buffer'): Buffer;
export function sha256(data: Uint8Array, encoding: 'hex' | 'binary' | 'buffer'): string | Buffer {
  const digest = sha256Bytes([data]);
  const buffer = Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength);
  return encoding === 'buffer' ? buffer : buffer.toString(encoding === 'hex' ? 'hex' : 'latin1');
}

/** HMAC-SHA-256 under `key` of `domain` then `body` (both as UTF-8), in hex. */
export function hmacSha256Hex(key: Uint8Array, domain: string, body: string): string {
  const k = new Uint8Array(BLOCK_BYTES);
  k.set(key.length > BLOCK_BYTES ? sha256Bytes([key]) : key);
  const inner = k.map((x) => x ^ 0x36);
  const outer = k.map((x) => x ^ 0x5c);
  const innerHash = sha256Bytes([inner, Buffer.from(domain, 'utf8'), Buffer.from(body, 'utf8')]);
  const mac = hex(sha256Bytes([outer, innerHash]));
  for (const secret of [k, inner, outer, innerHash]) secret.fill(0);
  return mac;
}

/** `bytes` random bytes from the kernel's CSPRNG, in hex (node:crypto's where /dev/urandom cannot be read). */
export function randomHex(bytes: number): string {
  const out = Buffer.alloc(bytes);
  try {
    const fd = fs.openSync('/dev/urandom', fs.constants.O_RDONLY);
    try {
      for (let off = 0; off < bytes; ) {
        const n = fs.readSync(fd, out, off, bytes - off, null);
        if (n <= 0) throw new Error('short read from /dev/urandom');
        off += n;
      }
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return (require('node:crypto') as typeof import('node:crypto')).randomBytes(bytes).toString('hex');
  }
  return out.toString('hex');
}
