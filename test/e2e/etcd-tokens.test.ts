// Tokens, revocations and audit heads of `glassdome serve` replicas on etcd, with real parts: a
// three-member etcd 3.4 cluster on loopback (test/helpers/etcd.ts), three real `serve` replicas
// on it, the real CLI minting and revoking (`--store etcd://…`), raw HTTPS clients. A bootstrap
// token raced by 50 redemptions across the replicas; a token and a certificate revoked through
// one member, refused by every replica within the 1 s bound (open keep-alive connections too); a
// replica cut off from etcd refusing rather than serving a revoked token; each replica's audit
// head in etcd, and `audit verify --store` finding a cut tail.

import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClient } from '../../src/etcd/client.js';
import { etcdKey } from '../../src/etcd/layout.js';
import { FRESHNESS_BOUND_MS } from '../../src/etcd/view.js';
import { REFUSALS } from '../../src/serve/limits.js';
import { cli, makeEnv, PASSWORD, type TestEnv } from '../helpers/cli.js';
import { startCluster, waitUntil, type TestCluster } from '../helpers/etcd.js';
import { makeLab, ok, startServe, type Daemon } from '../helpers/serve.js';

const POLICY = `
authorization:
  rules:
    - name: replicated-readers
      clients: ["agent-*", "job-*"]
      secrets: ["proxmox_*", "ci/*"]
      actions: [read]
`;

/** Redemptions of one bootstrap token raced across the replicas. */
const REDEMPTIONS = 50;
/**
 * The loopback address redemption i comes from: each its own (127.0.2.1 …), so each replica's
 * refusal bucket of an address meets at most one lost exchange (a refusal), far under its burst
 * (REFUSALS.burst, 20): from one address, ~16 refusals per replica left ~3 of headroom, and a 429
 * in place of the 'already used' the test checks.
 */
const raceAddress = (i: number): string => `127.0.2.${i + 1}`;

let t: TestEnv;
let cluster: TestCluster;
let etcd: EtcdClient;
let prefix: string;
let follower: number;
const replicas: Array<{ id: string; env: TestEnv; daemon: Daemon }> = [];

/** `--store` over some members of the cluster. */
const store = (members: number[] = [0, 1, 2]): string => `etcd://${members.map((i) => cluster.endpoints[i]!.replace('http://', '')).join(',')}${prefix}`;

/**
 * A replica's environment: its own GLASSDOME_HOME (its own audit log; no vault, which is in etcd)
 * holding copies of the CA certificate and CRL only, so a revocation can reach it through etcd alone.
 */
function replicaEnv(id: string): TestEnv {
  const home = path.join(t.dir, `home-${id}`);
  fs.mkdirSync(path.join(home, 'ca'), { recursive: true, mode: 0o700 });
  for (const f of ['ca.crt', 'crl.pem']) fs.copyFileSync(path.join(t.home, 'ca', f), path.join(home, 'ca', f));
  return { ...t, home, env: { ...t.env, GLASSDOME_HOME: home } };
}

const sha256 = (line: string): string => crypto.createHash('sha256').update(line).digest('hex');

interface Reply {
  status: number;
  body: { error?: { code: string; message: string }; [k: string]: unknown };
  sentAt: number;
  reused: boolean;
}

