// Who a client is, as policy and audit see it: for a local process, what the kernel and /proc
// said at connection time (uid, executable, working directory, the executables of its
// ancestors), so a later PID reuse cannot change what was checked.

import fs from 'node:fs';
import type { ProcessIdentity } from '../os/identity.js';

/** A client of the agent. */
export interface Client {
  pid: number;
  uid: number;
  user: string | null;
  exe: string | null;
  cwd: string | null;
  /** Executables of the parent, grandparent, ... (up to MAX_ANCESTORS). */
  parents: string[];
  /** What the agent pinned at accept, checked again before each value is released. */
  identity?: ProcessIdentity;
  /** The SHA-256 (hex) of the executable, computed on demand for `exe_sha256:`; null if unreadable. */
  exeSha256?: () => string | null;
  /** Set for a client of `glassdome serve`: who it proved to be over TLS (then pid 0, uid -1). */
  remote?: RemoteIdentity;
}

/** A network client: its address and its certificate CN (or its token's client name). */
export interface RemoteIdentity {
  address: string;
  /** The certificate CN, or the `--client` name of the token it used. */
  cn: string;
  /** SHA-256 of the client certificate (hex, lower case); null for a token. */
  sha256: string | null;
  /** The token's accessor id; null for a certificate. */
  accessor: string | null;
}

/** A client of the network daemon, as policy and audit see it. */
export function remoteClient(remote: RemoteIdentity): Client {
  return { pid: 0, uid: -1, user: null, exe: null, cwd: null, parents: [], remote };
}

/** How messages name a client: its executable (or pid), or its CN and how it proved it. */
export function describeClient(c: Client): string {
  if (c.remote) return c.remote.accessor ? `token ${c.remote.accessor} (${c.remote.cn})` : `certificate ${c.remote.cn}`;
  return c.exe ?? `pid ${c.pid}`;
}

/** How far up the process tree `parent` matchers look. */
export const MAX_ANCESTORS = 8;

/** The rate-limit key of a client: uid and executable (a remote one: its CN or token). */
export function clientKey(c: Pick<Client, 'uid' | 'exe' | 'remote'>): string {
  if (c.remote) return `remote:${c.remote.accessor ?? `cn:${c.remote.cn}`}`;
  return `${c.uid}:${c.exe ?? '?'}`;
}

/** Describes a local process from its credentials and /proc. */
export function describeProcess(pid: number, uid: number, exe: string | null = readLink(`/proc/${pid}/exe`), cwd: string | null = readLink(`/proc/${pid}/cwd`)): Client {
  return { pid, uid, user: userName(uid), exe, cwd, parents: ancestors(pid) };
}

function ancestors(pid: number): string[] {
  const out: string[] = [];
  let current = pid;
  for (let i = 0; i < MAX_ANCESTORS; i++) {
    const ppid = parentOf(current);
    if (!ppid || ppid <= 1) break;
    const exe = readLink(`/proc/${ppid}/exe`);
    if (exe) out.push(exe);
    current = ppid;
  }
  return out;
}

function parentOf(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

let users: Map<number, string> | undefined;

/** The user name of a uid, from /etc/passwd. */
export function userName(uid: number): string | null {
  if (!users) {
    users = new Map();
    try {
      for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const [name, , id] = line.split(':');
        if (name && id && !users.has(Number(id))) users.set(Number(id), name);
      }
    } catch {
      // no passwd file: names stay unknown
    }
  }
  return users.get(uid) ?? null;
}

function readLink(p: string): string | null {
  try {
    return fs.readlinkSync(p);
  } catch {
    return null;
  }
}
