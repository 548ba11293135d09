// Protocol fuzzing against a real agent: at least 100,000 frames from fast-check (requests with
// wrong types and values, arbitrary JSON) and raw random bytes, invalid UTF-8, deep JSON, huge
// numbers and oversized lines. The agent must never crash, keep its memory bounded, and still
// answer a well-formed request (and hold its secret intact) afterwards.
import { afterAll, beforeAll, expect, it } from 'vitest';
import fc from 'fast-check';
import net from 'node:net';
import { alive, cli, unlock, type TestEnv } from '../helpers/cli.js';
import { loadedAgent, rssMib } from '../helpers/stress.js';
import { Wire } from '../helpers/wire.js';

/** Frames to send; the replies must reach 100,000 (a frame of several lines that closes its connection loses the rest). */
const FRAMES = Number(process.env.STRESS_FRAMES ?? 110_000);
const MIN_REPLIES = Math.min(100_000, FRAMES);
const CONNECTIONS = 8;

let t: TestEnv;
let pid: number;
let socket: string;
beforeAll(async () => {
  ({ t, pid, socket } = await loadedAgent());
  await cli(t.env, ['set', 'fuzz_target'], 'intact-value');
});
afterAll(() => t.cleanup());

const OPS = ['hello', 'status', 'get', 'list', 'set', 'rm', 'lock', 'unlock', 'explode', '', 'GET'];
const anyValue = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.nat(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.nat(), { maxKeys: 2 }));

/** Requests that are nearly right: every field may have the wrong type or value. */
const nearRequest = fc
  .record(
    {
      v: fc.oneof(fc.constant(1), fc.constant(1), anyValue),
      id: fc.oneof(fc.nat(), fc.constant(-1), fc.constant(2 ** 60), anyValue),
      op: fc.oneof(fc.constantFrom(...OPS), anyValue),
      name: fc.oneof(fc.constantFrom('fuzz_target', 'fuzz/other', '../x', ''), fc.string({ maxLength: 140 }), anyValue),
      value: fc.oneof(fc.base64String({ maxLength: 64 }), fc.string({ maxLength: 64 }), anyValue),
      key: fc.oneof(fc.string({ maxLength: 20 }), anyValue), // never a valid 32-byte key: no unlock penalties
      lifetime: anyValue,
      failed: fc.oneof(fc.constant('forgot'), anyValue),
    },
    { requiredKeys: [] },
  )
  .filter((r) => !((r.op === 'set' || r.op === 'rm') && r.name === 'fuzz_target'))
  .map((r) => `${JSON.stringify(r)}\n`);

/** Requests that are right, so connections live long enough to carry many frames. */
const goodRequest = fc.oneof(
  fc.constant('{"v":1,"id":1,"op":"hello"}\n'),
  fc.constant('{"v":1,"id":2,"op":"status"}\n'),
  fc.constant('{"v":1,"id":3,"op":"get","name":"fuzz_target"}\n'),
  fc.constant('{"v":1,"id":4,"op":"list"}\n'),
  fc.constant('{"v":1,"id":5,"op":"get","name":"not_there"}\n'),
);

const rawFrame = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.concat([Buffer.from(b), Buffer.from('\n')])) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(`${JSON.stringify(v) ?? 'null'}\n`)) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.concat([Buffer.from('{"v":1,"id":9,"op":"'), Buffer.from(b.map((x) => x | 0x80)), Buffer.from('"}\n')])) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 60_000 }).map((n) => Buffer.from(`${'['.repeat(n)}${']'.repeat(n)}\n`)) },
  { weight: 1, arbitrary: fc.constantFrom('1e400', '-1e400', '123456789012345678901234567890', 'NaN', '9'.repeat(400)).map((n) => Buffer.from(`{"v":1,"id":${n},"op":"hello"}\n`)) },
);

function sampleFrames(n: number): Buffer[] {
  const frames: Buffer[] = [];
  const near = fc.sample(nearRequest, Math.ceil(n * 0.3));
  const good = fc.sample(goodRequest, Math.ceil(n * 0.45));
  const raw = fc.sample(rawFrame, Math.ceil(n * 0.25));
  for (let i = 0; frames.length < n; i++) {
    const pick = i % 20;
    if (pick < 9) frames.push(Buffer.from(good[i % good.length]!));
    else if (pick < 15) frames.push(Buffer.from(near[i % near.length]!));
    else frames.push(raw[i % raw.length]!);
  }
  for (let i = 0; i < 12; i++) frames.splice(Math.floor((i + 1) * (frames.length / 13)), 0, Buffer.concat([Buffer.alloc(2 * 1024 * 1024 + 1 + i, 'x'), Buffer.from('\n')])); // oversized lines
  return frames;
}

/**
 * Sends frames one at a time and waits for their replies (one per newline), over one connection
 * after another: the agent closes a connection after 8 malformed frames, and lockstep makes sure
 * every frame sent reached its gates.
 */
async function drive(frames: Buffer[]): Promise<{ sent: number; replies: number; connections: number }> {
  let sent = 0;
  let replies = 0;
  let connections = 0;
  let next = 0;
  while (next < frames.length) {
    connections++;
    await new Promise<void>((resolve) => {
      const s = net.connect(socket);
      let closed = false;
      let waiting = 0;
      s.on('data', (c: Buffer) => {
        const got = c.reduce((n, byte) => n + (byte === 10 ? 1 : 0), 0);
        replies += got;
        waiting -= got;
        if (waiting <= 0) send();
      });
      s.on('error', () => undefined);
      s.on('close', () => {
        closed = true;
        resolve();
      });
      const send = (): void => {
        if (closed) return;
        if (next >= frames.length) {
          s.end();
          return;
        }
        const frame = frames[next++]!;
        sent++;
        waiting = frame.reduce((n, byte) => n + (byte === 10 ? 1 : 0), 0);
        s.write(frame);
      };
      s.on('connect', send);
    });
  }
  return { sent, replies, connections };
}

it(`answers ${MIN_REPLIES.toLocaleString('en')}+ fuzzed frames without crashing, stays bounded, and still answers right`, async () => {
  const rssBefore = rssMib(pid);
  const frames = sampleFrames(FRAMES);
  const shares = Array.from({ length: CONNECTIONS }, (_, i) => frames.filter((_, j) => j % CONNECTIONS === i));
  const results = await Promise.all(shares.map(drive));
  const total = results.reduce((a, r) => ({ sent: a.sent + r.sent, replies: a.replies + r.replies, connections: a.connections + r.connections }), { sent: 0, replies: 0, connections: 0 });
  const rssAfter = rssMib(pid);
  console.log(
    `fuzz: ${total.sent.toLocaleString('en')} frames sent (${(frames.reduce((n, f) => n + f.length, 0) / 1048576).toFixed(0)} MiB) over ${total.connections.toLocaleString('en')} connections; ${total.replies.toLocaleString('en')} replies; agent RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB`,
  );
  expect(total.sent).toBeGreaterThanOrEqual(FRAMES);
  expect(total.replies).toBeGreaterThanOrEqual(MIN_REPLIES); // lockstep: frames reached the gates
  expect(alive(pid)).toBe(true);
  expect(rssAfter).toBeLessThan(200);
  expect((await unlock(t.env)).code).toBe(0); // the fuzz may have sent a well-formed lock
  const w = await Wire.connect(socket);
  w.request({ v: 1, id: 1, op: 'get', name: 'fuzz_target' });
  expect(await w.reply()).toMatchObject({ ok: true, value: Buffer.from('intact-value').toString('base64') });
  w.close();
  expect((await cli(t.env, ['audit', 'verify'])).code).toBe(0);
});
