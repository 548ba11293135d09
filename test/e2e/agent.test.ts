// The agent as a process: start and reuse, shell dialects, socket and directory modes, stale
// sockets, -k, -D, lifetime expiry at the deadline, hardening, SIGTERM, and the peer check
// against another uid (the socket directory opened up on purpose).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { alive, BIN, cli, makeEnv, makeVault, python, startAgent, unlock, waitFor, type TestEnv } from '../helpers/cli.js';
import { Wire } from '../helpers/wire.js';

let t: TestEnv;
beforeEach(() => {
  t = makeEnv();
});
afterEach(() => t.cleanup());

describe('starting and reusing', () => {
  it('a second `glassdome agent` reuses the live agent; sockets and directory are private', async () => {
    const first = await startAgent(t.env);
    expect(first.socket).toBe(path.join(t.runtime, 'glassdome', 'agent.sock'));
    const again = await cli(t.env, ['agent', '-s']);
    expect(again.stdout).toBe(`GLASSDOME_AUTH_SOCK=${first.socket}; export GLASSDOME_AUTH_SOCK;\nGLASSDOME_AGENT_PID=${first.pid}; export GLASSDOME_AGENT_PID;\n`);
    expect(fs.lstatSync(first.socket).isSocket()).toBe(true);
    expect(fs.lstatSync(first.socket).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(first.socket)).mode & 0o777).toBe(0o700);
    const csh = await cli(t.env, ['agent', '-c']);
    expect(csh.stdout).toBe(`setenv GLASSDOME_AUTH_SOCK ${first.socket};\nsetenv GLASSDOME_AGENT_PID ${first.pid};\n`);
    const fish = await cli(t.env, ['agent', '--fish']);
    expect(fish.stdout).toBe(`set -gx GLASSDOME_AUTH_SOCK ${first.socket};\nset -gx GLASSDOME_AGENT_PID ${first.pid};\n`);
    const guessed = await cli({ ...t.env, SHELL: '/bin/tcsh' }, ['agent']);
    expect(guessed.stdout).toContain('setenv GLASSDOME_AUTH_SOCK');
  });

  it('the shell code works when evaluated by a real shell', async () => {
    const r = spawnSync('/bin/sh', ['-c', `eval "$(${process.execPath} ${BIN} agent -s)" && echo "$GLASSDOME_AUTH_SOCK $GLASSDOME_AGENT_PID"`], { env: t.env, encoding: 'utf8' });
    const [sock, pid] = r.stdout.trim().split(' ');
    expect(sock).toBe(path.join(t.runtime, 'glassdome', 'agent.sock'));
    expect(alive(Number(pid))).toBe(true);
    t.env.GLASSDOME_AGENT_PID = pid;
  });

  it('-k stops the agent, removes its socket and prints code that unsets the variables', async () => {
    const a = await startAgent(t.env);
    const r = await cli(t.env, ['agent', '-k', '-s']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('unset GLASSDOME_AUTH_SOCK;\nunset GLASSDOME_AGENT_PID;\n');
    expect(alive(a.pid)).toBe(false);
    expect(fs.existsSync(a.socket)).toBe(false);
    const none = await cli(t.env, ['agent', '-k']);
    expect(none.code).toBe(4);
    expect(none.stderr).toMatch(/no agent answers/);
  });

  it('a stale socket left by a killed agent is removed and a new agent starts', async () => {
    const a = await startAgent(t.env);
    process.kill(a.pid, 'SIGKILL');
    await waitFor(() => !alive(a.pid), 'the agent to die');
    expect(fs.existsSync(a.socket)).toBe(true);
    const b = await startAgent(t.env);
    expect(b.pid).not.toBe(a.pid);
    expect(b.socket).toBe(a.socket);
  });

  it('-a picks the socket; a path over 107 bytes is a usage error; a directory others can write is refused', async () => {
    const sock = path.join(t.dir, 'custom.sock');
    const a = await startAgent(t.env, ['-a', sock]);
    expect(a.socket).toBe(sock);
    const long = await cli(t.env, ['agent', '-a', `/tmp/${'x'.repeat(110)}.sock`]);
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/107-byte limit/);
    const open = path.join(t.dir, 'open');
    fs.mkdirSync(open, { mode: 0o777 });
    fs.chmodSync(open, 0o777);
    const refused = await cli(t.env, ['agent', '-a', path.join(open, 'a.sock')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/other users/);
  });

  it('skips a default directory open to others, saying why, and listens in a private one beside it', async () => {
    const dir = path.join(t.runtime, 'glassdome');
    fs.mkdirSync(dir, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    const a = await startAgent(t.env);
    expect(path.dirname(a.socket).startsWith(`${dir}-`)).toBe(true);
    expect(fs.statSync(path.dirname(a.socket)).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(dir)).toEqual([]);
    const again = await cli({ ...t.env, GLASSDOME_AUTH_SOCK: '' }, ['agent', '-s']);
    expect(again.stderr).toContain(`glassdome: not using ${dir}: its mode is 0755, not 0700`);
    expect(again.stdout).toContain(`GLASSDOME_AUTH_SOCK=${a.socket};`);
  });

  it('-D runs in the foreground, logs to stderr and exits on SIGTERM, wiping and removing the socket', async () => {
    await makeVault(t);
    const sock = path.join(t.dir, 'fg.sock');
    const child = spawn(process.execPath, [BIN, 'agent', '-D', '-s', '-a', sock], { env: t.env });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (err += c));
    await waitFor(() => out.includes('GLASSDOME_AGENT_PID'), 'the shell code');
    expect(out).toContain(`GLASSDOME_AGENT_PID=${child.pid};`);
    expect(err).toMatch(/glassdome agent: listening on /);
    const env = { ...t.env, GLASSDOME_AUTH_SOCK: sock };
    expect((await unlock(env)).code).toBe(0);
    await waitFor(() => /unlocked by pid \d+/.test(err), 'the unlock log line');
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(err).toMatch(/SIGTERM: wiping the key/);
    expect(fs.existsSync(sock)).toBe(false);
  });

  it('refuses to reuse an agent that serves another vault', async () => {
    await startAgent(t.env);
    const other = { ...t.env, GLASSDOME_HOME: path.join(t.dir, 'other') };
    const r = await cli(other, ['agent']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/serves .* not /);
    expect((await cli(other, ['init', '--password-stdin'], 'pw')).code).toBe(0); // else get says "no vault" first
    const get = await cli(other, ['get', 'x']);
    expect(get.code).toBe(1);
    expect(get.stderr).toMatch(/serves/);
  });
});

