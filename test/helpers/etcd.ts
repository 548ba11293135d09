// A real three-member etcd cluster (Debian's /usr/bin/etcd) on loopback for a test: free ports,
// its own temp data directories, names that carry this process's pid, short election timeouts;
// members can be killed, stopped (SIGSTOP), resumed and restarted; `stop` ends them all.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Debian's etcd server. */
export const ETCD_BIN = '/usr/bin/etcd';
/** Debian's etcd command-line client. */
export const ETCDCTL_BIN = '/usr/bin/etcdctl';
/** Raft heartbeat of the test cluster (ms). */
export const HEARTBEAT_MS = 50;
/** Election timeout of the test cluster (ms): a new leader is chosen within about this. */
export const ELECTION_TIMEOUT_MS = 500;

/** One member of a test cluster. */
export interface Member {
  name: string;
  endpoint: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  child: ChildProcess | null;
  log: string;
}

/** A running test cluster. */
export interface TestCluster {
  members: Member[];
  /** `http://127.0.0.1:PORT` of each member. */
  endpoints: string[];
  /** The pid of each member's process (null when it is not running). */
  pids(): Array<number | null>;
  /** The index of the current leader (asks the members until one names it). */
  leader(): Promise<number>;
  /** Sends a signal to one member (SIGKILL also forgets its process). */
  kill(member: number, signal?: NodeJS.Signals): void;
  /** Starts a killed member again on its data directory and waits until it serves. */
  restart(member: number): Promise<void>;
  /** Kills every member and removes the data directories. */
  stop(): void;
}

/** Polls an async check every 25 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A free loopback TCP port (the kernel picks; closed again before etcd binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** POSTs JSON to a member's gateway; null when it does not answer within `timeoutMs`. */
export function etcdPost(endpoint: string, urlPath: string, body: unknown, timeoutMs = 1000): Promise<Record<string, unknown> | null> {
  return new Promise((resolve) => {
    const url = new URL(urlPath, endpoint);
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, timeout: timeoutMs }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? (JSON.parse(text) as Record<string, unknown>) : null);
        } catch {
          resolve(null);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end(JSON.stringify(body));
  });
}

/** Starts a three-member cluster and waits until every member answers a linearizable read. */
export async function startCluster(size = 3): Promise<TestCluster> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `glassdome-etcd-${process.pid}-`));
  const tag = `gd${process.pid}-${path.basename(root).slice(-6)}`;
  const members: Member[] = [];
  for (let i = 0; i < size; i++) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    members.push({ name: `${tag}-m${i}`, endpoint: `http://127.0.0.1:${clientPort}`, clientPort, peerPort, dataDir: path.join(root, `m${i}`), child: null, log: '' });
  }
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
  const launch = (m: Member): void => {
    const args = [
      '--name', m.name, '--data-dir', m.dataDir,
      '--listen-client-urls', m.endpoint, '--advertise-client-urls', m.endpoint,
      '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`,
      '--initial-cluster', initialCluster, '--initial-cluster-token', tag, '--initial-cluster-state', 'new',
      '--heartbeat-interval', String(HEARTBEAT_MS), '--election-timeout', String(ELECTION_TIMEOUT_MS),
      '--log-level', 'warn', '--logger', 'zap',
    ];
    m.log = '';
    const child = spawn(ETCD_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (c: Buffer) => (m.log = (m.log + c.toString()).slice(-20_000)));
    child.on('exit', () => {
      if (m.child === child) m.child = null;
    });
    m.child = child;
  };
  const serving = async (m: Member): Promise<void> => {
    await waitUntil(async () => (await etcdPost(m.endpoint, '/v3/kv/range', { key: 'AA==' })) !== null, `etcd member ${m.name} to serve (log: ${m.log.slice(-500)})`, 30_000);
  };
  const cluster: TestCluster = {
    members,
    endpoints: members.map((m) => m.endpoint),
    pids: () => members.map((m) => m.child?.pid ?? null),
    leader: async () => {
      let found = -1;
      await waitUntil(async () => {
        for (const m of members) {
          if (!m.child) continue;
          const status = await etcdPost(m.endpoint, '/v3/maintenance/status', {}, 500);
          const header = status?.header as Record<string, unknown> | undefined;
          if (status && status.leader !== undefined && status.leader === header?.member_id) {
            found = members.indexOf(m);
            return true;
          }
        }
        return false;
      }, 'an etcd leader', 30_000);
      return found;
    },
    kill: (i, signal = 'SIGKILL') => {
      const m = members[i]!;
      m.child?.kill(signal);
      if (signal === 'SIGKILL') m.child = null;
    },
    restart: async (i) => {
      const m = members[i]!;
      if (m.child) throw new Error(`etcd member ${m.name} is still running`);
      launch(m);
      await serving(m);
    },
    stop: () => {
      for (const m of members) {
        m.child?.kill('SIGCONT');
        m.child?.kill('SIGKILL');
        m.child = null;
      }
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    for (const m of members) launch(m);
    for (const m of members) await serving(m);
  } catch (err) {
    cluster.stop();
    throw err;
  }
  return cluster;
}
