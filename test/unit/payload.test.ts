import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload, type SecretMap } from '../../src/vault/payload.js';
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
