// init --force (and restore) lock every agent of this uid serving the vault they replace, not only
// the one at GLASSDOME_AUTH_SOCK: one started with another socket (agent -a) kept the replaced
// vault's key in memory. Real agents, real CLI; an agent of another vault is left alone.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import { alive, BIN, cli, makeEnv, makeVault, PASSWORD, sharedTmpEnv, startAgent, unlock, waitFor, type TestEnv } from '../helpers/cli.js';
import { scanMemory } from '../helpers/memory.js';
import { unsealMasterKey } from '../../src/vault/vault.js';

/** Another user's socket that never accepts, its backlog filled by its own connects: argv[1] is its path. */
const JAMMED_SOCKET = `
import os, socket, sys, time
p = sys.argv[1]
os.mkdir(os.path.dirname(p), 0o755)
srv = socket.socket(socket.AF_UNIX)
srv.bind(p)
os.chmod(p, 0o777)
srv.listen(0)
fill = []
while True:
    c = socket.socket(socket.AF_UNIX)
    c.setblocking(False)
    try:
        c.connect(p)
    except BlockingIOError:
        break
    fill.append(c)
print("ready", len(fill), flush=True)
time.sleep(600)
`;

let t: TestEnv;
let other: TestEnv;
const stop: number[] = [];
beforeEach(async () => {
  t = makeEnv();
  other = makeEnv();
  await makeVault(t);
  await makeVault(other);
});
afterEach(() => {
  for (const pid of stop.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  t.cleanup();
  other.cleanup();
});

/** An agent of `env`'s vault at `socket` (agent -a), unlocked; its env. */
async function agentAt(env: NodeJS.ProcessEnv, socket: string): Promise<NodeJS.ProcessEnv> {
  const own = { ...env };
  const { pid } = await startAgent(own, ['-a', socket]);
  stop.push(pid);
  expect((await unlock(own)).code).toBe(0);
  return own;
}

describe('init --force', () => {
  it('locks every agent of this vault it can find: at GLASSDOME_AUTH_SOCK, at the default socket, and at any -a socket', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test reads the agents\' memory through /proc/PID/mem and needs root (CI runs as root)');
    const atDefault = { ...t.env };
    const { pid: defaultPid } = await startAgent(atDefault); // the default socket, in t's XDG_RUNTIME_DIR
    stop.push(defaultPid);
    expect((await unlock(atDefault)).code).toBe(0);
    const elsewhere = await agentAt(t.env, path.join(t.dir, 'elsewhere.sock'));
    const named = await agentAt(t.env, path.join(t.dir, 'named.sock'));
    const another = await agentAt(other.env, path.join(other.dir, 'another.sock'));
    for (const env of [atDefault, elsewhere, named]) expect((await cli(env, ['set', 'x'], 'old')).code).toBe(0);

    const { masterKey } = await unsealMasterKey(fs.readFileSync(path.join(t.home, 'master_key.enc'), 'utf8'), Buffer.from(PASSWORD));
    // The scan finds the key where it is (else the check after init could not fail).
    for (const env of [elsewhere, atDefault]) expect(scanMemory(Number(env.GLASSDOME_AGENT_PID), { 'old master key': Buffer.from(masterKey) })['old master key'], env.GLASSDOME_AUTH_SOCK).toBeGreaterThan(0);
    // Run with GLASSDOME_AUTH_SOCK at one of them; before, only that one was locked.
    const r = await cli(named, ['init', '--password-stdin', '--force'], 'pw2');
    expect(r.code, r.stderr).toBe(0);
    // Before any request reaches them (one would make an agent see the vault was replaced): none
    // holds the replaced vault's key. Before, the others did, until their next request.
    for (const env of [elsewhere, atDefault]) expect(scanMemory(Number(env.GLASSDOME_AGENT_PID), { 'old master key': Buffer.from(masterKey) }), env.GLASSDOME_AUTH_SOCK).toEqual({});
    for (const env of [named, elsewhere, atDefault]) {
      expect(r.stderr).toContain(`glassdome: agent pid ${env.GLASSDOME_AGENT_PID} was locked: unlock it with the new password\n`);
      const get = await cli(env, ['get', 'x']);
      expect(get.code, `${env.GLASSDOME_AUTH_SOCK}: ${get.stderr}`).toBe(4);
      expect(get.stderr).toMatch(/locked/);
    }
    // The agent of another vault kept its key: it was asked who it serves, nothing more.
    expect(r.stderr).not.toContain(`pid ${another.GLASSDOME_AGENT_PID} `);
    expect((await cli(another, ['set', 'y'], 'still')).code).toBe(0);
    expect((await cli(another, ['get', '-n', 'y'])).stdout).toBe('still');
  });

  it('an agent of this vault that does not answer (stopped) is named, with the advice to stop it', async () => {
    const stopped = await agentAt(t.env, path.join(t.dir, 'stopped.sock'));
    const pid = Number(stopped.GLASSDOME_AGENT_PID);
    process.kill(pid, 'SIGSTOP');
    try {
      const r = await cli(t.env, ['init', '--password-stdin', '--force'], 'pw2');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`glassdome: the agent pid ${pid} at ${stopped.GLASSDOME_AUTH_SOCK} did not answer: if it serves this vault it still holds the old key; stop it: kill ${pid}\n`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  it('a socket planted by another user at the default path that never accepts (its backlog full) does not hold it: the agents of ours are still locked', async () => {
    // The default socket directory is ${TMPDIR}/glassdome-<uid> in a TMPDIR shared with uid 65534
    // (1777), who makes it first and listens there with a backlog it fills itself. Before, connect(2)
    // to it blocked for ever (the probe's 2 s bound was set only once connected): init --force hung.
    const { tmp, env } = sharedTmpEnv(t);
    const planted = path.join(tmp, `glassdome-${process.getuid!()}`, 'agent.sock');
    const jam = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/usr/bin/python3', '-c', JAMMED_SOCKET, planted], { stdio: ['ignore', 'pipe', 'pipe'] });
    stop.push(jam.pid!);
    let out = '';
    jam.stdout!.on('data', (c: Buffer) => (out += c));
    await waitFor(() => /^ready [1-9]/m.test(out) || jam.exitCode !== null, 'the planted socket to be jammed');
    expect(out).toMatch(/^ready [1-9]/m);
    const ours = await agentAt(env, path.join(t.dir, 'ours.sock'));
    const unset = { ...env };
    delete unset.GLASSDOME_AUTH_SOCK;
    const r = await cli(unset, ['init', '--password-stdin', '--force'], 'pw2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`glassdome: agent pid ${ours.GLASSDOME_AGENT_PID} was locked: unlock it with the new password\n`);
    expect((await cli(ours, ['get', 'x'])).code).toBe(4);
  });

  it('another program of ours whose script is named agent/main.js is not spoken to, nor named to be killed', async () => {
    // Some other service's node …/agent/main.js (no --home, no --socket), listening and never answering.
    const script = path.join(t.dir, 'service', 'agent', 'main.js');
    fs.mkdirSync(path.dirname(script), { recursive: true });
    const socket = path.join(t.dir, 'service.sock');
    const heard = path.join(t.dir, 'heard');
    fs.writeFileSync(script, `require('node:net').createServer((c) => c.on('data', (d) => require('node:fs').appendFileSync(${JSON.stringify(heard)}, d))).listen(${JSON.stringify(socket)});`);
    const service = spawn(process.execPath, [script], { stdio: 'ignore' });
    stop.push(service.pid!);
    await waitFor(() => fs.existsSync(socket), 'the service socket');
    const r = await cli(t.env, ['init', '--password-stdin', '--force'], 'pw2');
    expect(r.code, r.stderr).toBe(0);
    // Before: it was sent a hello, and init said "the agent pid N ... did not answer ...: kill N".
    expect(r.stderr).not.toContain(`pid ${service.pid}`);
    expect(fs.existsSync(heard)).toBe(false);
  });

  it('an agent in the foreground (glassdome agent -D -a) is found too', async () => {
    const socket = path.join(t.dir, 'fg.sock');
    const agent = spawn(process.execPath, [BIN, 'agent', '-D', '-a', socket], { env: t.env, stdio: 'ignore' });
    stop.push(agent.pid!);
    await waitFor(() => fs.existsSync(socket), 'the agent socket');
    const env = { ...t.env, GLASSDOME_AUTH_SOCK: socket };
    expect((await unlock(env)).code).toBe(0);
    // GLASSDOME_AUTH_SOCK unset: nothing points init at it.
    const r = await cli(t.env, ['init', '--password-stdin', '--force'], 'pw2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`glassdome: agent pid ${agent.pid} was locked: unlock it with the new password\n`);
    expect((await cli(env, ['get', 'x'])).code).toBe(4);
  });
});
