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
}

/** How far up the process tree `parent` matchers look. */
export const MAX_ANCESTORS = 8;

/** The rate-limit key of a client: uid and executable. */
export function clientKey(c: Pick<Client, 'uid' | 'exe'>): string {
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
