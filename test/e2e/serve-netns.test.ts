// Several hosts: network namespaces made by this test (named after its pid), joined by veth
// pairs with addresses in 10.200.0.0/16 that exist only inside them. The daemon runs in one
// namespace and listens on all its addresses; a client host whose certificate policy allows and
// one whose certificate it does not reach it from two others; the test's own namespace cannot.
// `ip netns` is required: without it (no iproute2, no CAP_SYS_ADMIN) the test fails, naming it.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, makeEnv, type Run, type TestEnv } from '../helpers/cli.js';
import { clientEnv, makeLab, startServe, type Daemon } from '../helpers/serve.js';

const IP = '/usr/sbin/ip';
const NS = { server: `gd-${process.pid}-s`, allowed: `gd-${process.pid}-a`, denied: `gd-${process.pid}-b` };
const ADDR = { serverA: '10.200.1.1', allowed: '10.200.1.2', serverB: '10.200.2.1', denied: '10.200.2.2' };
const POLICY = `
authorization:
  rules:
    - name: lab-agents
      clients: ["agent-*"]
      secrets: ["proxmox_*"]
      actions: [read]
`;

function ip(...args: string[]): void {
  const r = spawnSync(IP, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`ip ${args.join(' ')} failed (network namespaces need iproute2 and root): ${r.error?.message ?? r.stderr.trim()}`);
}

/** Runs the CLI inside a namespace. */
function cliIn(ns: string, env: NodeJS.ProcessEnv, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(IP, ['netns', 'exec', ns, process.execPath, BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

let t: TestEnv;
let daemon: Daemon | undefined;
const made: string[] = [];

beforeAll(async () => {
  t = makeEnv();
  for (const ns of Object.values(NS)) {
    ip('netns', 'add', ns);
    made.push(ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  const link = (peer: string, serverAddr: string, peerAddr: string, tag: string): void => {
    ip('link', 'add', `gd${process.pid}${tag}0`, 'netns', NS.server, 'type', 'veth', 'peer', 'name', `gd${process.pid}${tag}1`, 'netns', peer);
    ip('-n', NS.server, 'addr', 'add', `${serverAddr}/24`, 'dev', `gd${process.pid}${tag}0`);
    ip('-n', NS.server, 'link', 'set', `gd${process.pid}${tag}0`, 'up');
    ip('-n', peer, 'addr', 'add', `${peerAddr}/24`, 'dev', `gd${process.pid}${tag}1`);
    ip('-n', peer, 'link', 'set', `gd${process.pid}${tag}1`, 'up');
  };
  link(NS.allowed, ADDR.serverA, ADDR.allowed, 'a');
  link(NS.denied, ADDR.serverB, ADDR.denied, 'b');
  await makeLab(t, POLICY, ['agent-host-a', 'lab-host-b'], `DNS:securityd.lab,IP:${ADDR.serverA},IP:${ADDR.serverB}`);
  daemon = await startServe(t, { listen: '0.0.0.0:0', wrapper: [IP, 'netns', 'exec', NS.server] });
}, 120_000);

afterAll(() => {
  daemon?.stop();
  for (const ns of made) spawnSync(IP, ['netns', 'del', ns]);
  t?.cleanup();
});

describe('glassdome serve across network namespaces', () => {
  it('the allowed host reads over its own link; the audit line names its address', async () => {
    const env = clientEnv(t, daemon!, { cn: 'agent-host-a' }, `https://${ADDR.serverA}:${daemon!.port}`);
    const r = await cliIn(NS.allowed, env, ['get', 'proxmox_password']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('pve-secret\n');
    const lines = fs.readFileSync(path.join(t.home, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event_type: string; client: { remote?: string; cn?: string } | null });
    expect(lines.some((e) => e.event_type === 'secret_access' && e.client?.cn === 'agent-host-a' && e.client.remote?.startsWith(`${ADDR.allowed}:`))).toBe(true);
  });

  it('the other host reaches the daemon but its CN is denied (exit 5)', async () => {
    const env = clientEnv(t, daemon!, { cn: 'lab-host-b' }, `https://${ADDR.serverB}:${daemon!.port}`);
    const r = await cliIn(NS.denied, env, ['get', 'proxmox_password']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('the policy denies certificate lab-host-b');
    expect(r.stdout).toBe('');
  });

  it('the addresses exist only inside the namespaces: the test host cannot connect', async () => {
    const reached = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: ADDR.serverA, port: daemon!.port, timeout: 1500 });
      socket.on('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.on('error', () => resolve(false));
    });
    expect(reached).toBe(false);
    const hostAddrs = spawnSync(IP, ['-o', 'addr'], { encoding: 'utf8' }).stdout;
    expect(hostAddrs).not.toContain('10.200.');
  });
});
