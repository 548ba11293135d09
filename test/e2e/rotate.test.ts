// Master key rotation with the real CLI and a live agent: every secret readable afterwards
// without a second unlock, the old master key (taken by the test before rotating) opens nothing,
// the keyring session moves to the new key, and a rotation caught between its commit and its
// copy (what a kill -9 leaves in vault.journal) still reads as the new vault and is finished by
// the next writer. The random kill -9 loop is in test/stress/rotate-crash.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { cli, makeEnv, makeVault, PASSWORD, startAgent, unlock, type TestEnv } from '../helpers/cli.js';
import { keyringMissing, startKeyring } from '../helpers/keyring.js';
import { Wire } from '../helpers/wire.js';
import { GlassdomeError } from '../../src/errors.js';
import { serializeBundle } from '../../src/vault/bundle.js';
import { freshKeys, openSecrets, resealSecrets, sealMasterKey, unsealMasterKey, type VaultKeys } from '../../src/vault/vault.js';
import { FAST_KDF } from '../helpers/cli.js';

const SECRETS: Record<string, Buffer> = {
  proxmox_password: Buffer.from('hunter2'),
  'aws/prod.key': Buffer.from('AKIA…ünïcode'),
  'multi.line': Buffer.from('line one\nline two'),
  'db/root': Buffer.from('s3cr3t with spaces'),
};

let t: TestEnv;
beforeEach(async () => {
  t = makeEnv();
  await makeVault(t);
});
afterEach(() => t.cleanup());

const file = (name: string) => path.join(t.home, name);
const read = (name: string) => fs.readFileSync(file(name), 'utf8');
const masterKeyOnDisk = async (): Promise<VaultKeys> => unsealMasterKey(read('master_key.enc'), Buffer.from(PASSWORD));

async function fill(env: NodeJS.ProcessEnv): Promise<void> {
  for (const [name, value] of Object.entries(SECRETS)) {
    const r = await cli(env, ['set', name], value);
    expect(r.code, r.stderr).toBe(0);
  }
}

async function expectAll(env: NodeJS.ProcessEnv): Promise<void> {
  for (const [name, value] of Object.entries(SECRETS)) {
    const r = await cli(env, ['get', name, '-n']);
    expect(r.code, `${name}: ${r.stderr}`).toBe(0);
    expect(r.stdout, name).toBe(value.toString('utf8'));
  }
}

function expectTampered(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GlassdomeError);
    expect((err as GlassdomeError).code).toBe('tampered');
    return;
  }
  throw new Error('the old key opened the rotated vault');
}

