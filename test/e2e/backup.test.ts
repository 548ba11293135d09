// Backup and restore with the real CLI and a live agent: backup, wipe the vault directory,
// restore, and every secret is back; a damaged or tampered backup (flipped byte, truncated, a
// re-checksummed edit only the AEAD catches) is refused with exit 6 and nothing is replaced; an
// existing vault is replaced only with --force, and then kept aside until the new one opens.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { BIN, cli, makeEnv, makeVault, PASSWORD, startAgent, stopAgent, unlock, type TestEnv } from '../helpers/cli.js';
import { parseBundle, serializeBundle } from '../../src/vault/bundle.js';
import { openSecrets, unsealMasterKey } from '../../src/vault/vault.js';

const SECRETS: Record<string, string> = {
  proxmox_password: 'hunter2',
  'aws/prod.key': 'AKIA…ünïcode',
  'multi.line': 'line one\nline two',
};

let t: TestEnv;
let backup: string;
beforeEach(async () => {
  t = makeEnv();
  await makeVault(t);
  await startAgent(t.env);
  expect((await unlock(t.env)).code).toBe(0);
  for (const [name, value] of Object.entries(SECRETS)) expect((await cli(t.env, ['set', name], value)).code).toBe(0);
  backup = path.join(t.dir, 'vault.backup');
});
afterEach(() => t.cleanup());

const read = (name: string) => fs.readFileSync(path.join(t.home, name), 'utf8');
const vaultIdOf = (text: string): string => (JSON.parse(text) as { vault_id: string }).vault_id;
const snapshot = () => fs.readdirSync(t.home).filter((f) => f !== 'audit.log' && f !== '.lock').sort().map((f) => [f, read(f)]);

async function expectAll(env: NodeJS.ProcessEnv): Promise<void> {
  for (const [name, value] of Object.entries(SECRETS)) {
    const r = await cli(env, ['get', name, '-n']);
    expect(r.code, `${name}: ${r.stderr}`).toBe(0);
    expect(r.stdout).toBe(value);
  }
}

