// Issue 9, attack 2, replayed with real FIFOs (mkfifo): a FIFO in place of master_key.enc,
// secrets.encrypted, session_cache.json, the lock file or audit.log used to hang the CLI in
// open() and block the agent for every client. Now each is refused at once, naming the file
// (insecure_file, exit 1), and the agent keeps answering everyone else.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cli, makeEnv, makeVault, startAgent, unlock, type TestEnv } from '../helpers/cli.js';
import { Wire } from '../helpers/wire.js';

/** Enough pipelined gets that their audit lines overflow a pipe's 64 KiB buffer. */
const PIPELINED_GETS = 400;

let t: TestEnv;
beforeEach(() => {
  t = makeEnv();
});
afterEach(() => t.cleanup());

/** Copies `file` aside, removes it and puts a FIFO (mode 0600, ours) in its place; returns a function that undoes it. */
function plantFifo(file: string): () => void {
  const aside = `${file}.aside`;
  if (fs.existsSync(file)) {
    fs.copyFileSync(file, aside);
    fs.unlinkSync(file);
  }
  const r = spawnSync('mkfifo', ['-m', '600', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mkfifo failed: ${r.stderr}`);
  return () => {
    fs.unlinkSync(file);
    if (fs.existsSync(aside)) fs.renameSync(aside, file);
  };
}

/** The agent answers a new connection: hello succeeds, status gets its reply (whatever the files say). */
async function agentAnswers(socket: string): Promise<void> {
  const wire = await Wire.connect(socket);
  wire.request({ v: 1, id: 1, op: 'hello' });
  wire.request({ v: 1, id: 2, op: 'status' });
  expect(await wire.reply()).toMatchObject({ ok: true, id: 1 });
  expect(await wire.reply()).toMatchObject({ id: 2 });
  wire.close();
}

/** A vault with secret x = v1, served by an unlocked agent. */
async function agentWithSecret(): Promise<{ pid: number; socket: string }> {
  await makeVault(t);
  const a = await startAgent(t.env);
  expect((await unlock(t.env)).code).toBe(0);
  expect((await cli(t.env, ['set', 'x'], 'v1')).code).toBe(0);
  return a;
}

function refusedAsFifo(r: { code: number | null; stderr: string }, file: string): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toContain(`glassdome: ${file} is not a regular file (it is a fifo)`);
  expect(r.stderr).toContain('glassdome: hint: ');
}

describe('FIFOs in the vault directory', () => {
  it('secrets.encrypted, master_key.enc, the lock file, session_cache.json: refused at once, the agent keeps answering', async () => {
    const a = await agentWithSecret();

    const secrets = path.join(t.home, 'secrets.encrypted');
    let undo = plantFifo(secrets);
    refusedAsFifo(await cli(t.env, ['get', 'x'], undefined, 20_000), secrets);
    refusedAsFifo(await cli(t.env, ['list'], undefined, 20_000), secrets);
    await agentAnswers(a.socket);
    undo();
    expect((await cli(t.env, ['get', '-n', 'x'])).stdout).toBe('v1');

    const masterKey = path.join(t.home, 'master_key.enc');
    undo = plantFifo(masterKey);
    refusedAsFifo(await cli(t.env, ['unlock', '--password-stdin'], 'correct horse battery staple', 20_000), masterKey);
    refusedAsFifo(await cli(t.env, ['status'], undefined, 20_000), masterKey);
    await agentAnswers(a.socket);
    undo();

    const lock = path.join(t.home, '.lock');
    undo = plantFifo(lock);
    refusedAsFifo(await cli(t.env, ['set', 'y'], 'v2', 20_000), lock);
    await agentAnswers(a.socket);
    undo();
    expect((await cli(t.env, ['set', 'y'], 'v2')).code).toBe(0);

    // Without an agent, the fallback reads session_cache.json first.
    const noAgent = { ...t.env };
    delete noAgent.GLASSDOME_AUTH_SOCK;
    const cache = path.join(t.home, 'session_cache.json');
    undo = plantFifo(cache);
    refusedAsFifo(await cli(noAgent, ['status'], undefined, 20_000), cache);
    undo();
  });

  it('audit.log: every reply comes (values withheld, audit_failed), other clients are answered, the CLI does not hang', async () => {
    const a = await agentWithSecret();
    const audit = path.join(t.home, 'audit.log');
    const undo = plantFifo(audit);

    const wire = await Wire.connect(a.socket);
    wire.send(Array.from({ length: PIPELINED_GETS }, (_, i) => `${JSON.stringify({ v: 1, id: i + 1, op: 'get', name: 'x' })}\n`).join(''));
    for (let i = 1; i <= PIPELINED_GETS; i++) {
      const reply = await wire.reply();
      expect(reply).toMatchObject({ id: i, ok: false, error: { code: 'audit_failed' } });
      expect(JSON.stringify(reply)).toContain('is not a regular file (it is a fifo)');
    }
    wire.close();
    await agentAnswers(a.socket);
    const get = await cli(t.env, ['get', 'x'], undefined, 20_000);
    expect(get.code).toBe(1);
    expect(get.stdout).toBe('');
    expect(get.stderr).toContain(`cannot write the audit log ${audit}`);
    refusedAsFifo(await cli(t.env, ['audit'], undefined, 20_000), audit);

    undo();
    expect((await cli(t.env, ['get', '-n', 'x'])).stdout).toBe('v1');
  });
});
