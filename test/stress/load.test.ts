// Load against a real agent: 64 connections for 60 s of mixed get, list and set (zero errors, no
// acknowledged write lost), then 1,000 simultaneous connections (bounded, answered, recovered).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { alive, cli, PASSWORD, type TestEnv } from '../helpers/cli.js';
import { loadedAgent, rssMib } from '../helpers/stress.js';
import { Wire } from '../helpers/wire.js';
import { MAX_CONNECTIONS } from '../../src/protocol/limits.js';
import { openSecrets, unsealMasterKey } from '../../src/vault/vault.js';

const SECONDS = Number(process.env.STRESS_SECONDS ?? 60);
const CONNECTIONS = 64;
const NAMES_PER_CONNECTION = 8;

let t: TestEnv;
let pid: number;
let socket: string;
beforeAll(async () => {
  ({ t, pid, socket } = await loadedAgent());
  for (let i = 0; i < 10; i++) await cli(t.env, ['set', `shared_${i}`], `shared value ${i}`);
});
afterAll(() => t.cleanup());

interface Tally {
  ops: number;
  gets: number;
  lists: number;
  sets: number;
  errors: string[];
  acked: Map<string, string>;
}

/** One client connection looping over random ops until the deadline; sets overwrite its own names. */
function worker(index: number, deadline: number, tally: Tally): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    let buffer = '';
    let id = 0;
    let pending: { op: string; name?: string; value?: string } | null = null;
    const next = (): void => {
      if (Date.now() > deadline) {
        s.end();
        return;
      }
      const roll = Math.random();
      id++;
      if (roll < 0.6) {
        const name = `shared_${Math.floor(Math.random() * 10)}`;
        pending = { op: 'get', name };
        s.write(`${JSON.stringify({ v: 1, id, op: 'get', name })}\n`);
      } else if (roll < 0.75) {
        pending = { op: 'list' };
        s.write(`${JSON.stringify({ v: 1, id, op: 'list' })}\n`);
      } else {
        const name = `c${index}/n${Math.floor(Math.random() * NAMES_PER_CONNECTION)}`;
        const value = `${index}-${id}-${Math.random().toString(36).slice(2)}`;
        pending = { op: 'set', name, value };
        s.write(`${JSON.stringify({ v: 1, id, op: 'set', name, value: Buffer.from(value).toString('base64') })}\n`);
      }
    };
    s.on('connect', next);
    s.on('data', (c: Buffer) => {
      buffer += c.toString('utf8');
      let nl;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const reply = JSON.parse(buffer.slice(0, nl)) as { id: number; ok: boolean; value?: string; names?: string[]; error?: { code: string } };
        buffer = buffer.slice(nl + 1);
        tally.ops++;
        if (!reply.ok || reply.id !== id) tally.errors.push(`${pending?.op}: ${JSON.stringify(reply).slice(0, 200)}`);
        else if (pending?.op === 'get') {
          tally.gets++;
          if (Buffer.from(reply.value!, 'base64').toString() !== `shared value ${pending.name!.slice(7)}`) tally.errors.push(`wrong value for ${pending.name}`);
        } else if (pending?.op === 'list') tally.lists++;
        else if (pending?.op === 'set') {
          tally.sets++;
          tally.acked.set(pending.name!, pending.value!); // this connection's last acknowledged value
        }
        next();
      }
    });
    s.on('error', (err) => tally.errors.push(`socket: ${err.message}`));
    s.on('close', () => resolve());
  });
}

it(`${CONNECTIONS} connections for ${SECONDS} s of mixed get/list/set: zero errors, no acknowledged write lost`, async () => {
  const tally: Tally = { ops: 0, gets: 0, lists: 0, sets: 0, errors: [], acked: new Map() };
  const deadline = Date.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => worker(i, deadline, tally)));
  const keys = await unsealMasterKey(fs.readFileSync(path.join(t.home, 'master_key.enc'), 'utf8'), Buffer.from(PASSWORD));
  const onDisk = openSecrets(keys, fs.readFileSync(path.join(t.home, 'secrets.encrypted'), 'utf8'));
  let lost = 0;
  for (const [name, value] of tally.acked) if (Buffer.from(onDisk.get(name)?.value ?? []).toString() !== value) lost++;
  console.log(
    `load: ${CONNECTIONS} connections, ${SECONDS} s: ${tally.ops.toLocaleString('en')} requests (${tally.gets.toLocaleString('en')} get, ${tally.lists.toLocaleString('en')} list, ${tally.sets.toLocaleString('en')} set); ` +
      `${tally.errors.length} errors; ${tally.acked.size} names written, ${lost} acknowledged writes lost; agent RSS ${rssMib(pid).toFixed(0)} MiB`,
  );
  expect(tally.errors.slice(0, 5)).toEqual([]);
  expect(tally.sets).toBeGreaterThan(0);
  expect(lost).toBe(0);
  expect((await cli(t.env, ['audit', 'verify'])).code).toBe(0);
});

it('1,000 simultaneous connections: the agent bounds them, answers every one, and recovers', async () => {
  const rssBefore = rssMib(pid);
  // Its own process, with room for 1,000 descriptors whatever the test runner's limit.
  const script = `
    const net = require('net');
    const socket = process.argv[1];
    let ok = 0, busy = 0, other = 0, closed = 0;
    const sockets = [];
    let pending = 1000;
    for (let i = 0; i < 1000; i++) {
      const s = net.connect(socket);
      sockets.push(s);
      let buf = '';
      let counted = false;
      const count = (kind) => { if (counted) return; counted = true; if (kind === 'ok') ok++; else if (kind === 'busy') busy++; else other++; if (--pending === 0) finish(); };
      s.on('connect', () => s.write(JSON.stringify({ v: 1, id: i, op: 'hello' }) + '\\n'));
      s.on('data', (c) => { buf += c; if (buf.includes('\\n')) { const r = JSON.parse(buf.slice(0, buf.indexOf('\\n'))); count(r.ok ? 'ok' : r.error && r.error.code === 'busy' ? 'busy' : 'other'); } });
      s.on('error', () => count('error'));
      s.on('close', () => { closed++; count('closed'); });
    }
    function finish() {
      for (const s of sockets) s.destroy();
      setTimeout(() => { console.log(JSON.stringify({ ok, busy, other, closed })); process.exit(0); }, 200);
    }
  `;
  const r = spawnSync('sh', ['-c', `ulimit -n 4096 2>/dev/null; exec "${process.execPath}" -e "$0" "$1"`, script, socket], { encoding: 'utf8', timeout: 120_000 });
  expect(r.stderr).toBe('');
  const counts = JSON.parse(r.stdout) as { ok: number; busy: number; other: number };
  console.log(`1,000 connections: ${counts.ok} served, ${counts.busy} refused busy (limit ${MAX_CONNECTIONS}), ${counts.other} other; agent RSS ${rssBefore.toFixed(0)} -> ${rssMib(pid).toFixed(0)} MiB`);
  expect(counts.ok + counts.busy).toBe(1000);
  expect(counts.ok).toBeGreaterThanOrEqual(MAX_CONNECTIONS);
  expect(alive(pid)).toBe(true);
  const w = await Wire.connect(socket);
  w.request({ v: 1, id: 1, op: 'get', name: 'shared_1' });
  expect(await w.reply()).toMatchObject({ ok: true });
  w.close();
  expect(rssMib(pid)).toBeLessThan(200);
});
