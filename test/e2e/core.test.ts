// The core flow of the README through the real binary and a real agent, and the contract's
// exit codes, messages and hints for the ways it goes wrong.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { BIN, cli, makeEnv, makeVault, onTerminal, PASSWORD, startAgent, unlock, type TestEnv } from '../helpers/cli.js';

let t: TestEnv;
beforeEach(() => {
  t = makeEnv();
});
afterEach(() => t.cleanup());

/** Every error output is one line of message plus at most one hint line, never a stack trace. */
function expectCleanError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^glassdome: [a-z"0-9/]/);
  expect(lines[0]).toMatch(pattern);
  expect(lines.length).toBeLessThanOrEqual(2);
  if (lines[1]) expect(lines[1]).toMatch(/^glassdome: hint: /);
  expect(stderr).not.toMatch(/\n\s+at |Error:/);
}

describe('the README flow', () => {
  it('agent, init, unlock, set, get, list, status, rm, lock', async () => {
    const agent = await startAgent(t.env);
    const init = await cli(t.env, ['init', '--password-stdin'], PASSWORD);
    expect(init.code, init.stderr).toBe(0);
    expect(fs.statSync(t.home).mode & 0o777).toBe(0o700);
    for (const f of ['master_key.enc', 'secrets.encrypted']) expect(fs.statSync(path.join(t.home, f)).mode & 0o777).toBe(0o600);

    const u = await unlock(t.env);
    expect(u.code, u.stderr).toBe(0);
    expect(u.stderr).toMatch(/unlocked until \d{4}-/);

    expect((await cli(t.env, ['set', 'proxmox_password'], 'hunter2')).code).toBe(0);
    expect(await cli(t.env, ['get', 'proxmox_password'])).toMatchObject({ code: 0, stdout: 'hunter2\n' });
    expect(await cli(t.env, ['get', '-n', 'proxmox_password'])).toMatchObject({ code: 0, stdout: 'hunter2' });
    expect(JSON.parse((await cli(t.env, ['get', 'proxmox_password', '--json'])).stdout)).toEqual({ name: 'proxmox_password', value: 'hunter2' });

    expect((await cli(t.env, ['set', 'a_first'], 'x\n')).code).toBe(0);
    expect(await cli(t.env, ['list'])).toMatchObject({ code: 0, stdout: 'a_first\nproxmox_password\n' });
    expect(JSON.parse((await cli(t.env, ['list', '--json'])).stdout).map((e: { name: string }) => e.name)).toEqual(['a_first', 'proxmox_password']);

    const st = await cli(t.env, ['status', '--json']);
    expect(st.code).toBe(0);
    const status = JSON.parse(st.stdout);
    expect(status).toMatchObject({ vault: t.home, mode: 'agent', secret_count: 2, agent: { pid: agent.pid, socket: agent.socket } });
    expect(Date.parse(status.expires_at) - Date.parse(status.unlocked_at)).toBe(8 * 3600 * 1000);
    const human = await cli(t.env, ['status']);
    expect(human.stdout).toMatch(/^mode: +agent/m);

    expect((await cli(t.env, ['rm', 'proxmox_password'])).code).toBe(0);
    const gone = await cli(t.env, ['get', 'proxmox_password']);
    expect(gone.code).toBe(3);
    expectCleanError(gone.stderr, /no secret named "proxmox_password"/);

    expect((await cli(t.env, ['lock'])).code).toBe(0);
    const locked = await cli(t.env, ['get', 'a_first']);
    expect(locked.code).toBe(4);
    expectCleanError(locked.stderr, /locked/);
    expect(locked.stderr).toMatch(/hint: .*glassdome unlock/);
    expect((await cli(t.env, ['status'])).code).toBe(4);
    expect(JSON.parse((await cli(t.env, ['status', '--json'])).stdout).mode).toBe('locked');
  });
});

