// The audit chain's digests in both forms: digest.ts (node:crypto, the agent's) and digest-js.ts
// (@noble, which the CLI's keyring bundle swaps in) must give the same bytes for any line, or a
// chain written by one would not verify under the other.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import * as openssl from '../../src/audit/digest.js';
import * as js from '../../src/audit/digest-js.js';
import { buildLine, GENESIS, verifyChain } from '../../src/audit/chain.js';

describe('audit digests: OpenSSL and JavaScript', () => {
  it('SHA-256 and HMAC-SHA-256 agree on edge lengths and on any text, lone surrogates included', () => {
    const key = new Uint8Array(32).fill(9);
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000]) {
      const text = 'é'.repeat(n >> 1) + 'x'.repeat(n & 1);
      expect(js.sha256Hex(text)).toBe(openssl.sha256Hex(text));
      expect(js.hmacSha256Hex(key, 'glassdome/audit/v1\n', text)).toBe(openssl.hmacSha256Hex(key, 'glassdome/audit/v1\n', text));
    }
    expect(js.sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'); // FIPS 180-2 B.1
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.uint8Array({ minLength: 0, maxLength: 100 }), (text, k) => {
        expect(js.sha256Hex(text)).toBe(openssl.sha256Hex(text));
        expect(js.hmacSha256Hex(k, 'd\u2028', text)).toBe(openssl.hmacSha256Hex(k, 'd\u2028', text));
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const encoding of ['hex', 'binary'] as const) expect(js.sha256(bytes, encoding)).toBe(openssl.sha256(bytes, encoding));
        expect(js.sha256(bytes, 'buffer')).toEqual(openssl.sha256(bytes, 'buffer'));
      }),
    );
  });

  it('random prefixes are hex of the asked length, and differ', () => {
    const a = js.randomHex(4);
    expect(a).toMatch(/^[0-9a-f]{8}$/);
    expect(new Set(Array.from({ length: 20 }, () => js.randomHex(8))).size).toBe(20);
  });

  it('the keyring bundle carries the JavaScript form and loads no node:crypto at start', () => {
    const bundle = fs.readFileSync(path.join(__dirname, '../../dist/cli/lean-keyring.js'), 'utf8');
    expect(bundle).toContain('// src/audit/digest-js.ts');
    expect(bundle).not.toContain('// src/audit/digest.ts');
    expect(bundle).not.toMatch(/^var \w+ = __builtin\(require\("node:crypto"\)\)/m);
  });

  it('a chain keyed by one form verifies as written', () => {
    const key = new Uint8Array(32).fill(3);
    const event = { timestamp: '2026-01-01T00:00:00.000Z', event_id: 'evt_1', event_type: 'secret_access', client: null, action: 'get', resource: 'ключ', result: 'success' };
    const line = buildLine(event, 1, GENESIS, key);
    expect(verifyChain([{ name: 'audit.log', lines: [line] }], false, { key, anchor: null }).broken).toBeNull();
    const body = `${line.slice(0, line.indexOf(',"mac":'))}}`;
    expect(line).toContain(`"mac":"${js.hmacSha256Hex(key, 'glassdome/audit/v1\n', body)}"`);
  });
});
