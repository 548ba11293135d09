// Issue 9, attack 1, replayed: another user (uid 65534, through setpriv) makes the default socket
// directory first (mode 0755, in a shared $TMPDIR of mode 1777) and serves a fake agent there that
// answers every request with `ok` and logs it. No client may send it anything: `agent` starts in a
// private directory instead (and finds that agent again), and every client that is pointed at the
// fake refuses it by SO_PEERCRED before its first byte (exit 5, naming the socket and the uid).
// And (found by h17o) more private-looking directories of that user than the probes, sorted
// first, do not hide the victim's private directory from the next login shell's `glassdome agent`.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { alive, cli, makeEnv, makeVault, python, sharedTmpEnv, unlock, waitFor, type TestEnv } from '../helpers/cli.js';
import { Wire } from '../helpers/wire.js';
import { MAX_PRIVATE_DIRS_PROBED } from '../../src/agent/location.js';

const OTHER_UID = 65534;
const CLIENT_DIR = path.join(__dirname, '../../clients/python');

/** The attacker's fake agent: answers every line with ok (a decoy pid, the victim's vault) and logs it. */
const FAKE_AGENT = `
import json, os, socket, sys, threading
sock_path, log_path, decoy, vault = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
os.mkdir(os.path.dirname(sock_path), 0o755)
os.chmod(os.path.dirname(sock_path), 0o755)
srv = socket.socket(socket.AF_UNIX)
srv.bind(sock_path)
os.chmod(sock_path, 0o777)
srv.listen(16)
log = open(log_path, "a", buffering=1)
print("ready", flush=True)
def serve(conn):
    f = conn.makefile("rb")
    for line in f:
        log.write(line.decode("utf-8", "replace"))
        try:
            req = json.loads(line)
        except ValueError:
            continue
        reply = {"v": 1, "id": req.get("id"), "ok": True, "agent": "glassdome", "version": "0", "protocol": 1,
                 "pid": decoy, "uid": os.getuid(), "vault": vault, "socket": sock_path, "state": "unlocked",
                 "value": "ZmFrZS12YWx1ZQ==", "names": ["fake"], "secret_count": 1, "expires_at": "2099-01-01T00:00:00Z"}
        conn.sendall((json.dumps(reply) + "\\n").encode())
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

let t: TestEnv;
let fake: ChildProcess | undefined;
let decoy: ChildProcess | undefined;
beforeEach(() => {
  t = makeEnv();
});
afterEach(() => {
  fake?.kill('SIGKILL');
  decoy?.kill('SIGKILL');
  t.cleanup();
});

/** Starts the fake agent as another uid in a shared TMPDIR; resolves once it listens. */
async function plantFakeAgent(tmp: string, decoyPid: number): Promise<{ socket: string; log: string }> {
  const socket = path.join(tmp, `glassdome-${process.getuid!()}`, 'agent.sock');
  const log = path.join(tmp, 'fake.log');
  fake = spawn('setpriv', [`--reuid=${OTHER_UID}`, `--regid=${OTHER_UID}`, '--clear-groups', '/usr/bin/python3', '-c', FAKE_AGENT, socket, log, String(decoyPid), t.home], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  fake.stdout!.on('data', (c: Buffer) => (out += c));
  fake.stderr!.on('data', (c: Buffer) => (err += c));
  await waitFor(() => out.includes('ready') || fake!.exitCode !== null, 'the fake agent to listen');
  if (!out.includes('ready')) throw new Error(`the fake agent did not start: ${err}`);
  return { socket, log };
}

/**
 * A vault, and an environment with no XDG_RUNTIME_DIR, so that the default socket directory is
 * ${TMPDIR}/glassdome-<uid>, in a TMPDIR shared with other users (1777).
 */
async function sharedTmp(): Promise<{ tmp: string; env: NodeJS.ProcessEnv }> {
  await makeVault(t);
  const { tmp, env } = sharedTmpEnv(t);
  t.env = env;
  return { tmp, env };
}

describe('a fake agent planted by another user at the default socket', () => {
  it('is never adopted or spoken to: agent, get, exec, list, status, lock, unlock, set, agent -k, Python', async () => {
    const { tmp, env } = await sharedTmp();
    decoy = spawn('sleep', ['600'], { stdio: 'ignore' });
    const planted = await plantFakeAgent(tmp, decoy.pid!);
    const plantedDir = path.dirname(planted.socket);

    // eval "$(glassdome agent)": the planted directory is skipped, a private one used.
    const started = await cli(env, ['agent', '-s']);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stderr).toContain(`glassdome: not using ${plantedDir}: it is owned by uid ${OTHER_UID}, not by you`);
    const socket = /GLASSDOME_AUTH_SOCK=([^;]+);/.exec(started.stdout)?.[1] ?? '';
    const pid = Number(/GLASSDOME_AGENT_PID=(\d+);/.exec(started.stdout)?.[1]);
    expect(socket).not.toBe(planted.socket);
    expect(path.dirname(socket).startsWith(`${plantedDir}-`)).toBe(true);
    expect(fs.statSync(path.dirname(socket)).mode & 0o777).toBe(0o700);
    expect(pid).not.toBe(decoy.pid);
    expect(alive(pid)).toBe(true);
    env.GLASSDOME_AUTH_SOCK = socket;
    env.GLASSDOME_AGENT_PID = String(pid);

    // The victim is not stuck: the same shell, and a new login shell, get the same agent back.
    expect((await cli(env, ['agent', '-s'])).stdout).toBe(started.stdout);
    const fresh = { ...env };
    delete fresh.GLASSDOME_AUTH_SOCK;
    delete fresh.GLASSDOME_AGENT_PID;
    expect((await cli(fresh, ['agent', '-s'])).stdout).toBe(started.stdout);
    expect((await unlock(env)).code).toBe(0);
    expect((await cli(env, ['set', 'x'], 'real-value')).code).toBe(0);

    // A shell that exported the fake (as the unfixed build did): every client refuses it.
    const victim = { ...env, GLASSDOME_AUTH_SOCK: planted.socket, GLASSDOME_AGENT_PID: String(decoy.pid) };
    const refused = new RegExp(`the socket ${planted.socket.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is served by uid ${OTHER_UID} \\(pid \\d+\\), not by your uid`);
    const runs: Array<[string[], string?]> = [
      [['get', 'x']],
      [['get', '-n', 'x']],
      [['exec', '--', '/usr/bin/python3', '-c', 'import os; print(os.read(3, 4096))']],
      [['exec', '--', 'cat', '{{glassdome:x}}']],
      [['list']],
      [['status']],
      [['lock']],
      [['unlock', '--password-stdin'], 'correct horse battery staple'],
      [['set', 'y'], 'planted'],
      [['agent', '-k']],
    ];
    for (const [args, input] of runs) {
      const r = await cli(victim, args, input);
      expect(r.code, `glassdome ${args.join(' ')}: ${r.stderr}`).toBe(5);
      expect(r.stderr.split('\n')[0]).toMatch(refused);
      expect(r.stdout).not.toContain('fake');
    }
    expect(alive(decoy.pid!)).toBe(true);

    const py = python(
      'import glassdome\ntry:\n    glassdome.get("x")\nexcept glassdome.GlassdomeError as e:\n    print(e.code, e.message)',
      [],
      { ...victim, PYTHONPATH: CLIENT_DIR },
    );
    expect(py.code, py.stderr).toBe(0);
    expect(py.stdout).toMatch(new RegExp(`^denied the socket .* is served by uid ${OTHER_UID}`));

    // Not one request reached the fake; it was live and logging all along (one line proves it).
    expect(fs.readFileSync(planted.log, 'utf8')).toBe('');
    const wire = await Wire.connect(planted.socket);
    wire.request({ v: 1, id: 1, op: 'hello' });
    expect(await wire.reply()).toMatchObject({ ok: true, pid: decoy.pid });
    wire.close();
    expect(fs.readFileSync(planted.log, 'utf8')).toContain('"op":"hello"');

    // The real agent still serves, and -k stops it (the kernel's pid) and removes its private directory.
    expect((await cli(env, ['get', '-n', 'x'])).stdout).toBe('real-value');
    const killed = await cli(env, ['agent', '-k']);
    expect(killed.code, killed.stderr).toBe(0);
    expect(killed.stderr).toContain(`agent pid ${pid} stopped`);
    expect(alive(pid)).toBe(false);
    expect(fs.existsSync(path.dirname(socket))).toBe(false);
  });
});

describe('directories planted by another user beside the private one', () => {
  it('do not use up the probes: a new login shell still finds the agent in its private directory', async () => {
    const { tmp, env } = await sharedTmp();
    // The default directory taken, and more private-looking directories than the probes, named to
    // sort before any mkdtemp suffix (readdir's order is sorted): all of another uid, mode 0700.
    const planted = path.join(tmp, `glassdome-${process.getuid!()}`);
    const decoys = Array.from({ length: MAX_PRIVATE_DIRS_PROBED + 8 }, (_, i) => `${planted}-0${String(i).padStart(3, '0')}`);
    const made = spawnSync('setpriv', [`--reuid=${OTHER_UID}`, `--regid=${OTHER_UID}`, '--clear-groups', 'mkdir', '-m', '700', planted, ...decoys], { encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);

    const started = await cli(env, ['agent', '-s']);
    expect(started.code, started.stderr).toBe(0);
    const socket = /GLASSDOME_AUTH_SOCK=([^;]+);/.exec(started.stdout)?.[1] ?? '';
    expect(path.dirname(socket).startsWith(`${planted}-`)).toBe(true);
    expect(decoys).not.toContain(path.dirname(socket));
    // A new login shell (nothing exported) gets the same agent, not a second one.
    const again = await cli(env, ['agent', '-s']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(started.stdout);
    const killed = await cli({ ...env, GLASSDOME_AUTH_SOCK: socket }, ['agent', '-k']);
    expect(killed.code, killed.stderr).toBe(0);
  });
});
