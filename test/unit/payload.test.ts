import { describe, expect, it } from 'vitest';
import { decodePayload, decodeVaultPayload, encodePayload, encodeVaultPayload, MAX_POLICY_BYTES, wipeMap, type SecretMap } from '../../src/vault/payload.js';
import { GlassdomeError } from '../../src/errors.js';

const sample = (): SecretMap =>
  new Map([
    ['b', { value: Buffer.from('two'), created: 2, updated: 3 }],
    ['a/x.y-z_1', { value: new Uint8Array([0, 255, 10]), created: 1, updated: 1 }],
    ['empty', { value: new Uint8Array(0), created: 5, updated: 6 }],
  ]);

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as GlassdomeError).code;
  }
  return undefined;
}

describe('payload', () => {
  it('round-trips and sorts by name', () => {
    const bytes = encodePayload(sample());
    const back = decodePayload(bytes);
    expect([...back.keys()]).toEqual(['a/x.y-z_1', 'b', 'empty']);
    expect(Buffer.from(back.get('a/x.y-z_1')!.value)).toEqual(Buffer.from([0, 255, 10]));
    expect(back.get('b')).toMatchObject({ created: 2, updated: 3 });
    expect(encodePayload(back)).toEqual(bytes);
  });

  it('decodes every value into one buffer apart from the input, which wiping the map zeroes', () => {
    const bytes = encodePayload(sample());
    const back = decodePayload(bytes);
    const values = [...back.values()].map((e) => e.value);
    const buffer = values[0]!.buffer;
    expect(values.every((v) => v.buffer === buffer)).toBe(true); // one allocation, not one per secret
    expect(buffer).not.toBe(bytes.buffer); // the caller wipes its plaintext; the values outlive it
    expect(buffer.byteLength).toBe(6); // the values' bytes alone, no names or times
    bytes.fill(0);
    expect(Buffer.from(back.get('b')!.value).toString()).toBe('two');
    wipeMap(back);
    expect(new Uint8Array(buffer).every((b) => b === 0)).toBe(true);
  });

  it('rejects truncation, trailing bytes and disorder as corrupt', () => {
    const bytes = encodePayload(sample());
    for (let n = 0; n < bytes.length; n++) expect(code(() => decodePayload(bytes.subarray(0, n))), `length ${n}`).toBe('corrupt');
    expect(code(() => decodePayload(Buffer.concat([bytes, Buffer.from([0])])))).toBe('corrupt');
    const one = encodePayload(new Map([['a', { value: Buffer.from('1'), created: 1, updated: 1 }]]));
    const two = Buffer.concat([Buffer.from([2, 0, 0, 0]), one.subarray(4), one.subarray(4)]);
    expect(code(() => decodePayload(two))).toBe('corrupt'); // duplicate name
  });

  it('rejects an invalid name', () => {
    const bytes = Buffer.from(encodePayload(new Map([['a', { value: Buffer.from('1'), created: 1, updated: 1 }]])));
    bytes[5] = '-'.charCodeAt(0);
    expect(code(() => decodePayload(bytes))).toBe('corrupt');
  });
});

describe('version 2 payload: map, sealed policy, audit anchor', () => {
  it('round-trips every combination and rejects what the encoder never makes', () => {
    const anchor = { lines: 9, hash: new Uint8Array(32).fill(3) };
    for (const [policy, a] of [[null, null], ['default_policy: allow\n', null], [null, anchor], ['', anchor]] as const) {
      const bytes = encodeVaultPayload({ map: sample(), policy, anchor: a });
      const back = decodeVaultPayload(bytes, 2);
      expect(back.policy).toBe(policy);
      expect(back.anchor && { lines: back.anchor.lines, hash: [...back.anchor.hash] }).toEqual(a && { lines: a.lines, hash: [...a.hash] });
      expect(encodeVaultPayload(back)).toEqual(bytes);
      for (let n = encodePayload(sample()).length; n < bytes.length; n++) expect(code(() => decodeVaultPayload(bytes.subarray(0, n), 2)), `length ${n}`).toBe('corrupt');
    }
    expect(code(() => decodeVaultPayload(encodePayload(sample()), 2))).toBe('corrupt'); // a v1 payload has no flags
    expect(decodeVaultPayload(encodePayload(sample()), 1)).toMatchObject({ policy: null, anchor: null });
    const bad = Buffer.concat([encodePayload(sample()), Buffer.from([1, 2, 0, 0, 0, 0xff, 0xfe, 0])]);
    expect(code(() => decodeVaultPayload(bad, 2))).toBe('corrupt'); // a policy that is not UTF-8
    expect(code(() => encodeVaultPayload({ map: new Map(), policy: 'x'.repeat(MAX_POLICY_BYTES + 1), anchor: null }))).toBe('too_large');
  });
});
