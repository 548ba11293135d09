// The etcd client (src/etcd/client.ts) and the freshness-guarded view (src/etcd/view.ts) against
// a real three-member etcd cluster (Debian's etcd 3.4) on loopback: reads and writes, txn compared
// on mod_revision, watch, failover when the member in use dies, `unavailable` when none answers,
// and a view that refuses while its member is stopped and serves again once it resumes.

import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClient, EtcdUnavailable, MAX_RESPONSE_BYTES, type WatchEvent } from '../../src/etcd/client.js';
import { etcdKey, parseEtcdStore, prefixEnd } from '../../src/etcd/layout.js';
import { clockPut, EtcdView } from '../../src/etcd/view.js';
import { GlassdomeError } from '../../src/errors.js';
import { ETCDCTL_BIN, freePort, startCluster, waitUntil, type TestCluster } from '../helpers/etcd.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

let cluster: TestCluster;
const clients: EtcdClient[] = [];
const client = (endpoints: string[], requestTimeoutMs?: number): EtcdClient => {
  const c = new EtcdClient(endpoints, requestTimeoutMs ? { requestTimeoutMs } : {});
  clients.push(c);
  return c;
};

beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(() => {
  for (const c of clients) c.close();
  cluster?.stop();
});

describe('etcd client', () => {
  it('puts, reads one key, a prefix, a page, and deletes', async () => {
    const c = client(cluster.endpoints);
    const p = `/t${process.pid}/kv`;
    const { revision } = await c.put(etcdKey(p, 'a'), enc('one'));
    await c.put(etcdKey(p, 'b'), new Uint8Array([0, 255, 10]));
    await c.put(etcdKey(p, 'c'), enc('three'));
    const one = await c.range(etcdKey(p, 'a'));
    expect(one.kvs.map((kv) => [dec(kv.key), dec(kv.value), kv.modRevision, kv.version])).toEqual([[`${p}/a`, 'one', revision, 1]]);
    const all = await c.range(etcdKey(p, ''), { prefix: true });
    expect(all.kvs.map((kv) => dec(kv.key))).toEqual([`${p}/a`, `${p}/b`, `${p}/c`]);
    expect([...all.kvs[1]!.value]).toEqual([0, 255, 10]);
    const page = await c.range(etcdKey(p, ''), { prefix: true, limit: 2 });
    expect([page.kvs.length, page.more]).toEqual([2, true]);
    const old = await c.range(etcdKey(p, ''), { prefix: true, revision });
    expect(old.kvs.map((kv) => dec(kv.key))).toEqual([`${p}/a`]);
    const gone = await c.delete(etcdKey(p, ''), { prefix: true });
    expect(gone.deleted).toBe(3);
    expect((await c.range(etcdKey(p, 'a'), { serializable: true })).kvs).toEqual([]);
  });

  it("agrees with etcdctl, etcd's own client, byte for byte", async () => {
    const c = client(cluster.endpoints);
    const key = `/t${process.pid}/ctl/k`;
    const bytes = new Uint8Array([0, 1, 2, 0xc3, 0x28, 0xff, 10, 13]);
    await c.put(enc(key), bytes);
    const env = { ...process.env, ETCDCTL_API: '3' };
    const got = spawnSync(ETCDCTL_BIN, ['--endpoints', cluster.endpoints.join(','), 'get', key, '--print-value-only'], { env });
    expect(got.status).toBe(0);
    expect([...got.stdout.subarray(0, bytes.length)]).toEqual([...bytes]);
    const put = spawnSync(ETCDCTL_BIN, ['--endpoints', cluster.endpoints.join(','), 'put', `/t${process.pid}/ctl/from-ctl`], { env, input: 'written by etcdctl' });
    expect(put.status).toBe(0);
    expect(dec((await c.range(enc(`/t${process.pid}/ctl/from-ctl`))).kvs[0]!.value)).toBe('written by etcdctl');
  });

  it('runs a txn only while the compared mod_revision still holds', async () => {
    const c = client(cluster.endpoints);
    const key = etcdKey(`/t${process.pid}`, 'txn');
    const first = await c.put(key, enc('v1'));
    const won = await c.txn([{ key, target: 'MOD', result: 'EQUAL', modRevision: first.revision }], [{ put: { key, value: enc('v2') } }], [{ range: { key } }]);
    expect(won.succeeded).toBe(true);
    const lost = await c.txn([{ key, target: 'MOD', result: 'EQUAL', modRevision: first.revision }], [{ put: { key, value: enc('v3') } }], [{ range: { key } }]);
    expect(lost.succeeded).toBe(false);
    const seen = lost.responses[0] as { range: { kvs: Array<{ value: Uint8Array; modRevision: number }> } };
    expect(dec(seen.range.kvs[0]!.value)).toBe('v2');
    expect(seen.range.kvs[0]!.modRevision).toBe(won.revision);
    const created = await c.txn([{ key: enc(`/t${process.pid}/new`), target: 'VERSION', result: 'EQUAL', version: 0 }], [{ put: { key: enc(`/t${process.pid}/new`), value: enc('x') } }]);
    expect(created.succeeded).toBe(true);
    const again = await c.txn([{ key: enc(`/t${process.pid}/new`), target: 'VERSION', result: 'EQUAL', version: 0 }], [{ put: { key: enc(`/t${process.pid}/new`), value: enc('y') } }]);
    expect(again.succeeded).toBe(false);
    const byValue = await c.txn([{ key, target: 'VALUE', result: 'EQUAL', value: enc('v2') }], [{ delete: { key } }]);
    expect(byValue.succeeded).toBe(true);
    expect((await c.range(key)).kvs).toEqual([]);
  });

  it('watches a prefix: puts and deletes in order, from a start revision', async () => {
    const c = client(cluster.endpoints);
    const p = etcdKey(`/t${process.pid}/watch`, '');
    const before = await c.put(etcdKey(`/t${process.pid}/watch`, 'early'), enc('0'));
    const seen: WatchEvent[] = [];
    const errors: Error[] = [];
    const w = c.watch(p, { prefix: true, startRevision: before.revision }, (events) => seen.push(...events), (e) => errors.push(e));
    await c.put(etcdKey(`/t${process.pid}/watch`, 'x'), enc('1'));
    await c.put(etcdKey(`/t${process.pid}/other`), enc('not watched'));
    await c.delete(etcdKey(`/t${process.pid}/watch`, 'x'));
    await waitUntil(() => seen.length >= 3, 'three watch events');
    w.cancel();
    expect(seen.map((e) => [e.type, dec(e.kv.key)])).toEqual([
      ['PUT', `/t${process.pid}/watch/early`],
      ['PUT', `/t${process.pid}/watch/x`],
      ['DELETE', `/t${process.pid}/watch/x`],
    ]);
    expect(errors).toEqual([]);
  });

  it('fails over to the next member when the one in use is killed', async () => {
    const c = client(cluster.endpoints);
    const key = etcdKey(`/t${process.pid}`, 'failover');
    await c.put(key, enc('before'));
    const first = cluster.endpoints.indexOf(c.endpoint);
    cluster.kill(first, 'SIGKILL');
    try {
      let wrote = false;
      await waitUntil(async () => {
        try {
          await c.put(key, enc('after'));
          wrote = true;
        } catch (err) {
          if (!(err instanceof EtcdUnavailable)) throw err;
        }
        return wrote;
      }, 'a write after the member died', 30_000);
      expect(c.endpoint).not.toBe(cluster.endpoints[first]);
      expect(dec((await c.range(key)).kvs[0]!.value)).toBe('after');
    } finally {
      await cluster.restart(first);
    }
  });

  it('says unavailable, with no key or value in the message, when no member answers', async () => {
    const c = client([`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`], 500);
    const err = await c.put(enc('/secret-key-name'), enc('secret-value')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GlassdomeError);
    expect((err as GlassdomeError).code).toBe('unavailable');
    expect((err as EtcdUnavailable).ambiguous).toBe(false);
    expect((err as Error).message).toMatch(/no etcd member answered/);
    expect((err as Error).message).not.toMatch(/secret/);
  });

  it('refuses a request over etcd 1.5 MiB limit as too_large', async () => {
    const c = client(cluster.endpoints);
    const err = await c.put(enc(`/t${process.pid}/big`), new Uint8Array(2 * 1024 * 1024)).catch((e: unknown) => e);
    expect((err as GlassdomeError).code).toBe('too_large');
    expect(MAX_RESPONSE_BYTES).toBeGreaterThan(2 * 1024 * 1024);
  });

  it('parses --store addresses and prefix ends', () => {
    expect(parseEtcdStore('etcd://127.0.0.1:2379,[::1]:2380/lab/gd')).toEqual({ endpoints: ['http://127.0.0.1:2379', 'http://[::1]:2380'], prefix: '/lab/gd' });
    expect(parseEtcdStore('etcd://etcd1:2379')).toEqual({ endpoints: ['http://etcd1:2379'], prefix: '/glassdome' });
    expect(() => parseEtcdStore('etcd://host/x')).toThrow(/not HOST:PORT/);
    expect(() => parseEtcdStore('etcd://h:1/a b')).toThrow(/prefix/);
    expect([...prefixEnd(enc('a/'))]).toEqual([...enc('a0')]);
    expect([...prefixEnd(new Uint8Array([0x61, 0xff]))]).toEqual([0x62]);
  });
});

