// The systemd user units shipped in systemd/, run through the real activation protocol: Debian's
// systemd-socket-activate listens where glassdome.socket would (%t/glassdome/agent.sock), starts
// the service's ExecStart (the real agent, in the foreground) on the first connection and hands
// it the socket as fd 3 (LISTEN_FDS/LISTEN_PID). The whole flow then runs against it.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, cli, makeEnv, makeVault, unlock, waitFor, type TestEnv } from '../helpers/cli.js';
import { isRunning } from '../../src/os/proc.js';

const UNITS = path.join(__dirname, '../../systemd');
const ACTIVATE = '/usr/bin/systemd-socket-activate';

/** `Key=value` lines of a unit file's section. */
function unitSection(file: string, section: string): Record<string, string> {
  const text = fs.readFileSync(path.join(UNITS, file), 'utf8');
  const body = text.split(/^\[/m).find((s) => s.startsWith(`${section}]`)) ?? '';
  return Object.fromEntries([...body.matchAll(/^(\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
}

let t: TestEnv;
let activator: ChildProcess | undefined;
beforeEach(() => {
  t = makeEnv();
});
afterEach(() => {
  if (activator?.pid && isRunning(activator.pid)) activator.kill('SIGKILL');
  t.cleanup();
});

describe('systemd user units', () => {
  it('glassdome.socket listens at the agent default socket; the service runs the agent in the foreground', () => {
    const socket = unitSection('glassdome.socket', 'Socket');
    expect(socket).toMatchObject({ ListenStream: '%t/glassdome/agent.sock', SocketMode: '0600', DirectoryMode: '0700' });
    const service = unitSection('glassdome.service', 'Service');
    expect(service.ExecStart).toMatch(/^glassdome agent --foreground\b/);
    expect(unitSection('glassdome.service', 'Unit').Requires).toBe('glassdome.socket');
  });

  it('systemd-socket-activate starts the real agent on the first connection; the flow works; the socket stays', async () => {
    if (!fs.existsSync(ACTIVATE)) throw new Error(`${ACTIVATE} is required (apt-get install systemd)`);
    await makeVault(t);
    const dir = path.join(t.runtime, 'glassdome'); // %t/glassdome, made by DirectoryMode=0700
    fs.mkdirSync(dir, { mode: 0o700 });
    const socket = path.join(dir, 'agent.sock');
    const execStart = unitSection('glassdome.service', 'Service').ExecStart!.split(/\s+/);
    const passEnv = ['GLASSDOME_HOME', 'XDG_RUNTIME_DIR', 'NO_COLOR'].flatMap((k) => ['-E', `${k}=${t.env[k]}`]);
    const stderr: Buffer[] = [];
    activator = spawn(ACTIVATE, ['-l', socket, ...passEnv, '--', process.execPath, BIN, ...execStart.slice(1)], { env: t.env, stdio: ['ignore', 'pipe', 'pipe'] });
    activator.stderr!.on('data', (c: Buffer) => stderr.push(c));
    await waitFor(() => fs.existsSync(socket), 'systemd-socket-activate to listen');
    expect(stderr.join('')).not.toContain('listening on'); // no agent before the first connection

    const env = { ...t.env, GLASSDOME_AUTH_SOCK: socket };
    const status = JSON.parse((await cli(env, ['status', '--json'])).stdout);
    expect(status).toMatchObject({ mode: 'locked', agent: { pid: activator.pid, socket } }); // exec'd in place: same pid
    expect((await unlock(env)).code).toBe(0);
    expect((await cli(env, ['set', 'db_pass'], 's3cret')).code).toBe(0);
    expect(await cli(env, ['get', 'db_pass'])).toMatchObject({ code: 0, stdout: 's3cret\n' });
    const child = await cli(env, ['exec', '--', '/usr/bin/python3', '-c', 'import json,os; print(json.load(os.fdopen(3))["db_pass"])']);
    expect(child).toMatchObject({ code: 0, stdout: 's3cret\n' });
    expect(fs.statSync(socket).mode & 0o777).toBe(0o600);
    expect(stderr.join('')).toContain(`glassdome agent: listening on ${socket}`);

    const exited = new Promise<number | null>((resolve) => activator!.on('exit', (code) => resolve(code)));
    activator.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(fs.existsSync(socket)).toBe(true); // systemd's socket: left for the next activation
  });

  it('LISTEN_FDS meant for another process is ignored: the agent makes its own socket', async () => {
    await makeVault(t);
    const socket = path.join(t.dir, 'own.sock');
    const env = { ...t.env, LISTEN_PID: '1', LISTEN_FDS: '1' };
    const agent = spawn(process.execPath, [BIN, 'agent', '-D', '-a', socket], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      await waitFor(() => fs.existsSync(socket), 'the agent to listen');
      const st = JSON.parse((await cli({ ...t.env, GLASSDOME_AUTH_SOCK: socket }, ['status', '--json'])).stdout);
      expect(st.agent).toMatchObject({ pid: agent.pid, socket });
    } finally {
      const exited = new Promise((resolve) => agent.once('exit', resolve));
      agent.kill('SIGTERM');
      await exited;
    }
  });
});
