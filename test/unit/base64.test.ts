import { describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import { fromBase64, toBase64, toBase64Bytes } from '../../src/vault/base64.js';

describe('base64', () => {
  it('matches Node for every length up to 70 and a large buffer', () => {
    for (let n = 0; n <= 70; n++) {
      const b = crypto.randomBytes(n);
      expect(toBase64(b)).toBe(b.toString('base64'));
      expect(Buffer.from(fromBase64(b.toString('base64'))!)).toEqual(b);
      expect(Buffer.from(toBase64Bytes(b)).toString()).toBe(b.toString('base64'));
      expect(Buffer.from(fromBase64(Buffer.from(b.toString('base64')))!)).toEqual(b);
    }
    const big = crypto.randomBytes(1024 * 1024 + 1);
    expect(toBase64(big)).toBe(big.toString('base64'));
  });

  it('accepts only the canonical encoding', () => {
    for (const bad of ['A', 'AA', 'AAA', 'AB==', 'AAB=', 'A===', '====', 'AA=A', 'AAAA====', ' AAAA', 'AA AA', 'AA\nAA', 'AA-_', 'AAA=AAAA', 'É===']) {
      expect(fromBase64(bad), bad).toBeNull();
      expect(fromBase64(Buffer.from(bad)), bad).toBeNull();
    }
    expect(fromBase64('')).toEqual(new Uint8Array(0));
    expect(Buffer.from(fromBase64('AA==')!)).toEqual(Buffer.from([0]));
    expect(Buffer.from(fromBase64('AAE=')!)).toEqual(Buffer.from([0, 1]));
  });
});