describe('etcd view', () => {
  it('mirrors a prefix, follows another writer, and refuses while its member is stopped', async () => {
    const p = etcdKey(`/t${process.pid}/view`, '');
    const setup = client(cluster.endpoints);
    for (let i = 0; i < 7; i++) await setup.txn([], [{ put: { key: etcdKey(`/t${process.pid}/view`, `k${i}`), value: enc(`v${i}`) } }, clockPut(p)]);
    const leader = await cluster.leader();
    const follower = leader === 0 ? 1 : 0;
    const writer = client([cluster.endpoints[leader]!]);
    const changes: WatchEvent[][] = [];
    // the view talks to one follower only: stopping it cuts the view off
    const view = new EtcdView(client([cluster.endpoints[follower]!], 300), p, { onChange: (events) => changes.push(events) });
    try {
      await view.start();
      expect([...view.entries.keys()].sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6']);
      await waitUntil(() => view.isFresh(), 'the view to be fresh');
      view.assertFresh();

      const w = await view.txn([], [{ put: { key: etcdKey(`/t${process.pid}/view`, 'k9'), value: enc('nine') } }]);
      expect(await view.waitFor(w.revision, 10_000)).toBe(true);
      expect(dec(view.get('k9')!.value)).toBe('nine');
      await writer.txn([], [{ delete: { key: etcdKey(`/t${process.pid}/view`, 'k0') } }, clockPut(p)]);
      await waitUntil(() => !view.entries.has('k0'), 'the delete to reach the view');
      expect(changes.flat().map((e) => e.type)).toEqual(['PUT', 'DELETE']);

      cluster.kill(follower, 'SIGSTOP');
      try {
        await waitUntil(() => !view.isFresh(), 'the view to notice it is cut off', 30_000);
        let refusal: unknown;
        try {
          view.assertFresh();
        } catch (err) {
          refusal = err;
        }
        expect((refusal as GlassdomeError).code).toBe('unavailable');
        expect((refusal as GlassdomeError).message).toMatch(/refuses rather than answer from stale data/);
        await writer.txn([], [{ put: { key: etcdKey(`/t${process.pid}/view`, 'k10'), value: enc('ten') } }, clockPut(p)]);
      } finally {
        cluster.kill(follower, 'SIGCONT');
      }
      await waitUntil(() => view.isFresh(), 'the view to be fresh again', 30_000);
      expect(dec(view.get('k10')!.value)).toBe('ten');
    } finally {
      view.stop();
    }
  });
});