describe('rotate', () => {
  it('with a live agent holding secrets: every get works after, without a second unlock; the old key opens nothing', async () => {
    const agent = await startAgent(t.env);
    expect((await unlock(t.env)).code).toBe(0);
    await fill(t.env);
    const before = JSON.parse((await cli(t.env, ['status', '--json'])).stdout);
    const oldKeys = await masterKeyOnDisk();
    const oldMaster = Buffer.from(oldKeys.masterKey);

    const r = await cli(t.env, ['rotate', '--password-stdin'], PASSWORD);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`agent pid ${agent.pid} holds the new key`);
    expect(r.stderr).not.toContain(PASSWORD);

    await expectAll(t.env); // no unlock in between
    const after = JSON.parse((await cli(t.env, ['status', '--json'])).stdout);
    expect(after.expires_at).toBe(before.expires_at); // the session keeps its deadline
    expect(after.unlocked_at).toBe(before.unlocked_at);

    // The new master_key.enc opens with the same password, to another key.
    const newKeys = await masterKeyOnDisk();
    expect(Buffer.from(newKeys.masterKey).equals(oldMaster)).toBe(false);
    expect(newKeys.vaultId).toBe(oldKeys.vaultId);
    expect(openSecrets(newKeys, read('secrets.encrypted')).size).toBe(Object.keys(SECRETS).length);
    // The old master key opens nothing: not the file, not the agent.
    expectTampered(() => openSecrets(oldKeys, read('secrets.encrypted')));
    const wire = await Wire.connect(agent.socket);
    wire.request({ v: 1, id: 1, op: 'unlock', key: oldMaster.toString('base64') });
    expect(await wire.reply()).toMatchObject({ ok: false, error: { code: 'bad_key' } });
    // Nor can it ask the agent for another rotation.
    wire.request({ v: 1, id: 2, op: 'rotate', old_key: oldMaster.toString('base64'), key: Buffer.alloc(32, 7).toString('base64'), master_key: read('master_key.enc'), replaces: JSON.parse(read('master_key.enc')).checksum });
    expect(await wire.reply()).toMatchObject({ ok: false, error: { code: 'bad_key' } });
    wire.close();
    await expectAll(t.env); // the failed attempts changed nothing

    // Audited, and the chain still verifies.
    const events = read('audit.log').trim().split('\n').map((l) => JSON.parse(l));
    expect(events.some((e) => e.event_type === 'admin_action' && e.action === 'rotate_key' && e.result === 'success')).toBe(true);
    expect(read('audit.log')).not.toContain('hunter2');
    expect((await cli(t.env, ['audit', 'verify'])).code).toBe(0);
    expect(fs.existsSync(file('vault.journal'))).toBe(false);
  });

  it('a second agent still on the old key says the master key changed (exit 4, not 6), and unlocks again with the password', async () => {
    await startAgent(t.env, ['-a', path.join(t.dir, 'a.sock')]);
    const envB = { ...t.env };
    delete envB.GLASSDOME_AGENT_PID;
    const b = await startAgent(envB, ['-a', path.join(t.dir, 'b.sock')]);
    expect((await unlock(t.env)).code).toBe(0);
    expect((await unlock(envB)).code).toBe(0);
    await fill(t.env);
    await expectAll(envB);
    expect((await cli(t.env, ['rotate', '--password-stdin'], PASSWORD)).code).toBe(0);
    await expectAll(t.env); // the agent that did the commit
    const stale = await cli(envB, ['get', 'proxmox_password']);
    expect(stale.code).toBe(4);
    expect(stale.stderr).toMatch(/^glassdome: the vault's master key changed since it was unlocked/m);
    expect((await unlock(envB)).code).toBe(0);
    await expectAll(envB);
    process.kill(b.pid, 'SIGKILL');
  });

  it('a wrong password changes nothing: exit 1, both files byte for byte as they were', async () => {
    await startAgent(t.env);
    await unlock(t.env);
    await fill(t.env);
    const master = read('master_key.enc');
    const secrets = read('secrets.encrypted');
    const r = await cli(t.env, ['rotate', '--password-stdin'], 'not the password');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^glassdome: wrong password$/m);
    expect(read('master_key.enc')).toBe(master);
    expect(read('secrets.encrypted')).toBe(secrets);
    await expectAll(t.env);
  });

  it('without an unlocked agent the CLI commits; the locked agent then unlocks with the same password', async () => {
    await startAgent(t.env);
    await unlock(t.env);
    await fill(t.env);
    expect((await cli(t.env, ['lock'])).code).toBe(0);
    const oldKeys = await masterKeyOnDisk();
    const r = await cli(t.env, ['rotate', '--password-stdin'], PASSWORD);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('the agent is locked: unlock it with the same password');
    expectTampered(() => openSecrets(oldKeys, read('secrets.encrypted')));
    expect((await unlock(t.env)).code).toBe(0);
    await expectAll(t.env);
    const events = read('audit.log').trim().split('\n').map((l) => JSON.parse(l));
    const rotated = events.filter((e) => e.action === 'rotate_key' && e.result === 'success');
    expect(rotated).toHaveLength(1);
    // Keyed under the new key, so the audit chain's MACs verify across the rotation.
    expect(rotated[0].mac).toMatch(/^[0-9a-f]{64}$/);
    expect(await cli(t.env, ['audit', 'verify', '--password-stdin'], PASSWORD)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^audit log intact: .*with the key/) });
  });

  it('a rotation committed but not yet copied (vault.journal left by a kill -9) reads as the new vault, and the next write finishes it', async () => {
    await startAgent(t.env);
    await unlock(t.env);
    await fill(t.env);
    await cli(t.env, ['lock']);
    // What a rotate killed right after the journal's rename leaves: the old pair, and the new one in the journal.
    const oldKeys = await masterKeyOnDisk();
    const newKeys = freshKeys(oldKeys.vaultId);
    const newMaster = await sealMasterKey(newKeys.masterKey, oldKeys.vaultId, Buffer.from(PASSWORD), FAST_KDF);
    const newSecrets = resealSecrets(oldKeys, newKeys, read('secrets.encrypted'));
    fs.writeFileSync(file('vault.journal'), serializeBundle({ kind: 'glassdome-rotation', vaultId: oldKeys.vaultId, createdAt: new Date().toISOString(), files: { 'master_key.enc': newMaster, 'secrets.encrypted': newSecrets } }), { mode: 0o600 });
    // Half-copied as well: the new master_key.enc beside the old secrets.encrypted.
    fs.writeFileSync(file('master_key.enc'), newMaster, { mode: 0o600 });

    expect((await unlock(t.env)).code).toBe(0);
    await expectAll(t.env);
    expect(fs.existsSync(file('vault.journal'))).toBe(true); // readers never write
    expect((await cli(t.env, ['set', 'after'], 'x')).code).toBe(0);
    expect(fs.existsSync(file('vault.journal'))).toBe(false);
    expect(read('master_key.enc')).toBe(newMaster);
    expect(openSecrets(newKeys, read('secrets.encrypted')).size).toBe(Object.keys(SECRETS).length + 1);
    expectTampered(() => openSecrets(oldKeys, read('secrets.encrypted')));
  });

  it('a damaged vault.journal is refused as corrupt (exit 6), never half-applied', async () => {
    await startAgent(t.env);
    await unlock(t.env);
    await fill(t.env);
    const master = read('master_key.enc');
    fs.writeFileSync(file('vault.journal'), '{"format":"glassdome-rotation","version":1', { mode: 0o600 });
    const r = await cli(t.env, ['rotate', '--password-stdin'], PASSWORD);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^glassdome: vault\.journal is corrupt/m);
    expect(read('master_key.enc')).toBe(master);
  });
});