describe('backup and restore', () => {
  it('backup → wipe the vault directory → restore → every secret back', async () => {
    const b = await cli(t.env, ['backup', '-o', backup]);
    expect(b.code, b.stderr).toBe(0);
    expect(fs.statSync(backup).mode & 0o777).toBe(0o600);
    const text = fs.readFileSync(backup, 'utf8');
    for (const value of [...Object.values(SECRETS), PASSWORD, ...Object.keys(SECRETS)]) expect(text).not.toContain(value);
    const doc = JSON.parse(text);
    expect(doc).toMatchObject({ format: 'glassdome-backup', version: 1 });
    expect(doc.files['master_key.enc']).toBe(read('master_key.enc'));
    expect(doc.files['secrets.encrypted']).toBe(read('secrets.encrypted'));
    expect(fs.readdirSync(t.dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    // Without --force, an existing backup file is kept.
    expect((await cli(t.env, ['backup', '-o', backup])).code).toBe(1);

    fs.rmSync(t.home, { recursive: true, force: true });
    expect((await cli(t.env, ['get', 'proxmox_password'])).code).not.toBe(0);

    const r = await cli(t.env, ['restore', backup, '--password-stdin'], PASSWORD);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`restored vault ${doc.vault_id} (3 secrets)`);
    expect(fs.statSync(t.home).mode & 0o777).toBe(0o700);
    expect(read('master_key.enc')).toBe(doc.files['master_key.enc']);
    expect(fs.existsSync(path.join(t.home, 'replaced.backup'))).toBe(false);
    expect(fs.existsSync(path.join(t.home, 'vault.journal'))).toBe(false);
    expect((await unlock(t.env)).code).toBe(0);
    await expectAll(t.env);
    const events = read('audit.log').trim().split('\n').map((l) => JSON.parse(l));
    expect(events.some((e) => e.event_type === 'admin_action' && e.action === 'restore')).toBe(true);
  });

  it('a tampered backup (flipped byte, truncated, re-checksummed edit) is refused with exit 6 and nothing is replaced, even with --force', async () => {
    expect((await cli(t.env, ['backup', '-o', backup])).code).toBe(0);
    const good = fs.readFileSync(backup, 'utf8');
    const bundle = parseBundle(good, 'glassdome-backup', 'backup');
    const secrets = JSON.parse(bundle.files['secrets.encrypted']);
    const ct = Buffer.from(secrets.ciphertext, 'base64');
    ct[ct.length - 1]! ^= 1;
    const cases: Array<[string, string]> = [];
    for (const at of [good.indexOf('"sealed_key') + 20, good.indexOf('"ciphertext') + 30, good.indexOf('"checksum": "') + 20, good.indexOf('"vault_id') + 15]) {
      cases.push([`byte ${at} flipped`, good.slice(0, at) + String.fromCharCode(good.charCodeAt(at) ^ 1) + good.slice(at + 1)]);
    }
    cases.push(['truncated', good.slice(0, good.length - 40)]);
    cases.push(['empty', '']);
    cases.push(['ciphertext edited, checksum recomputed', serializeBundle({ ...bundle, files: { ...bundle.files, 'secrets.encrypted': `${JSON.stringify({ ...secrets, ciphertext: ct.toString('base64') })}\n` } })]);

    const before = snapshot();
    for (const [what, text] of cases) {
      fs.writeFileSync(backup, text, { mode: 0o600 });
      const r = await cli(t.env, ['restore', backup, '--force', '--password-stdin'], PASSWORD);
      expect(r.code, `${what}: ${r.stderr}`).toBe(6);
      // One line saying what, one hint: nothing replaced, and where a good copy comes from (not 'restore it from a backup').
      expect(r.stderr, what).toMatch(/^glassdome: [^\n]*(corrupt|failed authentication|damaged or tampered)[^\n]*\nglassdome: hint: nothing was replaced; restore another copy of the backup, or take a new one: glassdome backup -o FILE\n$/);
      expect(snapshot(), what).toEqual(before);
    }
    await expectAll(t.env); // the agent still serves the untouched vault

    // Into a wiped directory, a tampered backup creates nothing either.
    fs.rmSync(t.home, { recursive: true, force: true });
    const r = await cli(t.env, ['restore', backup, '--password-stdin'], PASSWORD);
    expect(r.code).toBe(6);
    expect(fs.existsSync(path.join(t.home, 'master_key.enc'))).toBe(false);
    expect(fs.existsSync(path.join(t.home, 'secrets.encrypted'))).toBe(false);
  });

  it('over an existing vault: refused without --force; a wrong password replaces nothing; --force replaces it and locks the agent', async () => {
    expect((await cli(t.env, ['backup', '-o', backup])).code).toBe(0);
    expect((await cli(t.env, ['set', 'later'], 'only in the live vault')).code).toBe(0);
    const before = snapshot();

    const refused = await cli(t.env, ['restore', backup, '--password-stdin'], PASSWORD);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^glassdome: a vault already exists at .*\nglassdome: hint: .*restore --force/m);
    expect(snapshot()).toEqual(before);

    const wrong = await cli(t.env, ['restore', backup, '--force', '--password-stdin'], 'not the password');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^glassdome: wrong password for the backup of \S+\nglassdome: hint: it opens with the master password the vault had when the backup was taken .*nothing was replaced\n$/);
    expect(snapshot()).toEqual(before);

    const r = await cli(t.env, ['restore', backup, '--force', '--password-stdin'], PASSWORD);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('was locked: unlock it with the backup');
    expect(fs.existsSync(path.join(t.home, 'replaced.backup'))).toBe(false);
    expect((await cli(t.env, ['get', 'proxmox_password'])).code).toBe(4); // locked, not stale
    expect((await unlock(t.env)).code).toBe(0);
    await expectAll(t.env);
    expect((await cli(t.env, ['get', 'later'])).code).toBe(3); // the backup's state, exactly
    const verify = await cli(t.env, ['audit', 'verify']); // through the agent, unlocked again: the same key's log went on
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toContain('with the key (the agent)');
  });

  it('--force over a vault that does not parse keeps its files byte for byte (a damaged journal too) and says where', async () => {
    expect((await cli(t.env, ['backup', '-o', backup])).code).toBe(0);
    const damaged: Record<string, Buffer> = {
      'master_key.enc': Buffer.from(read('master_key.enc').slice(0, 60)), // truncated
      'secrets.encrypted': Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80, 0x0a]), // not even UTF-8
      'vault.journal': Buffer.from('{"format":"glassdome-rotation","version":1'), // a rotation cut short
    };
    for (const [name, bytes] of Object.entries(damaged)) fs.writeFileSync(path.join(t.home, name), bytes, { mode: 0o600 });
    expect((await cli(t.env, ['backup', '-o', path.join(t.dir, 'again.backup')])).code).toBe(6); // glassdome cannot back it up itself

    const r = await cli(t.env, ['restore', backup, '--force', '--password-stdin'], PASSWORD);
    expect(r.code, r.stderr).toBe(0);
    const kept = fs.readdirSync(t.home).filter((f) => f.startsWith('replaced-'));
    expect(kept).toHaveLength(1);
    const dir = path.join(t.home, kept[0]!);
    // The log stays: it verifies under the restored vault's key from the line the backup anchored (the same vault's, MACed under its key).
    expect(r.stderr).toContain(`the files of the unreadable vault it replaced are kept in ${dir}: remove it`);
    expect(fs.existsSync(path.join(dir, 'audit.log'))).toBe(false);
    const verified = await cli(t.env, ['audit', 'verify', '--password-stdin'], PASSWORD);
    expect(verified.code, verified.stderr).toBe(0);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    for (const [name, bytes] of Object.entries(damaged)) {
      expect(fs.readFileSync(path.join(dir, name)), name).toEqual(bytes);
      expect(fs.statSync(path.join(dir, name)).mode & 0o777, name).toBe(0o600);
    }
    expect(fs.existsSync(path.join(t.home, 'vault.journal'))).toBe(false);
    expect(fs.existsSync(path.join(t.home, 'replaced.backup'))).toBe(false);
    expect((await unlock(t.env)).code).toBe(0);
    await expectAll(t.env);
    const events = read('audit.log').trim().split('\n').map((l) => JSON.parse(l));
    expect(events.find((e) => e.action === 'restore')?.reason).toContain(`kept in ${dir}`);

    // A healthy vault replaced the same way is kept too, in a directory of its own (replaced.backup goes once the new one opens).
    const live = { master: read('master_key.enc'), secrets: read('secrets.encrypted') };
    const again = await cli(t.env, ['restore', backup, '--force', '--password-stdin'], PASSWORD);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('unreadable');
    const second = fs.readdirSync(t.home).filter((f) => f.startsWith('replaced-') && !kept.includes(f));
    expect(second).toHaveLength(1);
    expect(again.stderr).toContain(`the files of the vault it replaced are kept in ${path.join(t.home, second[0]!)}: remove it once nothing there is needed`);
    expect(fs.readFileSync(path.join(t.home, second[0]!, 'master_key.enc'), 'utf8')).toBe(live.master);
    expect(vaultIdOf(fs.readFileSync(path.join(t.home, second[0]!, 'secrets.encrypted'), 'utf8'))).toBe(vaultIdOf(live.secrets));
    expect(fs.existsSync(path.join(t.home, 'replaced.backup'))).toBe(false);
  });

  it('--force over a vault that does not parse, then a failed read-back: its files are put back byte for byte and nothing is left aside', async () => {
    expect((await cli(t.env, ['backup', '-o', backup])).code).toBe(0);
    const damaged = Buffer.from([0xff, 0x00, 0x7b]);
    fs.copyFileSync(path.join(t.home, 'secrets.encrypted'), path.join(t.dir, 'healthy.secrets'));
    fs.writeFileSync(path.join(t.home, 'secrets.encrypted'), damaged, { mode: 0o600 });
    const master = fs.readFileSync(path.join(t.home, 'master_key.enc'));
    const before = fs.readdirSync(t.home).sort();
    // The built store's replaceVault, as restore calls it, with a read-back check that fails as a bad disk would make it.
    const script = `
      const fs = require('node:fs');
      const { replaceVault } = require('./dist/store/vault-files.js');
      const { vaultPaths } = require('./dist/store/paths.js');
      const { parseBundle } = require('./dist/vault/bundle.js');
      const bundle = parseBundle(fs.readFileSync(process.argv[2], 'utf8'), 'glassdome-backup', 'backup');
      replaceVault(vaultPaths(process.argv[1]), bundle, true, () => { throw new Error('read back differs'); })
        .then(() => console.log('replaced'), (err) => console.log(err.message));`;
    const r = spawnSync(process.execPath, ['-e', script, t.home, backup], { cwd: path.join(__dirname, '../..'), encoding: 'utf8' });
    expect(r.stdout.trim(), r.stderr).toBe('read back differs');
    expect(fs.readFileSync(path.join(t.home, 'secrets.encrypted'))).toEqual(damaged);
    expect(fs.readFileSync(path.join(t.home, 'master_key.enc'))).toEqual(master);
    expect(fs.readdirSync(t.home).sort()).toEqual(before); // no replaced-* directory, no journal, no replaced.backup
    // A healthy vault, the same way: back in place, its kept copies dropped.
    fs.writeFileSync(path.join(t.home, 'secrets.encrypted'), fs.readFileSync(path.join(t.dir, 'healthy.secrets')));
    const healthy = fs.readFileSync(path.join(t.home, 'secrets.encrypted'));
    const again = spawnSync(process.execPath, ['-e', script, t.home, backup], { cwd: path.join(__dirname, '../..'), encoding: 'utf8' });
    expect(again.stdout.trim(), again.stderr).toBe('read back differs');
    expect(fs.readFileSync(path.join(t.home, 'secrets.encrypted'))).toEqual(healthy);
    expect(fs.readdirSync(t.home).sort()).toEqual(before);
  });

  it("--force with another vault's backup: the replaced vault's audit log (rotated files too) moves into a replaced-* directory restore names, and audit verify with the backup's password passes", async () => {
    const oldLog = fs.readFileSync(path.join(t.home, 'audit.log')); // lines MACed under this vault's key by its agent
    const oldVault = { master: read('master_key.enc'), secrets: read('secrets.encrypted') };
    fs.writeFileSync(path.join(t.home, 'audit.log.1'), 'a rotated file\n', { mode: 0o600 });
    const other = makeEnv();
    try {
      await makeVault(other, 'pw-other');
      await startAgent(other.env);
      expect((await unlock(other.env, [], 'pw-other')).code).toBe(0);
      expect((await cli(other.env, ['set', 'only-other'], 'v')).code).toBe(0); // the other vault seals an anchor on its own log
      expect((await cli(other.env, ['backup', '-o', backup])).code).toBe(0);
    } finally {
      other.cleanup();
    }

    const r = await cli(t.env, ['restore', backup, '--force', '--password-stdin'], 'pw-other');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("was locked: unlock it with the backup's password");
    const kept = fs.readdirSync(t.home).filter((f) => f.startsWith('replaced-'));
    expect(kept).toHaveLength(1);
    const dir = path.join(t.home, kept[0]!);
    expect(r.stderr).toContain(`the files of the vault it replaced are kept in ${dir}, its audit log too: remove it once nothing there is needed`);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(dir).sort()).toEqual(['audit.log', 'audit.log.1', 'master_key.enc', 'secrets.encrypted']);
    // The vault a wrong backup replaced is not lost (found by h16t: only replaced.backup held it, removed once the restore checked out).
    expect(fs.readFileSync(path.join(dir, 'master_key.enc'), 'utf8')).toBe(oldVault.master);
    expect(vaultIdOf(fs.readFileSync(path.join(dir, 'secrets.encrypted'), 'utf8'))).toBe(vaultIdOf(oldVault.secrets)); // re-anchored by the lock before the swap: the same vault
    const keptLog = fs.readFileSync(path.join(dir, 'audit.log'));
    expect(keptLog.subarray(0, oldLog.length)).toEqual(oldLog); // plus the agent's lock line: it locked before the swap
    expect(fs.readFileSync(path.join(dir, 'audit.log.1'), 'utf8')).toBe('a rotated file\n');
    expect(fs.existsSync(path.join(t.home, 'audit.log.1'))).toBe(false);
    const events = read('audit.log').trim().split('\n').map((l) => JSON.parse(l));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: 'restore', seq: 1 });
    expect(events[0].mac).toMatch(/^[0-9a-f]{64}$/); // MACed under the restored vault's key
    expect(events[0].reason).toContain(`kept in ${dir}`);

    // The restored vault's log starts here and is anchored here (the backup's anchor named a line of the other home's log).
    const verify = await cli(t.env, ['audit', 'verify', '--password-stdin'], 'pw-other');
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/1 MAC\(s\) verified.*the vault's anchor \(line 1\) matches/);
    // The agent, unlocked with the backup's password, goes on with that log, not the kept one.
    expect((await unlock(t.env, [], 'pw-other')).code).toBe(0);
    expect((await cli(t.env, ['set', 'after'], 'v')).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'audit.log'))).toEqual(keptLog);
    const again = await cli(t.env, ['audit', 'verify', '--password-stdin'], 'pw-other');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('carry no MAC');
  });

  it("--force with an older backup of the same vault: the log stays and goes on, and restore anchors it forward to its own line", async () => {
    expect((await cli(t.env, ['backup', '-o', backup])).code).toBe(0);
    expect((await cli(t.env, ['set', 'later'], 'only in the live vault')).code).toBe(0);
    const before = read('audit.log');
    const r = await cli(t.env, ['restore', backup, '--force', '--password-stdin'], PASSWORD);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/warning|audit log too/);
    // The newer version it replaced (with 'later') is kept, its log is not: the log goes on.
    const kept = fs.readdirSync(t.home).filter((f) => f.startsWith('replaced'));
    expect(kept).toHaveLength(1);
    expect(r.stderr).toContain(`the files of the vault it replaced are kept in ${path.join(t.home, kept[0]!)}: remove it`);
    expect(fs.readdirSync(path.join(t.home, kept[0]!)).sort()).toEqual(['master_key.enc', 'secrets.encrypted']);
    // the live version, with 'later' (re-anchored by the lock before the swap): longer than the restored one
    expect(fs.readFileSync(path.join(t.home, kept[0]!, 'secrets.encrypted'), 'utf8').length).toBeGreaterThan(read('secrets.encrypted').length);
    const log = read('audit.log');
    expect(log.startsWith(before)).toBe(true);
    const events = log.trim().split('\n').map((l) => JSON.parse(l));
    const restored = events[events.length - 1];
    expect(restored).toMatchObject({ action: 'restore', seq: events.length });
    expect(restored.mac).toMatch(/^[0-9a-f]{64}$/);

    // The backup's anchor named an older line of this same log; the restore moved it forward to its own line.
    const verify = await cli(t.env, ['audit', 'verify', '--password-stdin'], PASSWORD);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toContain(`the vault's anchor (line ${restored.seq}) matches`);
  });

  it('a backup taken before a rotation restores the vault as it was, opened by the password', async () => {
    expect((await cli(t.env, ['backup', '-o', backup])).code).toBe(0);
    expect((await cli(t.env, ['rotate', '--password-stdin'], PASSWORD)).code).toBe(0);
    const r = await cli(t.env, ['restore', backup, '--force', '--password-stdin'], PASSWORD);
    expect(r.code, r.stderr).toBe(0);
    expect((await unlock(t.env)).code).toBe(0);
    await expectAll(t.env);
  });

  it('kill -9 of restore at its commit point: the vault is the old one or the restored one, and a replaced.backup left behind restores the old one', async () => {
    expect((await cli(t.env, ['backup', '-o', backup])).code).toBe(0);
    expect((await cli(t.env, ['set', 'later'], 'only in the live vault')).code).toBe(0);
    let leftAside = 0;
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, [BIN, 'restore', backup, '--force', '--password-stdin'], { env: t.env, stdio: ['pipe', 'ignore', 'ignore'] });
      child.stdin.end(PASSWORD);
      const watcher = fs.watch(t.home, (_event, name) => name === 'vault.journal' && child.kill('SIGKILL'));
      await new Promise((resolve) => child.on('exit', resolve));
      watcher.close();
      // Old or new, never a mix: the agent unlocks with the password and serves every secret.
      expect((await unlock(t.env)).code).toBe(0);
      await expectAll(t.env);
      const later = await cli(t.env, ['get', 'later']);
      expect([0, 3]).toContain(later.code);
      if (fs.existsSync(path.join(t.home, 'replaced.backup'))) {
        leftAside++;
        const blocked = await cli(t.env, ['restore', backup, '--force', '--password-stdin'], PASSWORD);
        expect(blocked.code).toBe(1); // never overwrites the vault a crashed restore set aside
        expect(blocked.stderr).toMatch(/replaced\.backup holds the vault an interrupted restore replaced/);
        const aside = path.join(t.dir, `aside-${round}.backup`);
        fs.renameSync(path.join(t.home, 'replaced.backup'), aside);
        const back = await cli(t.env, ['restore', aside, '--force', '--password-stdin'], PASSWORD);
        expect(back.code, back.stderr).toBe(0);
        // The old vault is back (opened here with the password: unlocks are rate-limited to 5 a minute).
        const keys = await unsealMasterKey(read('master_key.enc'), Buffer.from(PASSWORD));
        expect(Buffer.from(openSecrets(keys, read('secrets.encrypted')).get('later')!.value).toString()).toBe('only in the live vault');
      } else if (later.code === 3) {
        expect((await cli(t.env, ['set', 'later'], 'only in the live vault')).code).toBe(0); // the restore completed: next round starts like this one
      }
    }
    console.log(`restore kill -9 at the commit point: ${leftAside} of 3 rounds left replaced.backup`);
  });
});