describe('errors', () => {
  it('a wrong password exits 1 with one line and a hint, and leaves the vault as it was', async () => {
    await startAgent(t.env);
    await makeVault(t);
    const before = fs.readFileSync(path.join(t.home, 'master_key.enc'));
    const r = await unlock(t.env, [], 'not the password');
    expect(r.code).toBe(1);
    expectCleanError(r.stderr, /^glassdome: wrong password$/m);
    expect(fs.readFileSync(path.join(t.home, 'master_key.enc'))).toEqual(before);
    expect((await cli(t.env, ['get', 'x'])).code).toBe(4);
  });

  it('a command that needs the key and finds no agent exits 4 naming eval "$(glassdome agent)"', async () => {
    await makeVault(t);
    const r = await cli(t.env, ['get', 'x']);
    expect(r.code).toBe(4);
    expectCleanError(r.stderr, /.*/);
    expect(r.stderr).toContain('eval "$(glassdome agent)"');
    expect(r.stderr).toContain('glassdome unlock');
  });

  it('no vault: a clear error and the init hint', async () => {
    await startAgent(t.env);
    const r = await unlock(t.env);
    expect(r.code).toBe(1);
    expectCleanError(r.stderr, /no vault at /);
    expect(r.stderr).toContain('glassdome init');
  });

  it('names outside the pattern exit 2 and store nothing', async () => {
    await startAgent(t.env);
    await makeVault(t);
    await unlock(t.env);
    for (const bad of ['-x', '.hidden', 'a b', 'x'.repeat(129), 'ü', 'a\\b']) {
      const r = await cli(t.env, ['set', '--', bad], 'v');
      expect(r.code, bad).toBe(2);
      expectCleanError(r.stderr, /.*/);
    }
    expect((await cli(t.env, ['get', 'a:b'])).code).toBe(2);
    expect((await cli(t.env, ['list'])).stdout).toBe('');
  });

  it('usage errors exit 2 in the same style', async () => {
    const missing = await cli(t.env, ['get']);
    expect(missing.code).toBe(2);
    expectCleanError(missing.stderr, /missing/);
    const unknown = await cli(t.env, ['list', '--bogus']);
    expect(unknown.code).toBe(2);
    const noTty = await cli(t.env, ['init'], 'pw');
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toContain('--password-stdin');
  });

  it('init refuses to replace a vault; --force replaces it and the agent drops the old key', async () => {
    await startAgent(t.env);
    await makeVault(t);
    await unlock(t.env);
    await cli(t.env, ['set', 'x'], 'old');
    const again = await cli(t.env, ['init', '--password-stdin'], 'pw2');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('--force');
    expect((await cli(t.env, ['init', '--password-stdin', '--force'], 'pw2')).code).toBe(0);
    const r = await cli(t.env, ['get', 'x']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/locked/);
    expect((await unlock(t.env, [], 'pw2')).code).toBe(0);
    expect((await cli(t.env, ['list'])).stdout).toBe('');
  });

  it('init --force keeps the replaced vault and its audit log, byte for byte, in a replaced-* directory it names: the old vault opens there, the new one starts its own chain', async () => {
    await startAgent(t.env);
    await makeVault(t);
    await unlock(t.env);
    expect((await cli(t.env, ['set', 'x'], 'old')).code).toBe(0); // MACed under the old vault's key, by the unlocked agent
    const oldMasterKey = fs.readFileSync(path.join(t.home, 'master_key.enc'));
    const oldLog = fs.readFileSync(path.join(t.home, 'audit.log'));
    fs.writeFileSync(path.join(t.home, 'audit.log.1'), 'a rotated file\n', { mode: 0o600 });

    const r = await cli(t.env, ['init', '--password-stdin', '--force'], 'pw2');
    expect(r.code, r.stderr).toBe(0);
    const kept = fs.readdirSync(t.home).filter((f) => f.startsWith('replaced-'));
    expect(kept).toHaveLength(1);
    const dir = path.join(t.home, kept[0]!);
    expect(r.stderr).toContain(`kept in ${dir}`);
    expect(r.stderr).toContain('was locked: unlock it with the new password'); // before the swap: the old key MACs nothing into the new log
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(dir).sort()).toEqual(['audit.log', 'audit.log.1', 'master_key.enc', 'secrets.encrypted']);
    for (const name of fs.readdirSync(dir)) expect(fs.statSync(path.join(dir, name)).mode & 0o777, name).toBe(0o600);
    expect(fs.readFileSync(path.join(dir, 'master_key.enc'))).toEqual(oldMasterKey);
    const keptLog = fs.readFileSync(path.join(dir, 'audit.log'));
    expect(keptLog.subarray(0, oldLog.length)).toEqual(oldLog); // plus the agent's lock line
    expect(fs.readFileSync(path.join(dir, 'audit.log.1'), 'utf8')).toBe('a rotated file\n');
    expect(fs.existsSync(path.join(t.home, 'audit.log.1'))).toBe(false);
    expect(fs.readFileSync(path.join(t.home, 'master_key.enc'))).not.toEqual(oldMasterKey);

    // The agent still holds the old log open: its next lines go to the new log, not into the kept copy.
    expect((await unlock(t.env, [], 'pw2')).code).toBe(0);
    expect((await cli(t.env, ['set', 'y'], 'new')).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'audit.log'))).toEqual(keptLog);
    const events = fs.readFileSync(path.join(t.home, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ action: 'init', seq: 1 });
    expect(events[0].reason).toContain(`kept in ${dir}`);
    expect(events.map((e) => e.action)).toContain('set');
    // The new vault's log verifies under its own key; the old lines' MACs would not.
    const verify = await cli(t.env, ['audit', 'verify', '--password-stdin'], 'pw2');
    expect(verify.code, verify.stderr).toBe(0);

    // Recoverable: the directory is the old vault's home, with its secret and its intact log.
    const back = makeEnv();
    try {
      back.env.GLASSDOME_HOME = dir;
      await startAgent(back.env);
      expect((await unlock(back.env)).code).toBe(0);
      expect((await cli(back.env, ['get', '-n', 'x'])).stdout).toBe('old');
      fs.rmSync(path.join(dir, 'audit.log.1')); // the stand-in rotated file above is not a real chain
      const oldVerify = await cli(back.env, ['audit', 'verify']);
      expect(oldVerify.code, oldVerify.stderr).toBe(0);
      expect(oldVerify.stdout).toMatch(/[1-9]\d* MAC\(s\) verified/);
    } finally {
      back.cleanup();
    }
  });

  it('init --force over an audit log it cannot move (a symbolic link out of the home, readable by others, a fifo, a directory) refuses before it replaces anything', async () => {
    await makeVault(t);
    const log = path.join(t.home, 'audit.log');
    const outside = path.join(path.dirname(t.home), 'outside.txt');
    const plant: Record<string, () => void> = {
      'a symbolic link': () => fs.symlinkSync(outside, log),
      'readable by others': () => fs.writeFileSync(log, 'a line\n', { mode: 0o644 }),
      'a fifo': () => execFileSync('mkfifo', [log]),
      'a directory': () => fs.mkdirSync(log),
    };
    for (const [what, make] of Object.entries(plant)) {
      fs.writeFileSync(outside, 'outside\n');
      const before = Object.fromEntries(['master_key.enc', 'secrets.encrypted'].map((f) => [f, fs.readFileSync(path.join(t.home, f))]));
      fs.rmSync(log, { recursive: true, force: true });
      make();
      const r = await cli(t.env, ['init', '--password-stdin', '--force'], 'pw2');
      expect(r.code, what).toBeGreaterThan(0);
      expectCleanError(r.stderr, /audit\.log/);
      // Nothing replaced, nothing kept aside, nothing written outside the home: init said it failed, and it did.
      for (const [f, bytes] of Object.entries(before)) expect(fs.readFileSync(path.join(t.home, f)), `${what}: ${f}`).toEqual(bytes);
      expect(fs.readdirSync(t.home).filter((f) => f.startsWith('replaced-')), what).toEqual([]);
      expect(fs.readFileSync(outside, 'utf8')).toBe('outside\n');
    }
    // The disk fills (here: ulimit -f) while init --force copies the log aside: the new vault stands,
    // init says so and where the old vault files are, and the log is not split: audit.log and its
    // rotated file stay whole in the home, and no truncated copy is left beside the kept vault.
    fs.rmSync(log, { recursive: true, force: true });
    const oldLog = Buffer.from(Array.from({ length: 400 }, (_, i) => `{"seq":${i},"line":"${'x'.repeat(60)}"}\n`).join(''));
    fs.writeFileSync(log, oldLog, { mode: 0o600 });
    fs.writeFileSync(`${log}.1`, 'a rotated file\n', { mode: 0o600 });
    const full = spawnSync('/bin/sh', ['-c', `ulimit -f 16; exec "${process.execPath}" "${BIN}" init --password-stdin --force`], { env: t.env, input: 'pw2', encoding: 'utf8' });
    expect(full.status, full.stderr).toBe(1);
    expectCleanError(full.stderr, /the file size limit/);
    const keptDirs = fs.readdirSync(t.home).filter((f) => f.startsWith('replaced-'));
    expect(keptDirs).toHaveLength(1);
    const keptDir = path.join(t.home, keptDirs[0]!);
    expect(full.stderr).toContain(`the new vault is in place; the old vault files are kept in ${keptDir}`);
    expect(fs.readdirSync(keptDir).sort()).toEqual(['master_key.enc', 'secrets.encrypted']);
    expect(fs.readFileSync(log)).toEqual(oldLog);
    expect(fs.readFileSync(`${log}.1`, 'utf8')).toBe('a rotated file\n');
    fs.rmSync(keptDir, { recursive: true });
    fs.rmSync(`${log}.1`);
    // Once the log is a private file again, init --force replaces the vault (and keeps the old one).
    fs.rmSync(log, { recursive: true, force: true });
    fs.writeFileSync(log, 'a line\n', { mode: 0o600 });
    const r = await cli(t.env, ['init', '--password-stdin', '--force'], 'pw2');
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readdirSync(t.home).filter((f) => f.startsWith('replaced-'))).toHaveLength(1);
  });
});

