// The fallback with no agent: the master key in a real Secret Service (our own gnome-keyring on a
// private D-Bus), session_cache.json beside the vault. On CI these tests must run: a missing part
// fails them with its name. Elsewhere they are skipped, saying why.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, cli, makeEnv, makeVault, PASSWORD, unlock, type TestEnv } from '../helpers/cli.js';
import { keyringMissing, startKeyring, type Keyring } from '../helpers/keyring.js';

const missing = keyringMissing();
if (missing && process.env.CI) throw new Error(`keyring tests cannot run on CI: ${missing}`);
if (missing) console.warn(`keyring tests skipped: ${missing}`);

describe.skipIf(missing !== null)('the keyring fallback', () => {
  let t: TestEnv;
  let keyring: Keyring;
  let vaultId: string;
  beforeAll(async () => {
    t = makeEnv();
    keyring = await startKeyring(t.dir);
    Object.assign(t.env, keyring.env);
  });
  afterAll(() => {
    keyring?.stop();
    t?.cleanup();
  });
  beforeEach(async () => {
    fs.rmSync(t.home, { recursive: true, force: true });
    vaultId = await makeVault(t);
  });
  afterEach(async () => {
    await cli(t.env, ['lock']);
  });

  const cachePath = () => path.join(t.home, 'session_cache.json');
  const items = () => keyring.secretTool(['search', '--all', 'service', 'glassdome']);

  it('unlock, get, set, status, lock: the round trip without an agent', async () => {
    const u = await unlock(t.env);
    expect(u.code, u.stderr).toBe(0);
    expect(u.stderr).toMatch(/unlocked until .*OS keyring session/);
    const found = items();
    // The attribute names README.md gives: service and username (@napi-rs/keyring's account).
    expect(found.stdout + found.stderr).toContain('attribute.service = glassdome');
    expect(found.stdout + found.stderr).toContain(`attribute.username = master_key:${vaultId}`);
    expect(fs.statSync(cachePath()).mode & 0o777).toBe(0o600);

    expect((await cli(t.env, ['set', 'proxmox_password'], 'hunter2')).code).toBe(0);
    expect(await cli(t.env, ['get', 'proxmox_password'])).toMatchObject({ code: 0, stdout: 'hunter2\n' });
    expect((await cli(t.env, ['list'])).stdout).toBe('proxmox_password\n');
    const st = JSON.parse((await cli(t.env, ['status', '--json'])).stdout);
    expect(st).toMatchObject({ mode: 'keyring', agent: null, secret_count: 1, vault_id: vaultId });
    expect(Date.parse(st.expires_at) - Date.parse(st.unlocked_at)).toBe(8 * 3600 * 1000);
    const exec = await cli(t.env, ['exec', '--', '/usr/bin/python3', '-c', 'import json,os; print(json.load(os.fdopen(3))["proxmox_password"])']);
    expect(exec.stdout).toBe('hunter2\n');
    await cli(t.env, ['set', 'temporary'], 'x');
    expect(JSON.parse(fs.readFileSync(cachePath(), 'utf8')).secret_count).toBe(2);
    expect((await cli(t.env, ['rm', 'temporary'])).code).toBe(0);
    expect((await cli(t.env, ['get', 'temporary'])).code).toBe(3);
    expect(JSON.parse(fs.readFileSync(cachePath(), 'utf8')).secret_count).toBe(1);
    const audited = fs.readFileSync(path.join(t.home, 'audit.log'), 'utf8');
    expect(audited).toMatch(/"event_type":"secret_access","client":\{"pid":\d+,"uid":\d+,"exe":"[^"]+"\},"action":"rm","resource":"temporary","result":"success"/);

    const lock = await cli(t.env, ['lock']);
    expect(lock.code).toBe(0);
    expect(lock.stderr).toMatch(/keyring item removed; session cache removed/);
    expect(items().stdout + items().stderr).not.toContain('master_key');
    expect(fs.existsSync(cachePath())).toBe(false);
    const after = await cli(t.env, ['get', 'proxmox_password']);
    expect(after.code).toBe(4);
    expect(after.stderr).toContain('glassdome unlock');
    expect((await cli(t.env, ['status'])).code).toBe(4);
  });

  it('the cache holds metadata only: never a value or a key', async () => {
    await unlock(t.env);
    await cli(t.env, ['set', 'a'], 'value-that-must-not-leak');
    const cache = JSON.parse(fs.readFileSync(cachePath(), 'utf8'));
    expect(Object.keys(cache).sort()).toEqual(['created_at', 'expires_at', 'mac', 'secret_count', 'vault_id']);
    expect(cache.secret_count).toBe(1);
    const raw = fs.readFileSync(cachePath(), 'utf8');
    expect(raw).not.toContain('value-that-must-not-leak');
    expect(raw).not.toContain(Buffer.from('value-that-must-not-leak').toString('base64'));
  });

  it('expiry: after the lifetime the item is deleted and the command exits 4 with `session expired`', async () => {
    expect((await unlock(t.env)).code).toBe(0);
    expect((await cli(t.env, ['set', 'x'], 'v')).code).toBe(0);
    // A new 3 s session from here: no command has to fit in it, however slowly CLIs start.
    expect((await unlock(t.env, ['--lifetime', '3s'])).code).toBe(0);
    const deadline = Date.parse(JSON.parse(fs.readFileSync(cachePath(), 'utf8')).expires_at);
    await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()) + 100));
    const r = await cli(t.env, ['get', 'x']);
    expect(r.code).toBe(4);
    expect(r.stderr).toBe('glassdome: session expired: run glassdome unlock\nglassdome: hint: glassdome unlock\n');
    expect(items().stdout + items().stderr).not.toContain('master_key');
    expect(fs.existsSync(cachePath())).toBe(false);
  });

  it('an edited cache cannot extend the session: it counts as expired and its item is deleted', async () => {
    await unlock(t.env, ['--lifetime', '1m']);
    const cache = JSON.parse(fs.readFileSync(cachePath(), 'utf8'));
    cache.expires_at = new Date(Date.now() + 365 * 86400_000).toISOString();
    fs.writeFileSync(cachePath(), JSON.stringify(cache), { mode: 0o600 });
    const r = await cli(t.env, ['get', 'x']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/session expired: run glassdome unlock \(session_cache.json was edited\)/);
    expect(items().stdout + items().stderr).not.toContain('master_key');
    expect(fs.existsSync(cachePath())).toBe(false);
  });

  it('no D-Bus: unlock exits 1 with the agent hint; a command needing the key exits 4 naming the cause', async () => {
    const noBus = { ...t.env };
    delete noBus.DBUS_SESSION_BUS_ADDRESS;
    const u = await unlock(noBus);
    expect(u.code).toBe(1);
    expect(u.stderr).toMatch(/^glassdome: no agent is running and the OS keyring is unavailable: no D-Bus session bus\nglassdome: hint: start an agent: eval "\$\(glassdome agent\)"\n$/);
    const g = await cli(noBus, ['get', 'x']);
    expect(g.code).toBe(4);
    expect(g.stderr).toMatch(/no D-Bus session bus, and there is no terminal/);
    expect(g.stderr).not.toMatch(/\n\s+at /);
  });

  it('a locked collection is detected, not mistaken for "no item"', async () => {
    const own = await startKeyring(path.join(t.dir, 'locked')); // its own, so the lock stays here
    const env = { ...t.env, ...own.env };
    try {
      expect((await unlock(env)).code).toBe(0);
      own.lockCollection();
      const g = await cli(env, ['get', 'x']);
      expect(g.code).toBe(4);
      expect(g.stderr).toMatch(/keyring collection is locked/);
      expect(fs.existsSync(cachePath())).toBe(true); // a locked keyring does not end the session
      const u = await unlock(env);
      expect(u.code).toBe(1);
      expect(u.stderr).toMatch(/keyring collection is locked/);
    } finally {
      own.stop();
    }
  });

  it('with a terminal and no usable keyring, the password opens the vault for that one command', async () => {
    await unlock(t.env);
    await cli(t.env, ['set', 'x'], 'one-call');
    const env = { ...t.env };
    delete env.DBUS_SESSION_BUS_ADDRESS;
    const script = [
      'import os, pty, sys, time',
      'pid, fd = pty.fork()',
      'if pid == 0:',
      '    os.execv(sys.argv[1], [sys.argv[1], sys.argv[2], "get", "x"])',
      'out = b""',
      'sent = False',
      'while True:',
      '    try: chunk = os.read(fd, 1024)',
      '    except OSError: break',
      '    if not chunk: break',
      '    out += chunk',
      '    if not sent and b"Master password" in out:',
      '        os.write(fd, sys.argv[3].encode() + b"\\r"); sent = True',
      '_, status = os.waitpid(pid, 0)',
      'print(out.decode(errors="replace")); print("EXIT", os.waitstatus_to_exitcode(status))',
    ].join('\n');
    const r = spawnSync('/usr/bin/python3', ['-c', script, process.execPath, BIN, PASSWORD], { env, encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout).toMatch(/the password opens the vault for this command only/);
    expect(r.stdout).toMatch(/one-call/);
    expect(r.stdout).toMatch(/EXIT 0/);
  });
  it('an import through the keyring session checks and moves the audit anchor, as set does', async () => {
    await unlock(t.env);
    expect((await cli(t.env, ['set', 'a'], '1')).code).toBe(0); // seals the anchor: the log's head
    const log = path.join(t.home, 'audit.log');
    const lines = fs.readFileSync(log, 'utf8').split('\n').slice(0, -1);
    fs.writeFileSync(log, `${lines.slice(0, -2).join('\n')}\n`); // a cut tail, as someone hiding their last reads would
    const source = path.join(t.dir, 'bulk.env');
    fs.writeFileSync(source, 'B=2\nC=3\n');
    const imported = await cli(t.env, ['import', 'env', source]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toMatch(/^glassdome: warning: the audit log was tampered with: .*the vault anchored/m);
    expect(fs.readFileSync(log, 'utf8')).toMatch(/"event_type":"audit_tampered"/);
    const verified = await cli(t.env, ['audit', 'verify', '--password-stdin'], PASSWORD);
    expect(verified.code).toBe(6); // the old anchor is kept: the cut is not forgiven by the import
  });
});
