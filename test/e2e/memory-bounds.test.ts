// One connection cannot balloon the agent (issue 9, item 3): the reported attack — 1,400
// pipelined `get`s of a 256 KiB secret in one write, replies never read — replayed against a real
// agent, whose peak resident memory must stay within what the documented per-connection bounds
// allow (16 pending requests, 8 MiB of queued replies), while another client is still served.
// And unfinished lines trickled a byte a chunk (found by h17o): they cost their bytes, not
// some 340 bytes of chunk objects per byte.
import { afterAll, beforeAll, expect, it } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { cli, makeEnv, makeVault, python, startAgent, unlock, waitFor, type TestEnv } from '../helpers/cli.js';
import { Wire } from '../helpers/wire.js';
import { MAX_PENDING_PER_CONNECTION, MAX_QUEUED_REPLY_BYTES } from '../../src/protocol/limits.js';

const VALUE_BYTES = 256 * 1024;
const ATTACK_GETS = 1400;
/** Room for V8's own garbage and one reply being built beyond the bounds (MiB). */
const SLACK_MIB = 40;

let t: TestEnv;
let pid: number;
let socket: string;
let value: string;
beforeAll(async () => {
  t = makeEnv();
  await makeVault(t);
  ({ pid, socket } = await startAgent(t.env));
  expect((await unlock(t.env)).code).toBe(0);
  value = crypto.randomBytes((VALUE_BYTES * 3) / 4).toString('base64'); // 256 KiB of text
  expect((await cli(t.env, ['set', 'big'], value)).code).toBe(0);
});
afterAll(() => t.cleanup());

function status(field: 'VmRSS' | 'VmHWM'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/** CPU ticks the agent has used: unchanged over a few samples means it has stopped working. */
function cpuTicks(): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function settled(): Promise<void> {
  let last = -1;
  let still = 0;
  await waitFor(() => {
    const now = cpuTicks();
    still = now === last ? still + 1 : 0;
    last = now;
    return still >= 8;
  }, 'the agent to go idle', 30_000);
}

it('1,400 pipelined 256 KiB gets, replies never read: peak RSS within the per-connection bounds; others still served', async () => {
  // Warm up: one full get, so the baseline includes the code paths a get uses.
  const warm = await Wire.connect(socket);
  warm.request({ v: 1, id: 0, op: 'get', name: 'big' });
  expect((await warm.reply()).value).toBe(Buffer.from(value).toString('base64'));
  warm.close();
  await settled();
  const baseline = status('VmRSS');
  const replyMib = (Buffer.from(value).toString('base64').length + 64) / 1048576;
  const bound = baseline + MAX_PENDING_PER_CONNECTION * replyMib + MAX_QUEUED_REPLY_BYTES / 1048576 + SLACK_MIB;

  const attacker = net.connect(socket);
  await new Promise<void>((resolve, reject) => attacker.once('connect', resolve).once('error', reject));
  attacker.pause(); // never read
  let lines = '';
  for (let i = 1; i <= ATTACK_GETS; i++) lines += `${JSON.stringify({ v: 1, id: i, op: 'get', name: 'big' })}\n`;
  attacker.write(lines);
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, status('VmRSS'))), 10);
  try {
    await settled();
    // Meanwhile another client is answered in full.
    const other = await Wire.connect(socket);
    other.request({ v: 1, id: 7, op: 'get', name: 'big' });
    const reply = await other.reply();
    expect(reply.ok).toBe(true);
    expect(reply.value).toBe(Buffer.from(value).toString('base64'));
    other.close();
  } finally {
    clearInterval(sampler);
  }
  const hwm = status('VmHWM');
  console.log(`agent RSS: baseline ${baseline.toFixed(0)} MiB, sampled peak ${peakRss.toFixed(0)} MiB, VmHWM ${hwm.toFixed(0)} MiB, bound ${bound.toFixed(0)} MiB`);
  expect(peakRss).toBeLessThan(bound);
  expect(hwm).toBeLessThan(bound);

  // The stalled connection is not broken: reading it now yields every reply, in order.
  attacker.resume();
  let buffer = '';
  let next = 1;
  await new Promise<void>((resolve, reject) => {
    attacker.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const r = JSON.parse(buffer.slice(0, nl)) as { id: number; ok: boolean; error?: { code: string } };
        buffer = buffer.slice(nl + 1);
        if (r.id !== next || !(r.ok || r.error?.code === 'rate_limited')) reject(new Error(`unexpected reply ${JSON.stringify(r).slice(0, 200)} (expected id ${next})`));
        next++;
        if (next > ATTACK_GETS) resolve();
      }
    });
    attacker.once('close', () => reject(new Error(`connection closed after ${next - 1} replies`)));
  });
  attacker.destroy();
});

/**
 * The attacker of the second test: CONNS connections each send the start of a `get` and then its
 * name one byte a write, each byte only once the agent has read the one before (the unread bytes
 * of a Unix socket, SIOCOUTQ, back at 0), so the agent receives the line in one-byte chunks. Then
 * it reads the agent's RSS while the lines are still unfinished, ends each line, and prints the
 * RSS and the error codes of the replies.
 */
const TRICKLE = `
import fcntl, json, os, re, socket, struct, sys, termios
path, pid, conns, nbytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def rss():
    return int(re.search(r"VmRSS:\\s+(\\d+) kB", open("/proc/%d/status" % pid).read()).group(1)) / 1024
def unread(s):
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\\0\\0\\0\\0"))[0]
socks = []
for _ in range(conns):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(b'{"v":1,"id":1,"op":"get","name":"')
    socks.append(s)
for _ in range(nbytes):
    for s in socks:
        s.send(b"a")
    for s in socks:
        while unread(s):
            os.sched_yield()
held = rss()
codes = []
for s in socks:
    s.sendall(b'"}\\n')
    line = s.makefile("rb").readline()
    codes.append(json.loads(line)["error"]["code"])
print(json.dumps({"held": held, "codes": sorted(set(codes))}))
`;

/** Connections and bytes a connection of the trickle attack. */
const TRICKLE_CONNS = 8;
const TRICKLE_BYTES = 64 * 1024;
/** What the unfinished lines may cost beyond their own bytes: one copy while a buffer grows, and V8's garbage (MiB). */
const TRICKLE_SLACK_MIB = 24;

it('unfinished lines sent one byte a chunk cost the agent about their bytes, not a buffer per byte', async () => {
  await settled();
  const baseline = status('VmRSS');
  const r = python(TRICKLE, [socket, String(pid), String(TRICKLE_CONNS), String(TRICKLE_BYTES)], t.env);
  expect(r.code, r.stderr).toBe(0);
  const { held, codes } = JSON.parse(r.stdout) as { held: number; codes: string[] };
  const lines = (TRICKLE_CONNS * TRICKLE_BYTES) / 1048576;
  console.log(`agent RSS: baseline ${baseline.toFixed(0)} MiB, with ${TRICKLE_CONNS} unfinished lines of ${TRICKLE_BYTES} one-byte chunks ${held.toFixed(0)} MiB`);
  expect(held).toBeLessThan(baseline + 2 * lines + TRICKLE_SLACK_MIB);
  // Each line was assembled whole and parsed: its name (64 KiB of "a") is too long to be a name.
  expect(codes).toEqual(['invalid_name']);
  // And the agent still serves.
  expect((await cli(t.env, ['get', '-n', 'big'])).stdout).toBe(value);
}, 120_000);