describe('a socket directory that cannot be made', () => {
  it('an XDG_RUNTIME_DIR of another user (kept after su) or one that is not there: exit 1, and a hint that names the way out', () => {
    // Run as nobody, whose XDG_RUNTIME_DIR names a directory of root's (0700), then one that does not exist.
    fs.chmodSync(t.dir, 0o711);
    const theirs = path.join(t.dir, 'root-runtime');
    fs.mkdirSync(theirs, { mode: 0o700 });
    const home = path.join(t.dir, 'nobody-home');
    fs.mkdirSync(home, { mode: 0o700 });
    fs.chownSync(home, 65534, 65534);
    const hint = 'glassdome: hint: point XDG_RUNTIME_DIR (or, without it, TMPDIR) at a directory of yours, or pick a socket path: glassdome agent -a PATH\n';
    for (const [runtime, first] of [
      [theirs, `glassdome: cannot create a private socket directory beside ${theirs}/glassdome: EACCES\n`],
      [path.join(t.dir, 'gone'), `glassdome: cannot create the socket directory ${t.dir}/gone/glassdome: permission denied\n`],
    ]) {
      const env = { ...t.env, HOME: home, GLASSDOME_HOME: path.join(home, '.glassdome'), XDG_RUNTIME_DIR: runtime };
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'agent', '-s'], { env, encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.endsWith(`${first}${hint}`), r.stderr).toBe(true);
    }
  });
});

