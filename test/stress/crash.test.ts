// Faults during writes: the agent killed with -9 at random moments while 1,000 writes stream in
// (the vault must always open, and hold every acknowledged write), and writes that fail half-way
// at the file size limit (a clear error, the old vault intact).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { alive, applyPolicy, BIN, cli, makeEnv, makeVault, PASSWORD, startAgent, unlock, waitFor, type TestEnv } from '../helpers/cli.js';
import { UNLIMITED } from '../helpers/stress.js';
import { Wire } from '../helpers/wire.js';
import { openSecrets, unsealMasterKey } from '../../src/vault/vault.js';

const WRITES = Number(process.env.STRESS_WRITES ?? 1000);

let t: TestEnv;
beforeAll(async () => {
  t = makeEnv();
  await makeVault(t);
  await applyPolicy(t, UNLIMITED);
});
afterAll(() => t.cleanup());

async function onDisk(): Promise<Map<string, string>> {
  const keys = await unsealMasterKey(fs.readFileSync(path.join(t.home, 'master_key.enc'), 'utf8'), Buffer.from(PASSWORD));
  const map = openSecrets(keys, fs.readFileSync(path.join(t.home, 'secrets.encrypted'), 'utf8'));
  return new Map([...map].map(([n, e]) => [n, Buffer.from(e.value).toString()]));
}

it(`kill -9 of the agent at random moments during ${WRITES} writes: the vault always opens, no acknowledged write is lost`, async () => {
  const acked = new Map<string, string>();
  let sent = 0;
  let kills = 0;
  while (sent < WRITES) {
    delete t.env.GLASSDOME_AGENT_PID;
    const agent = await startAgent(t.env);
    await unlock(t.env);
    const wire = await Wire.connect(agent.socket);
    const killAt = Math.random() * 150;
    const timer = setTimeout(() => process.kill(agent.pid, 'SIGKILL'), killAt);
    try {
      while (sent < WRITES) {
        const name = `w${sent % 250}`; // overwrites too, not only new names
        const value = `v${sent}`;
        sent++;
        wire.request({ v: 1, id: sent, op: 'set', name, value: Buffer.from(value).toString('base64') });
        const reply = await wire.reply(5000);
        if (reply.ok !== true) throw new Error(`write refused: ${JSON.stringify(reply)}`);
        acked.set(name, value);
      }
    } catch (err) {
      if (!wire.closed && alive(agent.pid)) throw err; // only the kill may stop a write
    } finally {
      clearTimeout(timer);
      wire.close();
    }
    if (alive(agent.pid)) process.kill(agent.pid, 'SIGKILL');
    else kills++;
    await waitFor(() => !alive(agent.pid), 'the agent to die');
    const vault = await onDisk(); // opens, every round
    for (const [name, value] of acked) {
      const found = vault.get(name);
      // A write in flight at the kill may have landed without its ack: then the name holds that newer value.
      if (found !== value) expect(Number(found?.slice(1)), `${name}: acknowledged ${value}, found ${found}`).toBeGreaterThan(Number(value.slice(1)));
    }
  }
  const vault = await onDisk();
  let lost = 0;
  for (const [name, value] of acked) if (Number(vault.get(name)?.slice(1) ?? -1) < Number(value.slice(1))) lost++;
  console.log(`kill -9: ${sent} writes sent, ${kills} kills mid-stream, vault opened after each; ${acked.size} names acknowledged; ${lost} acknowledged writes lost`);
  expect(kills).toBeGreaterThan(Math.floor(WRITES / 100)); // ~8 writes land between kills here
  expect(lost).toBe(0);
});

it('writes that fail half-way at the file size limit: a clear error each time, the old vault intact', async () => {
  fs.rmSync(path.join(t.home, 'audit.log')); // a fresh log: this test is about secrets.encrypted
  expect((await cli(t.env, ['audit', 'verify', '--reset-anchor', '--password-stdin'], PASSWORD)).code).toBe(0); // accepted by the owner, not reported at every write
  const sock = path.join(t.dir, 'limited.sock');
  const agent = spawn('/bin/sh', ['-c', `ulimit -f 64; exec "${process.execPath}" "${BIN}" agent -D -a "${sock}"`], { env: t.env, stdio: 'ignore' });
  const env = { ...t.env, GLASSDOME_AUTH_SOCK: sock, GLASSDOME_AGENT_PID: String(agent.pid) };
  try {
    await waitFor(() => fs.existsSync(sock), 'the agent socket');
    await unlock(env);
    let failures = 0;
    let successes = 0;
    for (let i = 0; i < 20; i++) {
      const big = i % 2 === 0; // big values cannot fit under the limit; small ones (one name, overwritten) can
      const before = fs.readFileSync(path.join(t.home, 'secrets.encrypted'));
      const r = await cli(env, ['set', big ? `big${i % 3}` : 'small'], Buffer.alloc(big ? 1024 * 1024 - i : 2048 + i, String(i % 10)));
      if (r.code === 0) {
        successes++;
        continue;
      }
      failures++;
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/cannot write .*secrets.encrypted; the old file is unchanged: the file size limit \(ulimit -f\) was reached/);
      expect(fs.readFileSync(path.join(t.home, 'secrets.encrypted'))).toEqual(before);
      expect(fs.readdirSync(t.home).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    }
    console.log(`file size limit: ${failures} writes failed half-way with the old vault intact, ${successes} fitting writes succeeded`);
    expect(failures).toBe(10);
    expect(successes).toBe(10);
    await onDisk();
    expect(alive(agent.pid!)).toBe(true);
  } finally {
    agent.kill('SIGKILL');
  }
});
