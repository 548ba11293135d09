// Several `glassdome serve` replicas sharing one vault through a real three-member etcd cluster
// (Debian's etcd 3.4) on loopback: `store migrate` puts the file vault into etcd, replicas (each
// with its own GLASSDOME_HOME for its audit log) serve it; a write through one is read through
// another; etcd holds only ciphertext; kill -9 of the etcd leader during a stream of writes loses
// no acknowledged write and applies none twice; a replica cut off from etcd answers 503 and
// resumes; `store migrate --from` brings the vault back byte for byte.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClient } from '../../src/etcd/client.js';
import { etcdKey } from '../../src/etcd/layout.js';
import { vaultPaths } from '../../src/store/paths.js';
import { loadVault } from '../../src/store/vault-files.js';
import { readMasterKeyText } from '../../src/store/vault-text.js';
import { unsealMasterKey, wipeKeys } from '../../src/vault/vault.js';
import { applyPolicy, cli, makeEnv, makeVault, PASSWORD, type TestEnv } from '../helpers/cli.js';
import { freePort, startCluster, waitUntil, type TestCluster } from '../helpers/etcd.js';
import { clientEnv, makeLab, ok, request, startServe, type Daemon } from '../helpers/serve.js';

const POLICY = `
authorization:
  rules:
    - name: writers
      clients: ["writer-*"]
      secrets: ["**"]
      actions: [read, write, delete]
    - name: readers
      clients: ["reader-*"]
      secrets: ["**"]
      actions: [read]
rate_limits:
  read: { rate: 100000, per: minute, burst: 100000 }
`;

let cluster: TestCluster;
let t: TestEnv;
let store: string;
const prefix = `/gd-test-${process.pid}`;
const replicas: Daemon[] = [];
const clients: EtcdClient[] = [];

/** Starts a replica of the etcd store, with its own GLASSDOME_HOME (its audit log), pointed at `endpoints`. */
async function replica(endpoints: string[]): Promise<Daemon> {
  const home = fs.mkdtempSync(path.join(t.dir, 'replica-'));
  const url = `etcd://${endpoints.map((e) => e.replace('http://', '')).join(',')}${prefix}`;
  const d = await startServe({ ...t, env: { ...t.env, GLASSDOME_HOME: home } }, { extra: ['--store', url] });
  replicas.push(d);
  return d;
}

const put = (d: Daemon, name: string, value: string): ReturnType<typeof request> => request(d, t, `/v1/secrets/${encodeURIComponent(name)}`, { method: 'PUT', cn: 'writer-1', body: value });
const rawGet = (d: Daemon, name: string): ReturnType<typeof request> => request(d, t, `/v1/secrets/${encodeURIComponent(name)}`, { cn: 'reader-1' });
/** A read as a client does it: a 503 `unavailable` (the replica's view not fresh for a moment, on a loaded machine) is retried. */
async function get(d: Daemon, name: string): ReturnType<typeof request> {
  let answer = await rawGet(d, name);
  for (let tries = 0; answer.body.error?.code === 'unavailable' && tries < 100; tries++) {
    await new Promise((r) => setTimeout(r, 100));
    answer = await rawGet(d, name);
  }
  return answer;
}
const valueOf = (a: Awaited<ReturnType<typeof request>>): string => Buffer.from(String(a.body.value), 'base64').toString('utf8');

beforeAll(async () => {
  cluster = await startCluster();
  t = makeEnv();
  await makeLab(t, POLICY, ['writer-1', 'reader-1']);
  store = `etcd://${cluster.endpoints.map((e) => e.replace('http://', '')).join(',')}${prefix}`;
  const moved = JSON.parse(await ok(t.env, ['store', 'migrate', '--to', store, '--password-stdin', '--json'], PASSWORD)) as { secrets: number; policy: boolean; verified: boolean };
  expect(moved).toMatchObject({ secrets: 3, policy: true, verified: true });
}, 180_000);