const noKeyring = keyringMissing();
if (noKeyring && process.env.CI) throw new Error(`keyring tests cannot run on CI: ${noKeyring}`);

describe.skipIf(noKeyring !== null)('rotate with a keyring session (no agent)', () => {
  it('the session moves to the new key: get works without unlock, the cache is re-MACed, the old key is gone from the keyring', async () => {
    const keyring = await startKeyring(t.dir);
    try {
      Object.assign(t.env, keyring.env);
      expect((await unlock(t.env)).code).toBe(0);
      await fill(t.env);
      const cacheBefore = JSON.parse(read('session_cache.json'));
      const oldKeys = await masterKeyOnDisk();
      const r = await cli(t.env, ['rotate', '--password-stdin'], PASSWORD);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('the keyring session moved to the new key');
      await expectAll(t.env);
      const cacheAfter = JSON.parse(read('session_cache.json'));
      expect(cacheAfter.expires_at).toBe(cacheBefore.expires_at);
      expect(cacheAfter.mac).not.toBe(cacheBefore.mac);
      // One item for the vault, and it holds the new key: the session's MAC checks under it, and get works.
      const found = keyring.secretTool(['search', '--all', 'service', 'glassdome']);
      const items = found.stdout + found.stderr;
      expect(new Set(items.match(/master_key:[0-9a-f]{32}/g))).toEqual(new Set([`master_key:${oldKeys.vaultId}`]));
      expectTampered(() => openSecrets(oldKeys, read('secrets.encrypted')));
      await cli(t.env, ['lock']);
    } finally {
      keyring.stop();
    }
  });
});
