// The agent protocol against a real agent: the vectors of test/vectors/protocol (docs/PROTOCOL.md),
// then the bounds: garbage closes a connection but never the agent, connections are capped and
// recover, pipelined requests are answered in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { alive, cli, makeEnv, startAgent, type TestEnv } from '../helpers/cli.js';
import { BUSY_HINT } from '../../src/cli/render.js';
import { Wire } from '../helpers/wire.js';
import { MAX_BAD_FRAMES, MAX_CONNECTIONS } from '../../src/protocol/limits.js';

const VECTORS = path.join(__dirname, '../vectors/protocol');
const VAULT = JSON.parse(fs.readFileSync(path.join(__dirname, '../vectors/vault/ok-basic.json'), 'utf8'));
const MASTER_KEY = Buffer.from(VAULT.master_key_hex, 'hex').toString('base64');

interface Step {
  comment?: string;
  send?: Record<string, unknown>;
  raw?: string;
  raw_base64?: string;
  raw_repeat?: { text: string; count: number; then: string };
  expect?: unknown;
  expect_close?: boolean;
}

/** Matches a reply against an expectation: exact values, or <any>, <string>, <number>, <iso-time>. */
function matches(actual: unknown, expected: unknown, where: string): void {
  if (expected === '<any>') return;
  if (expected === '<string>') return void expect(typeof actual, where).toBe('string');
  if (expected === '<number>') return void expect(typeof actual, where).toBe('number');
  if (expected === '<iso-time>') return void expect(actual, where).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual) && actual.length, `${where} length`).toBe(expected.length);
    expected.forEach((e, i) => matches((actual as unknown[])[i], e, `${where}[${i}]`));
    return;
  }
  if (expected && typeof expected === 'object') {
    expect(actual, where).toBeTypeOf('object');
    expect(Object.keys(actual as object).sort(), `${where} keys`).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) matches((actual as Record<string, unknown>)[k], v, `${where}.${k}`);
    return;
  }
  expect(actual, where).toEqual(expected);
}

let t: TestEnv;
let socket: string;
let pid: number;
beforeAll(async () => {
  t = makeEnv();
  fs.mkdirSync(t.home, { mode: 0o700 });
  fs.writeFileSync(path.join(t.home, 'master_key.enc'), VAULT['master_key.enc'], { mode: 0o600 });
  fs.writeFileSync(path.join(t.home, 'secrets.encrypted'), VAULT['secrets.encrypted'], { mode: 0o600 });
  ({ socket, pid } = await startAgent(t.env));
});
afterAll(() => t.cleanup());

async function runVectors(file: string): Promise<void> {
  const steps = fs.readFileSync(path.join(VECTORS, file), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Step);
  const wire = await Wire.connect(socket);
  try {
    for (const [i, step] of steps.entries()) {
      const where = `${file}:${i + 1}${step.comment ? ` (${step.comment})` : ''}`;
      if (step.send) wire.send(`${JSON.stringify(step.send).replace('"<vector:master_key>"', JSON.stringify(MASTER_KEY))}\n`);
      if (step.raw) wire.send(step.raw);
      if (step.raw_base64) wire.send(Buffer.from(step.raw_base64, 'base64'));
      if (step.raw_repeat) wire.send(step.raw_repeat.text.repeat(step.raw_repeat.count) + step.raw_repeat.then);
      if (step.expect !== undefined) matches(await wire.reply(), step.expect, where);
      if (step.expect_close) await wire.waitClosed();
    }
  } finally {
    wire.close();
  }
}

describe('protocol vectors', () => {
  it('session.jsonl: every op, the lock gate, error replies', async () => {
    await runVectors('session.jsonl');
  });

  it('get-many.jsonl: several values in one reply, a prefix up to the first name its own get would refuse', async () => {
    await runVectors('get-many.jsonl');
  });

  it(`bad-frames.jsonl: garbage gets error replies, and the ${MAX_BAD_FRAMES}th closes the connection`, async () => {
    await runVectors('bad-frames.jsonl');
    expect(alive(pid)).toBe(true);
    const wire = await Wire.connect(socket);
    wire.request({ v: 1, id: 1, op: 'hello' });
    expect(await wire.reply()).toMatchObject({ ok: true, pid });
    wire.close();
  });
});

describe('bounds', () => {
  it('answers pipelined requests in order', async () => {
    const wire = await Wire.connect(socket);
    wire.send(Array.from({ length: 50 }, (_, i) => JSON.stringify({ v: 1, id: i, op: i % 2 ? 'status' : 'hello' })).join('\n') + '\n');
    for (let i = 0; i < 50; i++) expect((await wire.reply()).id).toBe(i);
    wire.close();
  });

  it(`caps connections at ${MAX_CONNECTIONS}: the next gets "busy" and is closed; the agent recovers`, async () => {
    const held: Wire[] = [];
    for (let i = 0; i < MAX_CONNECTIONS; i++) {
      const w = await Wire.connect(socket);
      w.request({ v: 1, id: i, op: 'hello' });
      held.push(w);
    }
    for (const w of held) expect((await w.reply()).ok).toBe(true);
    const extra = await Wire.connect(socket);
    expect(await extra.reply()).toMatchObject({ id: null, ok: false, error: { code: 'busy' } });
    await extra.waitClosed();
    // The CLI says so in one line and names the way out (before: no hint).
    const cliBusy = await cli(t.env, ['get', 'x']);
    expect(cliBusy.code).toBe(1);
    expect(cliBusy.stderr).toBe(`glassdome: the agent serves at most ${MAX_CONNECTIONS} connections at once\nglassdome: hint: ${BUSY_HINT}\n`);
    for (const w of held) w.close();
    await new Promise((r) => setTimeout(r, 200));
    const after = await Wire.connect(socket);
    after.request({ v: 1, id: 1, op: 'hello' });
    expect(await after.reply()).toMatchObject({ ok: true });
    after.close();
  });

  it('a connection closed for garbage is drained and closed even while its client keeps writing', async () => {
    const s = net.connect(socket);
    await new Promise((r) => s.once('connect', r));
    const closed = new Promise((r) => s.once('close', r));
    s.on('error', () => undefined);
    s.resume(); // read (and drop) the replies, so the agent's end of the connection is seen
    s.write('junk\n'.repeat(MAX_BAD_FRAMES) + 'x'.repeat(4 * 1024 * 1024)); // more than socket buffers hold
    await closed; // without draining, the client would wait forever on its write
    expect(alive(pid)).toBe(true);
  });

  it('a client that vanishes mid-line or mid-reply leaves the agent serving', async () => {
    for (let i = 0; i < 20; i++) {
      const w = await Wire.connect(socket);
      w.send('{"v":1,"id":1,"op":"get","na');
      w.close();
      const v = await Wire.connect(socket);
      v.send(`${JSON.stringify({ v: 1, id: 2, op: 'hello' })}\n`.repeat(200));
      v.close();
    }
    const w = await Wire.connect(socket);
    w.request({ v: 1, id: 3, op: 'hello' });
    expect(await w.reply()).toMatchObject({ ok: true, id: 3 });
    w.close();
    expect(alive(pid)).toBe(true);
  });
});