describe('values', () => {
  beforeEach(async () => {
    await startAgent(t.env);
    await makeVault(t);
    await unlock(t.env);
  });

  it('a single-line value on stdin loses its one trailing newline; a multi-line one round-trips exactly', async () => {
    await cli(t.env, ['set', 'two'], 'a\n\n');
    expect((await cli(t.env, ['get', '-n', 'two'])).stdout).toBe('a\n\n');
    await cli(t.env, ['set', 'crlf'], 'b\r\n');
    expect((await cli(t.env, ['get', '-n', 'crlf'])).stdout).toBe('b');
    const binary = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0, 10]);
    await cli(t.env, ['set', 'bin'], binary);
    const got = await cli(t.env, ['get', 'bin', '--json']);
    expect(Buffer.from(JSON.parse(got.stdout).value_base64, 'base64')).toEqual(binary);
  });

  it('1 MiB is the limit; an empty value is refused', async () => {
    const max = Buffer.alloc(1024 * 1024, 'v');
    expect((await cli(t.env, ['set', 'big'], max)).code).toBe(0);
    expect((await cli(t.env, ['get', '-n', 'big'])).stdout.length).toBe(1024 * 1024);
    const over = await cli(t.env, ['set', 'bigger'], Buffer.concat([max, Buffer.from('vv')]));
    expect(over.code).toBe(1);
    expectCleanError(over.stderr, /over the limit/);
    const empty = await cli(t.env, ['set', 'nothing'], '');
    expect(empty.code).toBe(1);
    expectCleanError(empty.stderr, /empty/);
    expect(JSON.parse((await cli(t.env, ['list', '--json'])).stdout).map((e: { name: string }) => e.name)).toEqual(['big']);
  });
});

