// One IPv6 host with many addresses: a network namespace made by this test (named after its pid)
// whose loopback carries the daemon's address and client addresses in two /64s, fd00:1::/64 and
// fd00:2::/64, that exist only inside it. The per-address connection limit counts an IPv6 client
// by its /64 (src/serve/address-key.ts), so a second address of the same /64 is the same host.
// `ip netns` is required: without it (no iproute2, no CAP_SYS_ADMIN) the test fails, naming it.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CONNECTIONS_PER_ADDRESS } from '../../src/serve/limits.js';
import { makeEnv, type TestEnv } from '../helpers/cli.js';
import { AGENTS_READ_POLICY, makeLab, startServe, type Daemon } from '../helpers/serve.js';

const IP = '/usr/sbin/ip';
const NS = `gd-${process.pid}-6`;
const ADDR = { server: 'fd00:1::1', host: 'fd00:1::a', sameHost: 'fd00:1::b', otherHost: 'fd00:2::a' };

/** Run inside the namespace: holds MAX TLS connections from one address, then tries one from each other address; prints which finished their handshake. */
const CLIENT = `
import tls from 'node:tls';
import fs from 'node:fs';
const [port, caFile, max, server, host, sameHost, otherHost] = process.argv.slice(2);
const ca = fs.readFileSync(caFile);
const open = (from) => new Promise((resolve) => {
  // The chain is verified against the CA; the name against the certificate's DNS:localhost, as
  // Node 22.23 (like 24.17+) matches no IPv6 host with an IP Address SAN: a regression of the
  // CVE-2026-48618 releases (nodejs/node#64144, fixed by #64145). Node 20.20 matches it.
  const s = tls.connect({ host: server, port: Number(port), localAddress: from, ca, checkServerIdentity: (_host, cert) => tls.checkServerIdentity('localhost', cert) });
  s.once('secureConnect', () => resolve({ s, ok: true }));
  s.once('error', () => resolve({ s, ok: false }));
  s.once('close', () => resolve({ s, ok: false }));
});
const held = [];
for (let i = 0; i < Number(max); i++) held.push(await open(host));
const same = await open(sameHost);
const other = await open(otherHost);
process.stdout.write(JSON.stringify({ held: held.filter((h) => h.ok).length, sameHost: same.ok, otherHost: other.ok }));
for (const h of [...held, same, other]) h.s.destroy();
`;

function ip(...args: string[]): void {
  const r = spawnSync(IP, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`ip ${args.join(' ')} failed (network namespaces need iproute2 and root): ${r.error?.message ?? r.stderr.trim()}`);
}

let t: TestEnv;
let daemon: Daemon | undefined;
let made = false;

beforeAll(async () => {
  t = makeEnv();
  ip('netns', 'add', NS);
  made = true;
  ip('-n', NS, 'link', 'set', 'lo', 'up');
  for (const a of Object.values(ADDR)) ip('-n', NS, '-6', 'addr', 'add', `${a}/64`, 'dev', 'lo', 'nodad');
  await makeLab(t, AGENTS_READ_POLICY, ['agent-v6'], `DNS:localhost,IP:${ADDR.server}`);
  daemon = await startServe(t, { listen: '[::]:0', wrapper: [IP, 'netns', 'exec', NS] });
}, 120_000);

afterAll(() => {
  daemon?.stop();
  if (made) spawnSync(IP, ['netns', 'del', NS]);
  t?.cleanup();
});

/** Runs CLIENT inside the namespace; resolves with what it printed. */
function clientIn(): Promise<{ held: number; sameHost: boolean; otherHost: boolean }> {
  const script = path.join(t.dir, 'client.mjs');
  fs.writeFileSync(script, CLIENT);
  return new Promise((resolve, reject) => {
    const args = ['netns', 'exec', NS, process.execPath, script, String(daemon!.port), path.join(t.home, 'ca', 'ca.crt'), String(MAX_CONNECTIONS_PER_ADDRESS), ADDR.server, ADDR.host, ADDR.sameHost, ADDR.otherHost];
    const child = spawn(IP, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as { held: number; sameHost: boolean; otherHost: boolean }) : reject(new Error(`client exited ${code}: ${err}`))));
  });
}

describe('glassdome serve: an IPv6 host is its /64', () => {
  it('a host holding every connection it may from one address gets none more from another address of its /64; another /64 still connects', async () => {
    // Before: the limit keyed on the exact address, so the same host took 64 more connections
    // from each of its 2^64 addresses (here the 65th, from fd00:1::b, finished its handshake).
    const r = await clientIn();
    expect(r.held).toBe(MAX_CONNECTIONS_PER_ADDRESS);
    expect(r.sameHost).toBe(false);
    expect(r.otherHost).toBe(true);
  });
});
