import { describe, expect, it } from 'vitest';
import { Base64Bytes, FIRST_PARTIAL_BYTES, LineSplitter, SecretBytes, decodeJson, decodeRequestLine, encodeReply } from '../../src/protocol/codec.js';
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

  it('assembles a line fed a byte a chunk past several doublings of its buffer, and wipes each chunk it copied', () => {
    const s = new LineSplitter(3 * FIRST_PARTIAL_BYTES);
    const line = Buffer.from(Array.from({ length: 2 * FIRST_PARTIAL_BYTES + 7 }, (_, i) => 97 + (i % 26)));
    const chunks = [...line].map((b) => Buffer.from([b]));
    for (const chunk of chunks) expect(s.push(chunk)).toEqual([]);
    expect(s.buffered).toBe(line.length);
    expect(chunks.every((c) => c[0] === 0)).toBe(true);
    const [frame] = s.push(Buffer.from('\n'));
    expect(frame?.kind === 'line' && Buffer.from(frame.bytes).equals(line)).toBe(true);
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
    expect(reject({ v: 1, id: 3, op: 'policy_apply' })).toEqual([3, 'bad_request']);
    expect(reject({ v: 1, id: 3, op: 'policy_apply', text: 'x'.repeat(64 * 1024 + 1) })).toEqual([3, 'too_large']);
    expect(reject({ v: 1, id: 3, op: 'policy_apply', text: 'default_policy: allow\n' })).toBe('accepted');
    expect(reject({ v: 1, id: 3, op: 'audit_verify', extra: 1 })).toEqual([3, 'bad_request']);
    expect(reject({ v: 1, id: 3, op: 'get', name: 'x' })).toBe('accepted');
  });

  it('unlock idle is whole seconds; list details is a boolean; set_many takes 1..MAX_BATCH_ENTRIES distinct, valid entries', () => {
    expect(reject({ v: 1, id: 3, op: 'list', details: 'yes' })).toEqual([3, 'bad_request']);
    const key = Buffer.alloc(32).toString('base64');
    expect(reject({ v: 1, id: 3, op: 'unlock', key, idle: 0 })).toEqual([3, 'bad_request']);
    expect(reject({ v: 1, id: 3, op: 'unlock', key, idle: 1.5 })).toEqual([3, 'bad_request']);
    expect(reject({ v: 1, id: 3, op: 'unlock', key, idle: 900 })).toBe('accepted');
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

describe('secret fields as bytes', () => {
  it('cuts key and value out of a request line before it becomes text, and blanks them there', () => {
    const line = Buffer.from('{"v":1,"id":2,"op":"set","name":"a","value":"aHVudGVyMg=="}');
    const doc = decodeRequestLine(line) as Record<string, unknown>;
    expect(doc.value).toBeInstanceOf(Base64Bytes);
    expect(Buffer.from((doc.value as Base64Bytes).ascii).toString()).toBe('aHVudGVyMg==');
    expect(line.toString()).not.toContain('aHVudGVyMg');
    const request = parseRequest(doc);
    expect(!isRejection(request) && request.op === 'set' && Buffer.from(request.value).toString()).toBe('hunter2');
  });

  it("cuts both of rotate's keys out of the line, and parses them to 32 bytes each", () => {
    const oldKey = Buffer.alloc(32, 1).toString('base64');
    const newKey = Buffer.alloc(32, 2).toString('base64');
    const line = Buffer.from(JSON.stringify({ v: 1, id: 4, op: 'rotate', old_key: oldKey, key: newKey, master_key: '{}', replaces: '0'.repeat(64) }));
    const doc = decodeRequestLine(line) as Record<string, unknown>;
    expect(doc.old_key).toBeInstanceOf(Base64Bytes);
    expect(doc.key).toBeInstanceOf(Base64Bytes);
    expect(line.toString()).not.toContain(oldKey);
    expect(line.toString()).not.toContain(newKey);
    const request = parseRequest(doc);
    if (isRejection(request) || request.op !== 'rotate') throw new Error(`rejected: ${JSON.stringify(request)}`);
    expect(Buffer.from(request.oldKey).equals(Buffer.alloc(32, 1))).toBe(true);
    expect(Buffer.from(request.key).equals(Buffer.alloc(32, 2))).toBe(true);
  });

  it('judges every other line exactly as the JSON parser does', () => {
    const same = ['{"v":1,"op":"set","value":"a\\u0041"}', '{"value":{"x":["]"]},"key":1}', '{"value":"x","value":"AAAA"}', '[1,"value"]', '{"value": "ok" , "n":[1,{"a":"}"}]}', '{"value":"\u00e9"}', '{'];
    for (const text of same) {
      const doc = decodeRequestLine(Buffer.from(text));
      const plain = decodeJson(Buffer.from(text));
      const flat = (d: unknown) => JSON.stringify(d, (_k, v: unknown) => (v instanceof Base64Bytes ? Buffer.from(v.ascii).toString() : v));
      expect(flat(doc), text).toBe(flat(plain));
    }
  });

  it('splices a reply value in as bytes and wipes it after the write', () => {
    const ascii = new Uint8Array(Buffer.from('aHVudGVyMg=='));
    const line = encodeReply({ v: 1, id: 3, ok: true, value: new Base64Bytes(ascii) });
    expect(JSON.parse(Buffer.from(line.bytes).toString())).toEqual({ v: 1, id: 3, ok: true, value: 'aHVudGVyMg==' });
    expect(Buffer.from(line.bytes).toString().endsWith('}\n')).toBe(true);
    line.wipe();
    expect(line.bytes.every((b) => b === 0) && ascii.every((b) => b === 0)).toBe(true);
    expect(Buffer.from(encodeReply({ ok: true }).bytes).toString()).toBe('{"ok":true}\n');
    expect(Buffer.from(encodeReply({ value: new Base64Bytes(new Uint8Array(Buffer.from('AA=='))) }).bytes).toString()).toBe('{"value":"AA=="}\n');
  });

  it('writes SecretBytes as base64 straight into the line, the same bytes as Base64Bytes, and wipes them at once', () => {
    for (const size of [0, 1, 2, 3, 7, 64, 1000]) {
      const raw = new Uint8Array(size).map((_, i) => (i * 37 + 11) & 255);
      const expected = Buffer.from(encodeReply({ v: 1, id: 9, ok: true, value: new Base64Bytes(new Uint8Array(Buffer.from(Buffer.from(raw).toString('base64')))) }).bytes).toString();
      const line = encodeReply({ v: 1, id: 9, ok: true, value: new SecretBytes(raw) });
      expect(Buffer.from(line.bytes).toString()).toBe(expected);
      expect(JSON.parse(expected).value).toBe(Buffer.from(new Uint8Array(size).map((_, i) => (i * 37 + 11) & 255)).toString('base64'));
      expect(raw.every((b) => b === 0)).toBe(true);
      line.wipe();
      expect(line.bytes.every((b) => b === 0)).toBe(true);
    }
    const two = encodeReply({ a: new SecretBytes(new Uint8Array([1])), b: 'x', c: new Base64Bytes(new Uint8Array(Buffer.from('Ag=='))) });
    expect(JSON.parse(Buffer.from(two.bytes).toString())).toEqual({ b: 'x', a: 'AQ==', c: 'Ag==' });
  });
});