afterAll(() => {
  for (const d of replicas) d.stop();
  for (const c of clients) c.close();
  cluster?.stop();
  t?.cleanup();
});

describe('serve replicas on etcd', () => {
  it('a value written through one replica is read through another', async () => {
    const [a, b] = [await replica(cluster.endpoints), await replica([...cluster.endpoints].reverse())];
    expect(a.log()).toContain(`serving ${store}`);
    expect(valueOf(await get(b, 'proxmox_password'))).toBe('pve-secret'); // migrated from the file vault
    expect(await ok(clientEnv(t, b, { cn: 'reader-1' }), ['get', 'ai_key'])).toBe('ai-secret\n');

    const first = await put(a, 'shared/one', 'written through a – ünïcode');
    expect([first.status, first.body.error?.message]).toEqual([200, undefined]);
    await waitUntil(async () => (await get(b, 'shared/one')).status === 200, 'the write to reach replica b');
    expect(valueOf(await get(b, 'shared/one'))).toBe('written through a – ünïcode');
    expect((await put(b, 'shared/one', 'rewritten through b')).status).toBe(200);
    await waitUntil(async () => valueOf(await get(a, 'shared/one')) === 'rewritten through b', 'the rewrite to reach replica a');

    expect((await request(b, t, '/v1/secrets/shared%2Fone', { method: 'DELETE', cn: 'writer-1' })).status).toBe(200);
    await waitUntil(async () => (await get(a, 'shared/one')).status === 404, 'the delete to reach replica a');
    const denied = await request(a, t, '/v1/secrets/x', { method: 'PUT', cn: 'reader-1', body: 'nope' });
    expect([denied.status, denied.body.error?.code]).toEqual([403, 'denied']);
    expect((await get(b, 'x')).status).toBe(404);
  });

  it('a value of 1 MiB (the limit) goes through etcd and back; one byte more is refused', async () => {
    const [a, b] = replicas;
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
    const stored = await request(a!, t, '/v1/secrets/big', { method: 'PUT', cn: 'writer-1', body: big });
    expect([stored.status, stored.body.error?.message]).toEqual([200, undefined]);
    await waitUntil(async () => (await get(b!, 'big')).status === 200, 'the big value to reach replica b');
    expect(Buffer.from(String((await get(b!, 'big')).body.value), 'base64').equals(big)).toBe(true);
    const over = await request(a!, t, '/v1/secrets/big', { method: 'PUT', cn: 'writer-1', body: Buffer.concat([big, Buffer.from([1])]) }).catch((e: Error) => e);
    expect(over instanceof Error ? 'cut mid-body' : `${over.status} ${over.body.error?.code}`).toMatch(/^(cut mid-body|413 too_large)$/);
    expect(Buffer.from(String((await get(a!, 'big')).body.value), 'base64').equals(big)).toBe(true);
    expect((await request(a!, t, '/v1/secrets/big', { method: 'DELETE', cn: 'writer-1' })).status).toBe(200);
  });

  it('etcd holds only ciphertext: no value and no secret name in any key or value', async () => {
    const c = new EtcdClient(cluster.endpoints);
    clients.push(c);
    const { kvs } = await c.range(etcdKey(prefix, ''), { prefix: true });
    const all = Buffer.concat(kvs.flatMap((kv) => [Buffer.from(kv.key), Buffer.from(kv.value)]));
    expect(kvs.length).toBeGreaterThan(3);
    for (const needle of ['pve-secret', 'ai-secret', 'deploy-secret', 'proxmox_password', 'ci/deploy', 'writer-*']) expect(all.includes(Buffer.from(needle))).toBe(false);
  });

  it('kill -9 of the etcd leader during a stream of writes: no acknowledged write lost, none applied twice', async () => {
    // replica a talks to the leader first, so the kill cuts its requests in flight
    const leader = await cluster.leader();
    const a = await replica([cluster.endpoints[leader]!, ...cluster.endpoints.filter((_, i) => i !== leader)]);
    const b = await replica(cluster.endpoints);
    const acknowledged: string[] = [];
    const refused: string[] = [];
    let next = 0;
    let killed = -1;
    const writer = async (): Promise<void> => {
      while (next < 80) {
        const i = next++;
        if (i === 30) {
          killed = leader;
          cluster.kill(leader, 'SIGKILL'); // four writers keep going: some of their requests are in flight now
        }
        const answer = await put(a, `stream/k${i}`, `value ${i}`);
        if (answer.status === 200) acknowledged.push(`stream/k${i}`);
        else refused.push(`${answer.status} ${answer.body.error?.code}`);
      }
    };
    await Promise.all([writer(), writer(), writer(), writer()]);
    await cluster.restart(killed);
    // the only refusal allowed is "unavailable" (etcd could not confirm in time), and the stream came back
    expect(refused.every((r) => r === '503 unavailable')).toBe(true);
    expect(acknowledged.length).toBeGreaterThan(refused.length);
    expect(acknowledged).toContain('stream/k79');
    for (const name of acknowledged) {
      const answer = await get(b, name);
      expect([name, answer.status, valueOf(answer)]).toEqual([name, 200, `value ${name.slice('stream/k'.length)}`]);
    }
    // each record was put exactly once: etcd's version counts every put since the key was created
    const c = new EtcdClient(cluster.endpoints);
    clients.push(c);
    const { kvs } = await c.range(etcdKey(prefix, 'vault', 'secrets', ''), { prefix: true });
    const names = (await request(b, t, '/v1/secrets', { cn: 'reader-1' })).body.names as string[];
    const streamed = names.filter((n) => n.startsWith('stream/'));
    expect(streamed.length).toBeGreaterThanOrEqual(acknowledged.length);
    expect(kvs.filter((kv) => kv.version !== 1)).toEqual([]);
  });

  it('a replica cut off from etcd answers 503 within its bound and resumes with what it missed', async () => {
    const leader = await cluster.leader();
    const only = (leader + 1) % 3;
    const cut = await replica([cluster.endpoints[only]!]);
    const other = await replica(cluster.endpoints.filter((_, i) => i !== only));
    expect((await rawGet(cut, 'ai_key')).status).toBe(200);
    cluster.kill(only, 'SIGSTOP');
    try {
      await waitUntil(async () => (await rawGet(cut, 'ai_key')).status === 503, 'the cut-off replica to refuse', 30_000);
      const refusal = await rawGet(cut, 'ai_key');
      expect(refusal.body.error?.code).toBe('unavailable');
      expect(refusal.body.error?.message).toMatch(/refuses rather than answer from stale data/);
      expect((await put(other, 'ai_key', 'changed while cut off')).status).toBe(200);
    } finally {
      cluster.kill(only, 'SIGCONT');
    }
    await waitUntil(async () => (await rawGet(cut, 'ai_key')).status === 200, 'the replica to answer again', 30_000);
    expect(valueOf(await rawGet(cut, 'ai_key'))).toBe('changed while cut off');
  });

  it('store migrate --from brings the vault back byte for byte; a non-empty target needs --force', async () => {
    const a = replicas[0]!;
    const binary = Buffer.from([0, 1, 2, 0xfe, 0xff, 10, 13, 0]);
    const raw = await request(a, t, '/v1/secrets/bin', { method: 'PUT', cn: 'writer-1', body: binary });
    expect(raw.status).toBe(200);

    const again = await cli(t.env, ['store', 'migrate', '--to', store, '--password-stdin'], PASSWORD);
    expect([again.code, again.stderr]).toEqual([1, expect.stringMatching(/^glassdome: .* already holds a vault\nglassdome: hint: .*--force/)]);

    const back = makeEnv();
    try {
      const r = await cli(back.env, ['store', 'migrate', '--from', store, '--password-stdin', '--json'], PASSWORD);
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout) as { secrets: number; verified: boolean };
      const names = (await request(a, t, '/v1/secrets', { cn: 'reader-1' })).body.names as string[];
      expect(report).toMatchObject({ secrets: names.length, verified: true, policy: true });
      const paths = vaultPaths(back.home);
      const keys = await unsealMasterKey(readMasterKeyText(paths), Buffer.from(PASSWORD));
      try {
        const { payload } = loadVault(paths, keys);
        expect([...payload.map.keys()].sort()).toEqual(names);
        for (const name of names) {
          const served = Buffer.from(String((await get(a, name)).body.value), 'base64');
          expect([name, Buffer.from(payload.map.get(name)!.value).equals(served)]).toEqual([name, true]);
        }
        expect(Buffer.from(payload.map.get('bin')!.value).equals(binary)).toBe(true);
        expect(payload.policy).toContain('writers');
      } finally {
        wipeKeys(keys);
      }
      const twice = await cli(back.env, ['store', 'migrate', '--from', store, '--password-stdin'], PASSWORD);
      expect([twice.code, twice.stderr]).toEqual([1, expect.stringMatching(/^glassdome: a vault already exists at .*\nglassdome: hint: .*--force/)]);
      const wrong = await cli(back.env, ['store', 'migrate', '--from', store, '--password-stdin', '--force'], 'wrong password');
      expect([wrong.code, wrong.stderr]).toEqual([1, expect.stringMatching(/^glassdome: wrong password/)]);
    } finally {
      back.cleanup();
    }
  });

  it('bad addresses, an empty prefix and unreachable members: one-line errors with the contract\'s exit codes', async () => {
    const both = await cli(t.env, ['store', 'migrate', '--to', store, '--from', store, '--password-stdin'], PASSWORD);
    expect(both.code).toBe(2);
    const neither = await cli(t.env, ['store', 'migrate', '--password-stdin'], PASSWORD);
    expect([neither.code, neither.stderr]).toEqual([2, expect.stringMatching(/^glassdome: say either --to etcd:\/\/… .*\nglassdome: hint: /)]);
    const badUrl = await cli(t.env, ['store', 'migrate', '--to', 'etcd://nohost/x', '--password-stdin'], PASSWORD);
    expect([badUrl.code, badUrl.stderr]).toEqual([2, expect.stringMatching(/^glassdome: --store "etcd:\/\/nohost\/x": "nohost" is not HOST:PORT\nglassdome: hint: like etcd:/)]);
    const down = await cli(t.env, ['store', 'migrate', '--to', `etcd://127.0.0.1:${await freePort()}/x`, '--password-stdin'], PASSWORD);
    expect([down.code, down.stderr]).toEqual([1, expect.stringMatching(/^glassdome: no etcd member answered: .*\nglassdome: hint: check that the etcd members/)]);
    const empty = await startServe({ ...t, env: { ...t.env, GLASSDOME_HOME: fs.mkdtempSync(path.join(t.dir, 'empty-')) } }, { extra: ['--store', `${store}-empty`] }).catch((e: Error) => e);
    expect(String(empty)).toMatch(/glassdome: no glassdome vault in etcd:\/\/.*-empty\nglassdome: hint: put one there: glassdome store migrate --to/);
  });

  it('replicas lock when another vault replaces theirs under the prefix (store migrate --force)', async () => {
    const a = replicas[0]!;
    expect((await get(a, 'ai_key')).status).toBe(200);
    const other = makeEnv();
    try {
      await makeVault(other);
      await applyPolicy(other, POLICY);
      await ok(other.env, ['store', 'migrate', '--to', store, '--force', '--password-stdin'], PASSWORD);
      await waitUntil(async () => (await get(a, 'ai_key')).status === 503, 'the replica to lock');
      const locked = await get(a, 'ai_key');
      expect([locked.body.error?.code, locked.body.error?.message]).toEqual(['locked', 'the vault was replaced since the daemon was unlocked']);
      const fresh = await replica(cluster.endpoints);
      expect((await get(fresh, 'ai_key')).status).toBe(404); // the new vault holds no ai_key
    } finally {
      other.cleanup();
    }
  });
});
