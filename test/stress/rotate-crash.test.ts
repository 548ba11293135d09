// kill -9 during `glassdome rotate`, at random moments, many times: through an unlocked agent
// (the CLI or the agent itself killed) and without one (the CLI commits). After every kill the
// vault opens with the password, through the readers every command uses (vault.journal
// included), and holds every secret; a live agent serves every secret without a second unlock.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { alive, applyPolicy, BIN, cli, makeEnv, makeVault, PASSWORD, startAgent, unlock, waitFor, type TestEnv } from '../helpers/cli.js';
import { UNLIMITED } from '../helpers/stress.js';
import { vaultPaths } from '../../src/store/paths.js';
// The built readers (dist/), as the CLI runs them: they load the journal's parser lazily.
const { readMasterKeyText, readSecretsFile } = createRequire(__filename)('../../dist/store/vault-text.js') as typeof import('../../src/store/vault-text.js');
import { openSecrets, unsealMasterKey } from '../../src/vault/vault.js';

const ROUNDS = Number(process.env.STRESS_ROTATIONS ?? 40);
const SECRETS = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`app${i}/password`, `value-${i}-${'x'.repeat(i * 40)}`]));

let t: TestEnv;
beforeAll(async () => {
  t = makeEnv();
  await makeVault(t);
  await applyPolicy(t, UNLIMITED); // many unlocks a minute, on purpose (sealed: policy.yaml alone is never enforced)
  await startAgent(t.env);
  expect((await unlock(t.env)).code).toBe(0);
  for (const [name, value] of Object.entries(SECRETS)) expect((await cli(t.env, ['set', name], value)).code).toBe(0);
});
afterAll(() => t.cleanup());

/** Opens the vault with the password the way every command reads it; returns its master key (hex). */
async function opensWithPassword(): Promise<string> {
  const paths = vaultPaths(t.home);
  const keys = await unsealMasterKey(readMasterKeyText(paths), Buffer.from(PASSWORD));
  const map = openSecrets(keys, readSecretsFile(paths).text);
  for (const [name, value] of Object.entries(SECRETS)) expect(Buffer.from(map.get(name)?.value ?? []).toString(), name).toBe(value);
  expect(map.size).toBe(Object.keys(SECRETS).length);
  return Buffer.from(keys.masterKey).toString('hex');
}

async function agentServesAll(env: NodeJS.ProcessEnv): Promise<void> {
  for (const [name, value] of Object.entries(SECRETS)) {
    const r = await cli(env, ['get', name, '-n']);
    expect(r.code, `${name}: ${r.stderr}`).toBe(0);
    expect(r.stdout).toBe(value);
  }
}

/**
 * Runs `rotate` with `env`, killing `victim` (the CLI, or the agent) with -9 after `delayMs`, or,
 * with 'commit', the moment vault.journal appears (inotify): right inside the commit window.
 */
async function rotateAndKill(env: NodeJS.ProcessEnv, when: number | 'commit', victim: 'cli' | 'agent'): Promise<{ code: number | null; killed: boolean }> {
  const child = spawn(process.execPath, [BIN, 'rotate', '--password-stdin'], { env, stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.end(PASSWORD);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let killed = false;
  const kill = (): void => {
    const pid = victim === 'cli' ? child.pid! : Number(env.GLASSDOME_AGENT_PID);
    if (!killed && alive(pid)) {
      process.kill(pid, 'SIGKILL');
      killed = true;
    }
  };
  const watcher = when === 'commit' ? fs.watch(t.home, (_event, name) => name === 'vault.journal' && kill()) : undefined;
  const timer = when === 'commit' ? undefined : setTimeout(kill, when);
  const code = await exited;
  clearTimeout(timer);
  watcher?.close();
  return { code, killed };
}

it(`kill -9 of rotate at random moments, ${ROUNDS} times: the vault opens with the password every time and no secret is lost`, async () => {
  // How long one warm rotation takes here (the second of two), only to spread the kills over it.
  let span = 0;
  for (let i = 0; i < 2; i++) {
    const started = Date.now();
    expect((await cli(t.env, ['rotate', '--password-stdin'], PASSWORD)).code).toBe(0);
    span = Date.now() - started;
  }
  let key = await opensWithPassword();
  const outcome = { rotated: 0, unchanged: 0, kills: 0, journalLeft: 0 };
  // Each round opens the vault through vault.journal when a kill left one; the next writer then finishes it.
  const noAgent = { ...t.env };
  delete noAgent.GLASSDOME_AUTH_SOCK;
  delete noAgent.GLASSDOME_AGENT_PID;

  for (let round = 0; round < ROUNDS; round++) {
    const throughAgent = round % 2 === 0;
    const victim = throughAgent && round % 6 === 0 ? 'agent' : 'cli';
    const when = round % 4 === 1 ? 'commit' : Math.random() * span;
    const r = await rotateAndKill(throughAgent ? t.env : noAgent, when, victim);
    if (r.killed) outcome.kills++;
    else expect(r.code, `round ${round}: an unkilled rotate must succeed`).toBe(0);
    if (fs.existsSync(path.join(t.home, 'vault.journal'))) outcome.journalLeft++;

    const now = await opensWithPassword(); // every round, whatever the kill hit
    if (now === key) outcome.unchanged++;
    else outcome.rotated++;
    key = now;

    if (victim === 'agent' && r.killed) {
      await waitFor(() => !alive(Number(t.env.GLASSDOME_AGENT_PID)), 'the agent to die');
      delete t.env.GLASSDOME_AGENT_PID;
      await startAgent(t.env);
      expect((await unlock(t.env)).code).toBe(0);
    } else if (!throughAgent) {
      // The CLI committed without the agent: the agent may hold the old key. Unlock it again.
      expect((await unlock(t.env)).code).toBe(0);
    }
    await agentServesAll(t.env); // through the real CLI and agent
  }
  // A last, uninterrupted rotation finishes whatever a kill left, and leaves no journal behind.
  expect((await cli(t.env, ['rotate', '--password-stdin'], PASSWORD)).code).toBe(0);
  expect(fs.existsSync(path.join(t.home, 'vault.journal'))).toBe(false);
  expect(await opensWithPassword()).not.toBe(key);
  await agentServesAll(t.env);
  console.log(`rotate kill -9: ${ROUNDS} rounds, ${outcome.kills} kills, ${outcome.rotated} ended rotated, ${outcome.unchanged} unchanged, ${outcome.journalLeft} left vault.journal for the next writer; the vault opened every round`);
  expect(outcome.kills).toBeGreaterThan(ROUNDS / 4);
  expect(outcome.rotated + outcome.unchanged).toBe(ROUNDS);
});