describe('the key in the agent', () => {
  beforeEach(async () => {
    await makeVault(t);
  });

  it('is dropped at the lifetime deadline, without any request', async () => {
    const a = await startAgent(t.env);
    expect((await unlock(t.env, ['--lifetime', '2s'])).code).toBe(0);
    await cli(t.env, ['set', 'x'], 'v');
    const wire = await Wire.connect(a.socket);
    await new Promise((r) => setTimeout(r, 2500));
    wire.request({ v: 1, id: 1, op: 'status' });
    expect(await wire.reply()).toMatchObject({ ok: true, state: 'locked', reason: 'expired' });
    wire.close();
    const r = await cli(t.env, ['get', 'x']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/session expired: run glassdome unlock/);
    const audit = fs.readFileSync(path.join(t.home, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(audit.find((e) => e.event_type === 'session_expired')).toMatchObject({ client: null, action: 'expire', result: 'success' });
  });

  it('takes its default lifetime from `agent --lifetime`', async () => {
    await startAgent(t.env, ['--lifetime', '90s']);
    await unlock(t.env);
    const st = JSON.parse((await cli(t.env, ['status', '--json'])).stdout);
    expect(Date.parse(st.expires_at) - Date.parse(st.unlocked_at)).toBe(90_000);
  });

  it('runs hardened: not dumpable, no core files, keys in mlocked memory', async () => {
    const a = await startAgent(t.env);
    await unlock(t.env);
    const st = JSON.parse((await cli(t.env, ['status', '--json'])).stdout);
    expect(st.agent.hardening).toEqual({ dumpable: false, core_limit: 0, keys_mlocked: true });
    expect(fs.readFileSync(`/proc/${a.pid}/limits`, 'utf8')).toMatch(/Max core file size\s+0\s+0/);
    expect(Number(/VmLck:\s+(\d+)/.exec(fs.readFileSync(`/proc/${a.pid}/status`, 'utf8'))?.[1])).toBeGreaterThan(0);
    expect(fs.readlinkSync(`/proc/${a.pid}/cwd`)).toBe('/');
  });

  it('never loads the password KDF (libsodium): the agent’s whole module graph', () => {
    const script = `require(${JSON.stringify(path.join(__dirname, '../../dist/agent/daemon.js'))}); console.log(Object.keys(require.cache).join('\\n'))`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('agent/server.js');
    expect(r.stdout).not.toMatch(/libsodium/);
  });

  it('SIGTERM wipes the key, removes the socket and exits', async () => {
    const a = await startAgent(t.env);
    await unlock(t.env);
    process.kill(a.pid, 'SIGTERM');
    await waitFor(() => !alive(a.pid), 'the agent to exit');
    expect(fs.existsSync(a.socket)).toBe(false);
  });
});

describe('peers', () => {
  it('refuses a client of another uid itself, even with the socket opened up, and keeps serving', async () => {
    await makeVault(t);
    const a = await startAgent(t.env);
    await unlock(t.env);
    await cli(t.env, ['set', 'x'], 'secret-value');
    // Open the way on purpose: only the agent's own check stands.
    for (let d = path.dirname(a.socket); d !== '/'; d = path.dirname(d)) fs.chmodSync(d, fs.statSync(d).mode | 0o755);
    fs.chmodSync(a.socket, 0o666);
    const script = [
      'import socket, sys',
      's = socket.socket(socket.AF_UNIX)',
      's.connect(sys.argv[1])',
      's.sendall(b\'{"v":1,"id":1,"op":"get","name":"x"}\\n\')',
      'data = b""',
      'while True:',
      '    chunk = s.recv(4096)',
      '    if not chunk: break',
      '    data += chunk',
      'print(data.decode())',
    ].join('\n');
    const r = python(script, [a.socket], t.env, 65534);
    expect(r.code, r.stderr).toBe(0);
    const reply = JSON.parse(r.stdout.trim());
    expect(reply).toMatchObject({ ok: false, id: null, error: { code: 'denied' } });
    expect(r.stdout).not.toContain('secret-value');
    expect(alive(a.pid)).toBe(true);
    expect((await cli(t.env, ['get', '-n', 'x'])).stdout).toBe('secret-value');
  });
});