/** One request to a replica from loopback address `from` (each test its own, so refusal buckets do not mix), with a token or a certificate. */
function call(daemon: Daemon, p: string, o: { from: string; token?: string; cn?: string; method?: string; agent?: https.Agent }): Promise<Reply> {
  const certs = path.join(t.dir, 'certs');
  const tlsOptions = o.cn ? { cert: fs.readFileSync(path.join(certs, `${o.cn}.crt`)), key: fs.readFileSync(path.join(certs, `${o.cn}.key`)) } : {};
  const sentAt = performance.now();
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${daemon.url}${p}`,
      { method: o.method ?? 'GET', ca: fs.readFileSync(path.join(t.home, 'ca', 'ca.crt')), localAddress: o.from, agent: o.agent ?? false, ...tlsOptions, headers: o.token ? { authorization: `Bearer ${o.token}` } : {} },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Reply['body'], sentAt, reused: req.reusedSocket }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Mints a token with the real CLI on the etcd store. */
async function mint(client: string, type = 'bootstrap'): Promise<{ token: string; accessor: string }> {
  const out = JSON.parse(await ok(t.env, ['token', 'create', '--store', store(), '--client', client, '--type', type, '--password-stdin', '--json'], PASSWORD)) as { token: string; accessor: string };
  return out;
}

/** A session token bought with a fresh bootstrap token through replica `i`. */
async function session(i: number, client: string, from: string): Promise<string> {
  const { token } = await mint(client);
  const r = await callOk(replicas[i]!.daemon, '/v1/token/exchange', { from, token, method: 'POST' });
  expect(r.status).toBe(200);
  return String(r.body.token);
}

/** Whether a reply is a replica's momentary `unavailable` (its view not confirmed within the bound, as on a busy machine). */
const momentary = (r: Reply): boolean => r.status === 503 && r.body.error?.code === 'unavailable';

/** `probe`'s answer, asked again (every 50 ms, for up to 3 s) while a replica answers a momentary 503, as a client would retry. */
async function answered(probe: () => Promise<Reply>): Promise<Reply> {
  const deadline = performance.now() + 3000;
  for (;;) {
    const r = await probe();
    if (!momentary(r) || performance.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** One request that should succeed, through momentary 503s. */
const callOk = (daemon: Daemon, p: string, o: Parameters<typeof call>[2]): Promise<Reply> => answered(() => call(daemon, p, o));

/**
 * Polls `probe` every 20 ms until `final` holds (by default: refused for good, a non-200 that is
 * not a momentary 503), or for 15 s; every answer that was still 200 must have been sent within
 * FRESHNESS_BOUND_MS of `since` (the moment a revocation was acknowledged, or a member stopped): a
 * request sent later and served is a revoked credential, or stale data, served. The bound is the
 * issue's correctness bound (1 s), not a speed measurement.
 */
async function refusedWithinBound(since: number, probe: () => Promise<Reply>, what: string, final = (r: Reply): boolean => r.status !== 200 && !momentary(r)): Promise<Reply> {
  for (;;) {
    const r = await probe();
    if (r.status === 200) expect(r.sentAt - since, `${what} still served ${Math.round(r.sentAt - since)} ms after the revocation`).toBeLessThanOrEqual(FRESHNESS_BOUND_MS);
    else if (final(r) || performance.now() - since > 15_000) return r;
    await new Promise((res) => setTimeout(res, 20));
  }
}

/**
 * A brief admin token (TTL 2 s) that one request through `daemon` was served with, so that its
 * refusal later is its expiry's doing. The CLI's exit, the TLS handshake and a replica's momentary
 * 503s all come out of the TTL: when a busy machine let it run out before the request (the
 * answer says `expired`), a token twice as long is minted.
 */
async function servedBeforeExpiry(daemon: Daemon, from: string): Promise<{ token: string; accessor: string; expires_at: string }> {
  for (let ttl = 2; ; ttl *= 2) {
    const brief = JSON.parse(await ok(t.env, ['token', 'create', '--store', store(), '--client', 'job-brief', '--type', 'admin', '--ttl', `${ttl}s`, '--password-stdin', '--json'], PASSWORD)) as { token: string; accessor: string; expires_at: string };
    const first = await callOk(daemon, '/v1/status', { from, token: brief.token });
    if (first.status === 200) return brief;
    expect([first.status, first.body.error?.code]).toEqual([401, 'expired']);
    expect(ttl, `a token of ${ttl} s expired before its first request`).toBeLessThan(64);
  }
}

beforeAll(async () => {
  t = makeEnv();
  prefix = `/gd-${process.pid}`;
  await makeLab(t, POLICY, ['agent-a', 'agent-keep', 'agent-cut']);
  cluster = await startCluster(3);
  etcd = new EtcdClient(cluster.endpoints);
  await ok(t.env, ['store', 'migrate', '--to', store(), '--password-stdin'], PASSWORD);
  const leader = await cluster.leader();
  follower = [0, 1, 2].find((i) => i !== leader)!;
  const others = [0, 1, 2].filter((i) => i !== follower);
  // r0 and r1 talk to the two members that stay up; r2 only to `follower`, which one test stops.
  for (const [id, members] of [['r0', others], ['r1', others.slice().reverse()], ['r2', [follower]]] as const) {
    const env = replicaEnv(id);
    const daemon = await startServe(env, { extra: ['--store', store([...members]), '--replica-id', id] });
    replicas.push({ id, env, daemon });
  }
}, 180_000);

afterAll(() => {
  for (const r of replicas) r.daemon.stop();
  etcd?.close();
  cluster?.stop();
  t?.cleanup();
});

describe('tokens on etcd', () => {
  it('50 concurrent redemptions of one bootstrap token across three replicas: exactly one buys a session', async () => {
    const { token, accessor } = await mint('job-race');
    // What the race needs of the refusal limit: the lost exchanges one replica's bucket of one address meets stay within its burst.
    const perBucket = new Map<string, number>();
    const bucket = (i: number): string => `${i % 3} ${raceAddress(i)}`;
    for (let i = 0; i < REDEMPTIONS; i++) perBucket.set(bucket(i), (perBucket.get(bucket(i)) ?? 0) + 1);
    expect(Math.max(...perBucket.values())).toBeLessThanOrEqual(REFUSALS.burst);
    const answers = await Promise.all(Array.from({ length: REDEMPTIONS }, (_, i) => callOk(replicas[i % 3]!.daemon, '/v1/token/exchange', { from: raceAddress(i), token, method: 'POST' })));
    const won = answers.filter((a) => a.status === 200);
    expect(won).toHaveLength(1);
    for (const lost of answers.filter((a) => a.status !== 200)) {
      expect([401, 403]).toContain(lost.status);
      expect(lost.body.error).toMatchObject({ code: 'denied', message: `bootstrap token ${accessor} was already used` });
    }
    // The session it bought works on every replica; the record in etcd says used.
    for (const r of replicas) {
      const read = await callOk(r.daemon, '/v1/secrets/ci%2Fdeploy', { from: '127.0.0.2', token: String(won[0]!.body.token) });
      expect(read.status).toBe(200);
      expect(Buffer.from(String(read.body.value), 'base64').toString()).toBe('deploy-secret');
    }
    const listed = JSON.parse(await ok(t.env, ['token', 'list', '--store', store(), '--json'])) as Array<{ accessor: string; used: boolean; type: string }>;
    expect(listed.find((r) => r.accessor === accessor)).toMatchObject({ type: 'bootstrap', used: true });
    expect(listed.filter((r) => r.type === 'session' && (r as unknown as { client: string }).client === 'job-race')).toHaveLength(1);
  });

  it('expiry is the stored expires_at, on every replica (no lease removes the record); a renewal through one replica holds on the others', async () => {
    const from = '127.0.0.5';
    const brief = await servedBeforeExpiry(replicas[1]!.daemon, from);
    await new Promise((res) => setTimeout(res, Math.max(0, Date.parse(brief.expires_at) - Date.now()) + 100)); // past the stored expiry
    for (const r of replicas) {
      const late = await callOk(r.daemon, '/v1/status', { from, token: brief.token });
      expect(late.status).toBe(401);
      expect(late.body.error).toMatchObject({ code: 'expired', message: `token ${brief.accessor} expired at ${brief.expires_at}` });
    }
    expect((await etcd.range(etcdKey(prefix, 'tokens', brief.accessor))).kvs).toHaveLength(1); // still stored: its own expiry refused it

    const token = await session(2, 'job-renew', from);
    const expiryOn = async (r: (typeof replicas)[number]): Promise<string | undefined> => ((await callOk(r.daemon, '/v1/status', { from, token })).body.client as { token_expires_at?: string } | undefined)?.token_expires_at;
    const before = (await expiryOn(replicas[0]!))!;
    await new Promise((res) => setTimeout(res, 1100)); // so the renewed expiry differs by whole milliseconds
    const renewed = await callOk(replicas[1]!.daemon, '/v1/token/renew', { from, token, method: 'POST' });
    expect(renewed.status).toBe(200);
    expect(Date.parse(String(renewed.body.expires_at))).toBeGreaterThan(Date.parse(before));
    for (const r of replicas) {
      await waitUntil(async () => (await expiryOn(r)) === renewed.body.expires_at, `the renewal to reach ${r.id}`, 10_000);
    }
  });

  it('a token and a certificate revoked through one etcd member are refused by every replica within 1 s, open connections included', async () => {
    const from = '127.0.0.3';
    const token = await session(0, 'job-revoke', from);
    const accessor = token.split('_')[1]!;
    const keep = replicas.map(() => new https.Agent({ keepAlive: true, maxSockets: 1 }));
    try {
      for (const [i, r] of replicas.entries()) {
        expect((await callOk(r.daemon, '/v1/status', { from, token, agent: keep[i] })).status).toBe(200);
        expect((await callOk(r.daemon, '/v1/secrets/proxmox_password', { from, cn: 'agent-keep', agent: keep[i] })).status).toBe(200);
      }
      await ok(t.env, ['token', 'revoke', '--store', store([follower]), accessor]);
      const tokenRevoked = performance.now();
      for (const [i, r] of replicas.entries()) {
        const refused = await refusedWithinBound(tokenRevoked, () => call(r.daemon, '/v1/status', { from, token, agent: keep[i] }), `the token on ${r.id}`);
        expect(refused.status).toBe(401);
        expect(refused.body.error).toMatchObject({ code: 'denied', message: `token ${accessor} is unknown or revoked` });
      }
      await ok(t.env, ['ca', 'revoke', '--store', store([follower]), path.join(t.dir, 'certs', 'agent-keep.crt')]);
      const certRevoked = performance.now();
      for (const [i, r] of replicas.entries()) {
        const refused = await refusedWithinBound(certRevoked, () => call(r.daemon, '/v1/secrets/proxmox_password', { from, cn: 'agent-keep', agent: keep[i] }), `the certificate on ${r.id}`);
        expect(refused.reused).toBe(true); // the keep-alive connection opened before the revocation
        expect(refused.status).toBe(403);
        expect(refused.body.error?.message).toContain('refused: revoked');
        expect(refused.body.value).toBeUndefined();
      }
      // Another certificate of the same CA is still served everywhere.
      for (const r of replicas) expect((await callOk(r.daemon, '/v1/secrets/proxmox_password', { from, cn: 'agent-a' })).status).toBe(200);
    } finally {
      for (const a of keep) a.destroy();
    }
  });

  it('a replica cut off from etcd refuses tokens and certificates rather than serve a revoked one, and resumes after', async () => {
    const from = '127.0.0.4';
    const cut = replicas[2]!;
    const live = await session(0, 'job-live', from);
    const doomed = await session(0, 'job-doomed', from);
    expect((await callOk(cut.daemon, '/v1/status', { from, token: doomed })).status).toBe(200);
    const stopped = performance.now();
    cluster.kill(follower, 'SIGSTOP');
    try {
      await ok(t.env, ['token', 'revoke', '--store', store([0, 1, 2].filter((i) => i !== follower)), doomed.split('_')[1]!]);
      const revoked = performance.now();
      const cutOff = (r: Reply): boolean => r.status !== 200;
      const refused = await refusedWithinBound(revoked, () => call(cut.daemon, '/v1/status', { from, token: doomed }), 'the revoked token on the cut-off replica', cutOff);
      expect(refused.status).toBe(503);
      expect(refused.body.error?.code).toBe('unavailable');
      // Each view confirmed its last moment before the member stopped: from the bound after that, nothing is answered.
      for (const [probe, p] of [[{ token: live }, '/v1/secrets/ci%2Fdeploy'], [{ cn: 'agent-cut' }, '/v1/secrets/proxmox_password']] as const) {
        const r = await refusedWithinBound(stopped, () => call(cut.daemon, p, { from, ...probe }), `${Object.keys(probe)[0]} on the cut-off replica`, cutOff);
        expect(r.status).toBe(503);
        expect(r.body.error?.code).toBe('unavailable');
        expect(r.body.value).toBeUndefined();
      }
      // The replicas on the other members answer meanwhile.
      expect((await callOk(replicas[0]!.daemon, '/v1/status', { from, token: live })).status).toBe(200);
      expect((await refusedWithinBound(revoked, () => call(replicas[1]!.daemon, '/v1/status', { from, token: doomed }), 'the revoked token on r1')).status).toBe(401);
    } finally {
      cluster.kill(follower, 'SIGCONT');
    }
    await waitUntil(async () => (await call(cut.daemon, '/v1/status', { from, token: live })).status === 200, 'the cut-off replica to answer again', 30_000);
    const after = await callOk(cut.daemon, '/v1/status', { from, token: doomed });
    expect(after.status).toBe(401);
    expect(after.body.error?.code).toBe('denied');
  });
});

describe('audit heads in etcd', () => {
  it('each replica anchors its chain head in etcd; audit verify --store checks a log against it and finds a cut tail', async () => {
    const r0 = replicas[0]!;
    const head = async (id: string): Promise<{ replica: string; seq: number; hash: string; mac: string } | null> => {
      const kv = (await etcd.range(etcdKey(prefix, 'audit', id, 'head'))).kvs[0];
      return kv ? JSON.parse(Buffer.from(kv.value).toString()) : null;
    };
    for (const r of replicas) await waitUntil(async () => (await head(r.id)) !== null, `the audit head of ${r.id} in etcd`, 10_000);
    r0.daemon.child.kill('SIGTERM');
    await new Promise((res) => r0.daemon.child.once('exit', res));
    const lines = fs.readFileSync(path.join(r0.env.home, 'audit.log'), 'utf8').trimEnd().split('\n');
    const anchored = (await head('r0'))!;
    expect(anchored).toMatchObject({ replica: 'r0', mac: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(anchored.seq).toBeGreaterThan(1);
    expect(anchored.seq).toBeLessThanOrEqual(lines.length); // anchored at its stop, at most the lines written after it (none are expected)
    expect(anchored.hash).toBe(sha256(lines[anchored.seq - 1]!));

    const verify = (): Promise<{ code: number | null; stdout: string; stderr: string }> => cli(r0.env.env, ['audit', 'verify', '--store', store(), '--replica-id', 'r0', '--password-stdin'], PASSWORD);
    const good = await verify();
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    expect(good.stdout).toContain(`the head anchored in etcd (line ${anchored.seq}) matches`);

    const kept = anchored.seq - 1;
    fs.writeFileSync(path.join(r0.env.home, 'audit.log'), `${lines.slice(0, kept).join('\n')}\n`);
    const cut = await verify();
    expect(cut.code).toBe(6);
    expect(cut.stderr).toContain(`the log ends at line ${kept} but the vault anchored line ${anchored.seq}: lines at its end were cut`);

    // A head rewritten without the key is refused as tampered.
    await etcd.put(etcdKey(prefix, 'audit', 'r0', 'head'), Buffer.from(JSON.stringify({ ...anchored, seq: kept, hash: sha256(lines[kept - 1]!) })));
    const forged = await verify();
    expect(forged.code).toBe(6);
    expect(forged.stderr).toContain('the audit head of replica r0 in etcd was altered or written without the key');
  });
});

describe('bad input', () => {
  it('a malformed --store, --replica-id without --store, and an unreachable etcd fail with the contract\'s codes, one line and a hint', async () => {
    const malformed = await cli(t.env, ['token', 'list', '--store', 'http://127.0.0.1:2379']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/^glassdome: --store "http:\/\/127\.0\.0\.1:2379": not an etcd:\/\/ address\nglassdome: hint: /);
    const lone = await cli(t.env, ['serve', '--replica-id', 'r9', '--password-stdin', '--cert', 'x', '--key', 'x', '--client-ca', 'x'], PASSWORD);
    expect(lone.code).toBe(2);
    expect(lone.stderr).toContain('glassdome: --replica-id names a replica on etcd');
    const badId = await cli(t.env, ['audit', 'verify', '--store', store(), '--replica-id', '../r0', '--password-stdin'], PASSWORD);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toContain('--replica-id "../r0" is not usable');
    const reset = await cli(t.env, ['audit', 'verify', '--store', store(), '--reset-anchor', '--password-stdin'], PASSWORD);
    expect(reset.code).toBe(2);
    const down = await cli(t.env, ['token', 'revoke', '--store', 'etcd://127.0.0.1:1', '0123456789abcdef']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^glassdome: .*\nglassdome: hint: .*\n$/);
    expect(down.stderr).not.toMatch(/\bat \S+ \(/); // no stack trace
    const wrong = await cli(t.env, ['token', 'create', '--store', store(), '--client', 'job-x', '--password-stdin'], 'not the password');
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toBe('');
  });
});

