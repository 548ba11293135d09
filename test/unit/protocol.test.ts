import { describe, expect, it } from 'vitest';
import { LineSplitter, decodeJson } from '../../src/protocol/codec.js';
import { isRejection, parseRequest } from '../../src/protocol/messages.js';
import { MAX_BATCH_ENTRIES } from '../../src/protocol/limits.js';

describe('line splitter', () => {
  it('joins lines split across chunks and splits many lines in one chunk', () => {
    const s = new LineSplitter(100);
    expect(s.push(Buffer.from('{"a":'))).toEqual([]);
    const frames = s.push(Buffer.from('1}\n{"b":2}\n{"c"'));
    expect(frames.map((f) => (f.kind === 'line' ? Buffer.from(f.bytes).toString() : f.kind))).toEqual(['{"a":1}', '{"b":2}']);
    expect(s.buffered).toBe(4);
  });

  it('reports an oversized line once and resynchronizes at its newline', () => {
    const s = new LineSplitter(10);
    const frames = [...s.push(Buffer.from('x'.repeat(8))), ...s.push(Buffer.from('y'.repeat(8))), ...s.push(Buffer.from('zz\nok\n'))];
    expect(frames.map((f) => (f.kind === 'line' ? Buffer.from(f.bytes).toString() : f.kind))).toEqual(['oversized', 'ok']);
    expect(s.buffered).toBe(0);
  });

  it('decodes only strict UTF-8 JSON', () => {
    expect(decodeJson(Buffer.from('{"a":1}'))).toEqual({ a: 1 });
    expect(decodeJson(Buffer.from([0x7b, 0xff, 0x7d]))).toBeUndefined();
    expect(decodeJson(Buffer.from('{'))).toBeUndefined();
  });
});

describe('request gates', () => {
  const reject = (doc: unknown) => {
    const r = parseRequest(doc);
    return isRejection(r) ? [r.id, r.code] : 'accepted';
  };
  it('checks shape, version, id, op and fields in order', () => {
    expect(reject([1])).toEqual([null, 'bad_request']);
    expect(reject({ v: 2, id: 7, op: 'get' })).toEqual([7, 'unsupported_version']);
    expect(reject({ v: 1, id: -1, op: 'get' })).toEqual([null, 'bad_request']);
    expect(reject({ v: 1, id: 1e400, op: 'get' })).toEqual([null, 'bad_request']);
    expect(reject({ v: 1, id: 3, op: 'explode' })).toEqual([3, 'unknown_op']);
    expect(reject({ v: 1, id: 3, op: 'get', name: 'x', extra: 1 })).toEqual([3, 'bad_request']);
    expect(reject({ v: 1, id: 3, op: 'get', name: '../x' })).toEqual([3, 'invalid_name']);
    expect(reject({ v: 1, id: 3, op: 'set', name: 'x', value: 'not base64!' })).toEqual([3, 'bad_request']);
    expect(reject({ v: 1, id: 3, op: 'set', name: 'x', value: 'A'.repeat(1398108) })).toEqual([3, 'too_large']);
    expect(reject({ v: 1, id: 3, op: 'unlock', key: 'AAAA' })).toEqual([3, 'bad_request']);
    expect(reject({ v: 1, id: 3, op: 'unlock', key: Buffer.alloc(32).toString('base64'), lifetime: 0 })).toEqual([3, 'bad_request']);
    expect(reject({ v: 1, id: 3, op: 'get', name: 'x' })).toBe('accepted');
  });

  it('list details is a boolean; set_many takes 1..MAX_BATCH_ENTRIES distinct, valid entries', () => {
    expect(reject({ v: 1, id: 3, op: 'list', details: 'yes' })).toEqual([3, 'bad_request']);
    expect(reject({ v: 1, id: 3, op: 'list', details: true })).toBe('accepted');
    const entry = (name: string) => ({ name, value: 'dg==' });
    expect(reject({ v: 1, id: 3, op: 'set_many', entries: [] })).toEqual([3, 'bad_request']);
    expect(reject({ v: 1, id: 3, op: 'set_many', entries: {} })).toEqual([3, 'bad_request']);
    expect(reject({ v: 1, id: 3, op: 'set_many', entries: [entry('a'), entry('a')] })).toEqual([3, 'bad_request']);
    expect(reject({ v: 1, id: 3, op: 'set_many', entries: [{ ...entry('a'), as: 'root' }] })).toEqual([3, 'bad_request']);
    expect(reject({ v: 1, id: 3, op: 'set_many', entries: [entry('a'), entry('../b')] })).toEqual([3, 'invalid_name']);
    expect(reject({ v: 1, id: 3, op: 'set_many', entries: [entry('a'), { name: 'b', value: '!' }] })).toEqual([3, 'bad_request']);
    expect(reject({ v: 1, id: 3, op: 'set_many', entries: Array.from({ length: MAX_BATCH_ENTRIES + 1 }, (_, i) => entry(`n${i}`)) })).toEqual([3, 'bad_request']);
    expect(reject({ v: 1, id: 3, op: 'set_many', entries: [entry('a'), entry('b')] })).toBe('accepted');
  });
});