// Restores that a careful user makes must leave a log `audit verify` passes (h17a): before, a backup
// taken before a rotation, or restored into an empty home, left verify at exit 6 until --reset-anchor.
describe('restore and the audit log', () => {
  const verify = (env: NodeJS.ProcessEnv, password = PASSWORD) => cli(env, ['audit', 'verify', '--password-stdin'], password);
  const events = (home: string) => fs.readFileSync(path.join(home, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const withoutAgent = (env: NodeJS.ProcessEnv) => {
    stopAgent(env);
    delete env.GLASSDOME_AUTH_SOCK;
  };

  it.each([['the agent unlocked', true], ['no agent', false]])(
    'backup → rotate → restore --force of that backup (%s): audit verify passes; the log MACed under the rotated key moves aside with the vault it belongs to, restore says where, and it verifies there',
    async (_what, agent) => {
      expect((await cli(t.env, ['backup', '-o', backup])).code).toBe(0);
      if (!agent) withoutAgent(t.env);
      const rotated = await cli(t.env, ['rotate', '--password-stdin'], PASSWORD);
      expect(rotated.code, rotated.stderr).toBe(0);
      if (agent) expect((await cli(t.env, ['set', 'after-rotation'], 'v')).code).toBe(0); // MACed under the new key, and anchored
      const logBefore = read('audit.log');
      const rotatedVault = { master: read('master_key.enc'), secrets: read('secrets.encrypted') };

      const r = await cli(t.env, ['restore', backup, '--force', '--password-stdin'], PASSWORD);
      expect(r.code, r.stderr).toBe(0);
      const kept = fs.readdirSync(t.home).filter((f) => f.startsWith('replaced-'));
      expect(kept).toHaveLength(1);
      const dir = path.join(t.home, kept[0]!);
      expect(r.stderr).toContain(`the files of the vault it replaced are kept in ${dir}, its audit log too`);
      expect(r.stderr).toContain('the audit log moved there as the vault it replaced was sealed under another master key, made by a rotation after the backup');
      expect(r.stderr).toContain(`GLASSDOME_HOME=${dir} glassdome audit verify --password-stdin`);
      if (agent) {
        expect(r.stderr).toContain("was locked: unlock it with the backup's password");
        expect((await cli(t.env, ['get', 'proxmox_password'])).code).toBe(4); // the rotated vault's key is gone from the agent
      }
      // Nothing lost: the rotated vault and its whole log, byte for byte (the agent's lock line may follow).
      expect(fs.readdirSync(dir).sort()).toEqual(['audit.log', 'master_key.enc', 'secrets.encrypted']);
      expect(fs.readFileSync(path.join(dir, 'master_key.enc'), 'utf8')).toBe(rotatedVault.master);
      expect(fs.readFileSync(path.join(dir, 'audit.log'), 'utf8').startsWith(logBefore)).toBe(true);
      if (!agent) expect(fs.readFileSync(path.join(dir, 'secrets.encrypted'), 'utf8')).toBe(rotatedVault.secrets);

      // The restored vault's log starts with the restore, MACed under the backup's key, and is anchored there.
      const fresh = events(t.home);
      expect(fresh).toHaveLength(1);
      expect(fresh[0]).toMatchObject({ action: 'restore', seq: 1 });
      expect(fresh[0].reason).toContain('the audit log starts anew here (the vault it replaced was sealed under another master key');
      const v = await verify(t.env);
      expect(v.code, v.stderr).toBe(0);
      expect(v.stdout).toMatch(/1 MAC\(s\) verified.*the vault's anchor \(line 1\) matches/);
      // The kept log still verifies where it is, with the kept (rotated) vault's key: MACs from its rotate_key line on.
      const there = await verify({ ...t.env, GLASSDOME_HOME: dir, GLASSDOME_AUTH_SOCK: undefined });
      expect(there.code, there.stderr).toBe(0);
      expect(there.stdout).toMatch(/audit log intact: \d+ line\(s\).*MAC\(s\) verified.*the vault's anchor \(line \d+\) matches/);

      if (agent) {
        expect((await unlock(t.env)).code).toBe(0);
        await expectAll(t.env);
        expect((await cli(t.env, ['get', 'after-rotation'])).code).toBe(3); // the backup's state, exactly
        expect((await cli(t.env, ['set', 'after-restore'], 'v')).code).toBe(0);
        const again = await cli(t.env, ['audit', 'verify']); // through the agent
        expect(again.code, again.stderr).toBe(0);
        expect(again.stdout).toContain('with the key (the agent)');
      }
    },
  );

  it.each([['an agent running there', true], ['no agent', false]])(
    'rotate → backup → restore into an empty home (%s): audit verify passes at once, every secret opens with the password; a log deleted afterwards is still caught',
    async (_what, agent) => {
      expect((await cli(t.env, ['rotate', '--password-stdin'], PASSWORD)).code).toBe(0);
      expect((await cli(t.env, ['backup', '-o', backup])).code).toBe(0);
      const empty = makeEnv();
      try {
        if (agent) await startAgent(empty.env);
        const r = await cli(empty.env, ['restore', backup, '--password-stdin'], PASSWORD);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).not.toMatch(/warning|reset-anchor/);
        const kept = fs.readdirSync(empty.home).filter((f) => f.startsWith('replaced'));
        if (agent && kept.length > 0) {
          // The agent, told to lock before the swap, may have written its (unkeyed) line there first: a log the backup's anchor does not name, kept aside.
          expect(kept).toHaveLength(1);
          expect(fs.readdirSync(path.join(empty.home, kept[0]!))).toEqual(['audit.log']);
          expect(r.stderr).toContain(`the audit log that was here is kept in ${path.join(empty.home, kept[0]!)}`);
          expect(r.stderr).toContain("the audit log moved there as it is not the log the backup's anchor names, with no vault here to anchor it");
        } else {
          expect(kept).toEqual([]);
          expect(r.stderr).toContain('glassdome: the audit log starts anew with this restore (the home had no audit log)\n');
        }
        const lines = events(empty.home);
        const restored = lines[lines.length - 1];
        expect(restored).toMatchObject({ action: 'restore', seq: 1, reason: expect.stringContaining('the audit log starts anew here (') });
        // Before: exit 6, the backup's anchor named a line of the log of the home it came from.
        const v = await verify(empty.env);
        expect(v.code, v.stderr).toBe(0);
        expect(v.stdout).toContain(`the vault's anchor (line ${restored.seq}) matches`);
        if (agent) {
          expect((await unlock(empty.env)).code).toBe(0);
          await expectAll(empty.env);
          const viaAgent = await cli(empty.env, ['audit', 'verify']);
          expect(viaAgent.code, viaAgent.stderr).toBe(0);
        } else {
          const keys = await unsealMasterKey(fs.readFileSync(path.join(empty.home, 'master_key.enc'), 'utf8'), Buffer.from(PASSWORD));
          const map = openSecrets(keys, fs.readFileSync(path.join(empty.home, 'secrets.encrypted'), 'utf8'));
          for (const [name, value] of Object.entries(SECRETS)) expect(Buffer.from(map.get(name)!.value).toString()).toBe(value);
        }
        // The fresh anchor still catches what it is for, in a home not just restored: a deleted log.
        fs.rmSync(path.join(empty.home, 'audit.log'));
        const cut = await verify(empty.env);
        expect(cut.code).toBe(6);
        expect(cut.stderr).toMatch(new RegExp(`^glassdome: audit log broken \\(audit\\.log\\): the log is empty or missing, but the vault anchored line ${restored.seq}`));
      } finally {
        empty.cleanup();
      }
    },
  );

  it('restore into a home that has no vault but a log that does not go on from the backup: the log is kept in a replaced-* directory restore names, and verify passes', async () => {
    expect((await cli(t.env, ['backup', '-o', backup])).code).toBe(0);
    const other = makeEnv();
    try {
      fs.mkdirSync(other.home, { mode: 0o700 });
      fs.writeFileSync(path.join(other.home, 'audit.log'), fs.readFileSync(path.join(t.home, 'audit.log')).subarray(0, 10), { mode: 0o600 }); // a damaged, unrelated log
      const r = await cli(other.env, ['restore', backup, '--password-stdin'], PASSWORD);
      expect(r.code, r.stderr).toBe(0);
      const kept = fs.readdirSync(other.home).filter((f) => f.startsWith('replaced-'));
      expect(kept).toHaveLength(1);
      const dir = path.join(other.home, kept[0]!);
      expect(r.stderr).toContain(`the audit log that was here is kept in ${dir}: remove it once nothing there is needed`);
      expect(r.stderr).toMatch(/the audit log moved there as it is not the log the backup's anchor names, with no vault here to anchor it \(audit\.log line 1: /);
      expect(fs.readdirSync(dir)).toEqual(['audit.log']);
      expect(fs.readFileSync(path.join(dir, 'audit.log'))).toEqual(fs.readFileSync(path.join(t.home, 'audit.log')).subarray(0, 10));
      const v = await verify(other.env);
      expect(v.code, v.stderr).toBe(0);
    } finally {
      other.cleanup();
    }
  });

  it('restore --force of an older backup of the same key over a log cut since: the cut log is kept aside (still exit 6 there) and named, not forgiven; verify passes on the new log', async () => {
    expect((await cli(t.env, ['backup', '-o', backup])).code).toBe(0);
    expect((await cli(t.env, ['set', 'later'], 'v')).code).toBe(0); // anchors the log's head in the live vault
    expect((await cli(t.env, ['lock'])).code).toBe(0);
    const lines = read('audit.log').split('\n');
    fs.writeFileSync(path.join(t.home, 'audit.log'), `${lines.slice(0, -3).join('\n')}\n`); // the last two lines cut
    const cutLog = read('audit.log');
    const r = await cli(t.env, ['restore', backup, '--force', '--password-stdin'], PASSWORD);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/the audit log moved there as it does not verify under the restored vault's key from the line the vault it replaced anchored: audit\.log line \d+: the log ends at line \d+ but the vault anchored line \d+/);
    const dir = path.join(t.home, fs.readdirSync(t.home).find((f) => f.startsWith('replaced-'))!);
    expect(fs.readFileSync(path.join(dir, 'audit.log'), 'utf8').startsWith(cutLog)).toBe(true); // plus what the locked agent wrote as restore told it to lock
    const there = await verify({ ...t.env, GLASSDOME_HOME: dir, GLASSDOME_AUTH_SOCK: undefined });
    expect(there.code).toBe(6); // the evidence still says what happened, where it was kept
    const v = await verify(t.env);
    expect(v.code, v.stderr).toBe(0);
  });

  it("a restore cut short after its swap (the backup's pair in place over a rotated vault, its log not moved; then the log gone): running it again leaves a log verify passes, and says what it found", async () => {
    expect((await cli(t.env, ['backup', '-o', backup])).code).toBe(0);
    withoutAgent(t.env);
    expect((await cli(t.env, ['rotate', '--password-stdin'], PASSWORD)).code).toBe(0);
    const bundle = parseBundle(fs.readFileSync(backup, 'utf8'), 'glassdome-backup', 'backup');
    for (const [name, text] of Object.entries(bundle.files)) fs.writeFileSync(path.join(t.home, name), text, { mode: 0o600 }); // what the swap left
    expect((await verify(t.env)).code).toBe(6); // the rotated key's lines under the backup's key
    const again = await cli(t.env, ['restore', backup, '--force', '--password-stdin'], PASSWORD);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/the audit log moved there as it does not verify under the restored vault's key from the line the backup anchored: audit\.log line \d+: its MAC does not match/);
    expect((await verify(t.env)).code).toBe(0);

    // Cut short after the log moved, before the restore line: no log, and the vault anchors a line of it.
    fs.rmSync(path.join(t.home, 'audit.log'));
    expect((await verify(t.env)).code).toBe(6);
    const third = await cli(t.env, ['restore', backup, '--force', '--password-stdin'], PASSWORD);
    expect(third.code, third.stderr).toBe(0);
    expect(third.stderr).toContain('glassdome: the audit log starts anew with this restore (the home had no audit log, though the vault it replaced anchored its line 1: it was deleted)\n');
    expect(events(t.home)[0].reason).toContain('though the vault it replaced anchored its line 1: it was deleted');
    expect((await verify(t.env)).code).toBe(0);
  });

  it('restore --force after a rotation with a fifo at audit.log: refused before the swap (exit 1, one line + hint), the vault untouched', async () => {
    expect((await cli(t.env, ['backup', '-o', backup])).code).toBe(0);
    expect((await cli(t.env, ['rotate', '--password-stdin'], PASSWORD)).code).toBe(0);
    withoutAgent(t.env);
    fs.renameSync(path.join(t.home, 'audit.log'), path.join(t.dir, 'audit.log'));
    expect(spawnSync('mkfifo', ['-m', '600', path.join(t.home, 'audit.log')]).status).toBe(0);
    const before = snapshot();
    const r = await cli(t.env, ['restore', backup, '--force', '--password-stdin'], PASSWORD);
    // Before: exit 1 after the swap, the backup's vault in place, naming neither it nor where the rotated one went.
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`glassdome: ${path.join(t.home, 'audit.log')} is not a regular file (it is a fifo); nothing was replaced\nglassdome: hint: check who put it there, then remove it: rm ${path.join(t.home, 'audit.log')}\n`);
    expect(fs.readdirSync(t.home).filter((f) => f.startsWith('replaced'))).toEqual([]);
    expect(snapshot()).toEqual(before);
  });

  it('passwd, then restore of a backup taken before it: the new password is refused naming the backup and replaces nothing; the old one restores, and verify passes', async () => {
    expect((await cli(t.env, ['backup', '-o', backup])).code).toBe(0);
    expect((await cli(t.env, ['set', 'later'], 'only in the live vault')).code).toBe(0);
    const changed = await cli(t.env, ['passwd', '--password-stdin'], `${PASSWORD}\nnew password\n`);
    expect(changed.code, changed.stderr).toBe(0);
    const before = snapshot();
    const wrong = await cli(t.env, ['restore', backup, '--force', '--password-stdin'], 'new password');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^glassdome: wrong password for the backup of \S+\nglassdome: hint: it opens with the master password the vault had when the backup was taken \(a passwd since does not change it\); nothing was replaced\n$/);
    expect(snapshot()).toEqual(before);

    const r = await cli(t.env, ['restore', backup, '--force', '--password-stdin'], PASSWORD);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('audit log'); // the same key: the log goes on, anchored forward
    const v = await verify(t.env);
    expect(v.code, v.stderr).toBe(0);
    expect((await unlock(t.env, [], 'new password')).code).toBe(1); // the vault is the backup's, password and all
    expect((await unlock(t.env)).code).toBe(0);
    await expectAll(t.env);
    expect((await cli(t.env, ['get', 'later'])).code).toBe(3);
  });

  it('a missing backup file, or one that is not a regular file (a directory, /dev/zero, a fifo, over the size limit): one line and a hint, exit 3 or 2 or 1, at once, nothing replaced', async () => {
    const before = snapshot();
    const missing = await cli(t.env, ['restore', path.join(t.dir, 'nope'), '--force', '--password-stdin'], PASSWORD);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toBe(`glassdome: no file ${path.join(t.dir, 'nope')}\nglassdome: hint: name a file glassdome backup -o FILE wrote\n`);
    const fifo = path.join(t.dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // Before: /dev/zero and the fifo hung (readFileSync waits for an end that never comes).
    for (const file of [t.dir, '/dev/zero', fifo]) {
      const r = await cli(t.env, ['restore', file, '--force', '--password-stdin'], PASSWORD);
      expect(r.code, `${file}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toBe(`glassdome: ${file} is not a regular file\nglassdome: hint: name a file glassdome backup -o FILE wrote; nothing was replaced\n`);
    }
    const big = path.join(t.dir, 'big.backup');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, 256 * 1024 * 1024 + 1); // sparse: one byte over MAX_BACKUP_BYTES
    const r = await cli(t.env, ['restore', big, '--force', '--password-stdin'], PASSWORD);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`glassdome: ${big} is over 268435456 bytes: not a glassdome backup\nglassdome: hint: name a file glassdome backup -o FILE wrote; nothing was replaced\n`);
    expect(snapshot()).toEqual(before);
  });
});
