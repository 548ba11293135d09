// Issue 9, item 5 replayed: the policy in force is the one sealed into the vault, so the attacks
// that widened it by rewriting policy.yaml (rm + SIGHUP, an edit to `default_policy: allow` +
// SIGHUP, a restart of the agent plus an unlock) leave a python-only rule in force against node,
// the real CLI and the real agent. Also: a policy sealed with the password while the agent runs is
// in force from its next request, and a vault with a policy.yaml but nothing sealed refuses every
// secret until `policy apply` (fail closed).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { applyPolicy, PYTHON_ONLY, cli, makeEnv, makeVault, python, startAgent, stopAgent, unlock, waitFor, type TestEnv } from '../helpers/cli.js';

const CLIENT_DIR = path.join(__dirname, '../../clients/python');
const SEALED = /sealed in the vault, sha256 ([0-9a-f]{64})/;

let t: TestEnv;
beforeEach(async () => {
  t = makeEnv();
  await makeVault(t);
});
afterEach(() => t.cleanup());

const policyFile = (): string => path.join(t.home, 'policy.yaml');

function events(): Array<Record<string, any>> {
  const file = path.join(t.home, 'audit.log');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
}

function pyGet(name: string): string {
  const r = python('import glassdome, sys\ntry: print(glassdome.get(sys.argv[1]))\nexcept glassdome.GlassdomeError as e: print("ERR", e.code)', [name], { ...t.env, PYTHONPATH: CLIENT_DIR });
  return r.stdout.trim() || r.stderr;
}

/** SIGHUP to the agent; resolves once it audited the reload. */
async function hup(pid: number): Promise<Record<string, any>> {
  const before = events().filter((e) => e.action === 'policy_reload').length;
  process.kill(pid, 'SIGHUP');
  await waitFor(() => events().filter((e) => e.action === 'policy_reload').length > before, 'the reload to be audited');
  return events().filter((e) => e.action === 'policy_reload').pop()!;
}

/** An agent serving a vault that holds proxmox_password, with the python-only rule sealed. */
async function sealedSetup(): Promise<{ pid: number; sha256: string }> {
  const agent = await startAgent(t.env);
  await unlock(t.env);
  expect((await cli(t.env, ['set', 'proxmox_password'], 'hunter2')).code).toBe(0);
  await applyPolicy(t, PYTHON_ONLY);
  const denied = await cli(t.env, ['get', 'proxmox_password']);
  expect(denied.code).toBe(5);
  expect(pyGet('proxmox_password')).toBe('hunter2');
  const status = await cli(t.env, ['status']);
  const sha256 = SEALED.exec(status.stdout)?.[1];
  expect(sha256).toMatch(/^[0-9a-f]{64}$/);
  return { pid: agent.pid, sha256: sha256! };
}

async function nodeStillDenied(): Promise<void> {
  const r = await cli(t.env, ['get', 'proxmox_password']);
  expect(r.code).toBe(5);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^glassdome: the policy denies \/.*node.* read on "proxmox_password" \(default deny\)\n/);
  expect((await cli(t.env, ['exec', '--', 'cat', '{{glassdome:proxmox_password}}'])).code).toBe(5);
  expect(pyGet('proxmox_password')).toBe('hunter2');
}