describe('prompts', () => {
  it('set on a terminal asks twice, hidden, on stderr; two different answers store nothing', async () => {
    await startAgent(t.env);
    await makeVault(t);
    await unlock(t.env);
    const ok = onTerminal(t.env, ['set', 'typed'], ['s3cret-typed', 's3cret-typed']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe('');
    expect(ok.terminal).toMatch(/Value for typed[\s\S]*Repeat it/);
    expect(ok.terminal).not.toContain('s3cret-typed'); // not echoed
    expect((await cli(t.env, ['get', '-n', 'typed'])).stdout).toBe('s3cret-typed');
    const differ = onTerminal(t.env, ['set', 'other'], ['one', 'two']);
    expect(differ.code).toBe(2);
    expect(differ.terminal).toMatch(/the two entries do not match; nothing was changed/);
    expect((await cli(t.env, ['get', 'other'])).code).toBe(3);
  });
});

describe('passwd', () => {
  it('re-seals the master key only: the old password stops working, secrets and sessions stay', async () => {
    await startAgent(t.env);
    await makeVault(t);
    await unlock(t.env);
    await cli(t.env, ['set', 'keep'], 'me');
    const secretsBefore = fs.readFileSync(path.join(t.home, 'secrets.encrypted'));
    const r = await cli(t.env, ['passwd', '--password-stdin'], `${PASSWORD}\nnew password\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(t.home, 'secrets.encrypted'))).toEqual(secretsBefore);
    expect((await cli(t.env, ['get', '-n', 'keep'])).stdout).toBe('me');
    expect(JSON.parse(fs.readFileSync(path.join(t.home, 'master_key.enc'), 'utf8')).kdf).toMatchObject({ opslimit: 3, memlimit: 67108864 });
    expect((await unlock(t.env)).code).toBe(1);
    expect((await unlock(t.env, [], 'new password')).code).toBe(0);
    const wrongOld = await cli(t.env, ['passwd', '--password-stdin'], 'nope\nother\n');
    expect(wrongOld.code).toBe(1);
    expect((await cli(t.env, ['passwd', '--password-stdin'], 'just one line')).code).toBe(2);
  });
});