describe('the sealed policy against a rewritten policy.yaml (issue 9, item 5)', () => {
  it('rm policy.yaml; kill -HUP: still denied, and the reload reports the missing file', async () => {
    const { pid, sha256 } = await sealedSetup();
    fs.rmSync(policyFile());
    const reload = await hup(pid);
    expect(reload).toMatchObject({ event_type: 'admin_action', action: 'policy_reload', result: 'ignored', reason: `policy in force: sealed in the vault, sha256 ${sha256} (there is no policy.yaml)` });
    await nodeStillDenied();
    const status = await cli(t.env, ['status', '--json']);
    expect(JSON.parse(status.stdout).policy).toEqual({ source: 'sealed', sha256, file: 'absent' });
  });

  it('policy.yaml edited to default_policy: allow; kill -HUP: still denied; status and policy check say the file differs', async () => {
    const { pid, sha256 } = await sealedSetup();
    fs.writeFileSync(policyFile(), 'default_policy: allow\n');
    const reload = await hup(pid);
    expect(reload).toMatchObject({ result: 'ignored', reason: `policy in force: sealed in the vault, sha256 ${sha256} (policy.yaml differs from it and is not in force)` });
    await nodeStillDenied();
    expect((await cli(t.env, ['status'])).stdout).toContain(`policy:   sealed in the vault, sha256 ${sha256} (policy.yaml differs from it and is not in force)\n`);
    const check = await cli(t.env, ['policy', 'check', 'proxmox_password', 'read']);
    expect(check).toMatchObject({ code: 5, stdout: `deny (default deny)\npolicy: sealed in the vault, sha256 ${sha256} (policy.yaml differs from it and is not in force)\n` });
    // A replaced file (a new inode, other rules) changes nothing either.
    fs.rmSync(policyFile());
    fs.writeFileSync(policyFile(), 'authorization:\n  rules:\n    - name: all\n      clients: [{ uid: 0 }, { exe: "/**" }]\n      secrets: ["**"]\n      actions: ["*"]\n', { mode: 0o600 });
    await hup(pid);
    await nodeStillDenied();
  });

  it('a restart of the agent plus an unlock still enforces the sealed policy, whatever policy.yaml says', async () => {
    await sealedSetup();
    fs.writeFileSync(policyFile(), 'default_policy: allow\n');
    stopAgent(t.env);
    await startAgent(t.env);
    expect(JSON.parse((await cli(t.env, ['status', '--json'])).stdout).policy).toEqual({ source: 'unknown', sha256: null, file: 'present' });
    await unlock(t.env);
    await nodeStillDenied();
    fs.rmSync(policyFile());
    stopAgent(t.env);
    await startAgent(t.env);
    await unlock(t.env);
    await nodeStillDenied();
  });

  it('a policy sealed with the password while the agent runs is in force from its next request; a wrong password changes nothing', async () => {
    const { sha256 } = await sealedSetup();
    fs.writeFileSync(policyFile(), 'default_policy: allow\n');
    const wrong = await cli(t.env, ['policy', 'apply', '--password-stdin'], 'not the password');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^glassdome: wrong password\n/);
    await nodeStillDenied();
    await applyPolicy(t, 'default_policy: allow\n');
    expect((await cli(t.env, ['get', '-n', 'proxmox_password'])).stdout).toBe('hunter2');
    const st = JSON.parse((await cli(t.env, ['status', '--json'])).stdout).policy;
    expect(st).toMatchObject({ source: 'sealed', file: 'same' });
    expect(st.sha256).not.toBe(sha256);
    expect(events().filter((e) => e.action === 'policy_apply').map((e) => e.result)).toEqual(['success', 'failure', 'success']);
  });

  it('migration: a vault with policy.yaml but nothing sealed refuses every secret until policy apply', async () => {
    await startAgent(t.env);
    await unlock(t.env);
    await cli(t.env, ['set', 'proxmox_password'], 'hunter2');
    stopAgent(t.env);
    fs.writeFileSync(policyFile(), PYTHON_ONLY, { mode: 0o600 }); // written by hand, as before policies were sealed
    await startAgent(t.env);
    await unlock(t.env);
    const refused = await cli(t.env, ['get', 'proxmox_password']);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(/^glassdome: policy.yaml exists but no policy is sealed into the vault: every secret is refused until it is applied\nglassdome: hint: seal it into the vault: glassdome policy apply/);
    expect(pyGet('proxmox_password')).toBe('ERR denied');
    // exec and export of every secret (get_many without names) are refused the same way, not handed
    // an empty set: the child does not start without its secrets as if it had none.
    const marker = path.join(t.dir, 'ran');
    for (const args of [['exec', '--', '/usr/bin/touch', marker], ['export', '--stdout']]) {
      const r = await cli(t.env, args);
      expect(r.code, args[0]).toBe(5);
      expect(r.stderr, args[0]).toMatch(/^glassdome: policy.yaml exists but no policy is sealed into the vault: every secret is refused until it is applied\n/);
      expect(r.stdout, args[0]).toBe('');
    }
    expect(fs.existsSync(marker)).toBe(false);
    expect(JSON.parse((await cli(t.env, ['status', '--json'])).stdout).policy).toEqual({ source: 'unsealed', sha256: null, file: 'present' });
    fs.rmSync(policyFile()); // with nothing sealed, the file is all there is: removing it is "no policy", as before (docs/POLICY.md)
    await hup(Number(t.env.GLASSDOME_AGENT_PID));
    expect((await cli(t.env, ['get', '-n', 'proxmox_password'])).stdout).toBe('hunter2');
    fs.writeFileSync(policyFile(), PYTHON_ONLY, { mode: 0o600 });
    await hup(Number(t.env.GLASSDOME_AGENT_PID));
    expect((await cli(t.env, ['get', 'proxmox_password'])).code).toBe(5);
    expect((await cli(t.env, ['policy', 'apply'])).code).toBe(0);
    expect(pyGet('proxmox_password')).toBe('hunter2');
    await nodeStillDenied();
  });
});
