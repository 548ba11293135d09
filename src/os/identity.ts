// A process's identity as the agent pins it at accept and checks again before each value leaves:
// its start time (/proc/PID/stat field 22, which tells a reused pid apart), a pidfd where the
// kernel has one (which stays bound to this very process), and its executable's device and inode
// (stat of /proc/PID/exe, which changes when the process execs another program). Also the
// executable's SHA-256, computed once per file version, for `exe_sha256:` policy matchers.

import crypto from 'node:crypto';
import fs from 'node:fs';
import { ENOPROTOOPT, peerPidfd, pidfdAlive, pidfdOpen } from './libc.js';
import { isRunning, startTime } from './proc.js';

/** What was true of a process when it connected. */
export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot (null when /proc/PID/stat was unreadable). */
  startTime: string | null;
  /** `dev:ino` of the executable (null when /proc/PID/exe could not be stat'ed, e.g. not dumpable). */
  exe: string | null;
  /** A pidfd for the process, or null where the kernel has none (before Linux 5.3). */
  pidfd: number | null;
}

/**
 * Takes a process's identity now (call it at accept, before anything is answered). With the
 * accepted socket, its pidfd comes from the socket (SO_PEERPIDFD), bound to the process that
 * connected: if that process died before the accept and another took its pid, the identity is
 * not that other process's but unidentified (refused). Only a kernel without SO_PEERPIDFD opens
 * the pidfd by pid.
 */
export function pinIdentity(pid: number, socketFd?: number): ProcessIdentity {
  let pidfd: number | null = null;
  let gone = false;
  if (socketFd !== undefined) {
    try {
      pidfd = peerPidfd(socketFd);
    } catch (err) {
      gone = (err as { errno?: number }).errno !== ENOPROTOOPT; // the connecting process is no more
    }
  }
  if (pidfd === null && !gone) {
    try {
      pidfd = pid > 0 ? pidfdOpen(pid) : null;
    } catch {
      pidfd = null; // ENOSYS on old kernels; ESRCH if it is already gone (then startTime fails too)
    }
  }
  const identity = { pid, startTime: gone ? null : startTime(pid), exe: exeFile(pid), pidfd };
  // The pidfd was opened before the reads: if it is still alive now, they were of this process.
  if (pidfd !== null && !pidfdAlive(pidfd)) identity.startTime = null;
  return identity;
}

/**
 * Why the process pinned in `identity` is no longer the one that connected, or null when it still
 * is: the same process (alive through its pidfd, same start time) running the same executable.
 * Checks made together (one batch of audit lines) share `memo`: /proc is read once per pid for
 * them all, and each pidfd is still checked after that read.
 */
export function identityChange(identity: ProcessIdentity, memo?: Map<unknown, unknown>): string | null {
  if (identity.startTime === null) return 'the process could not be identified when it connected';
  const { start, exe } = procNow(identity, memo);
  const exited = `pid ${identity.pid} has exited (the connection outlived the process that opened it)`;
  if (identity.pidfd !== null && !aliveNow(identity, memo)) return exited;
  if (exe === null && identity.exe !== null && !isRunning(identity.pid)) return exited; // a zombie not yet reaped
  if (start !== identity.startTime) return `pid ${identity.pid} is no longer the process that connected (it exited; the pid was reused or is gone)`;
  if (exe !== identity.exe) return `pid ${identity.pid} now runs another executable than when it connected (${identity.exe ?? 'unknown'} -> ${exe ?? 'unknown'}, as dev:inode)`;
  return null;
}

/** The start time (read only without a pidfd) and executable of a pid now, or as `memo` already read them. */
function procNow(identity: ProcessIdentity, memo: Map<unknown, unknown> | undefined): { start: string | null; exe: string | null } {
  const key = `identity:${identity.pid}`;
  let seen = memo?.get(key) as { start?: string | null; exe: string | null } | undefined;
  if (!seen) {
    seen = { exe: exeFile(identity.pid) };
    memo?.set(key, seen);
  }
  // With a pidfd alive after the read, the read was of this very process (its pid cannot have
  // been reused while it runs), so the start time need not be read again (~35 µs of /proc).
  if (identity.pidfd !== null) return { start: identity.startTime, exe: seen.exe };
  if (seen.start === undefined) seen.start = startTime(identity.pid);
  return { start: seen.start, exe: seen.exe };
}

/**
 * Whether the pinned process runs, through its pidfd. Within one memo, a pidfd found alive
 * answers for every identity of the same pid and start time: they pinned the same process (a pid
 * is not reused while its process runs), so a batch asks the kernel once per process, not once
 * per connection. A dead pidfd is never shared: each identity asks on its own.
 */
function aliveNow(identity: ProcessIdentity, memo: Map<unknown, unknown> | undefined): boolean {
  const key = `alive:${identity.pid}:${identity.startTime}`;
  if (memo?.get(key) === true) return true;
  const alive = pidfdAlive(identity.pidfd!);
  if (alive) memo?.set(key, true);
  return alive;
}

/** Closes the pidfd (when the connection ends). */
export function releaseIdentity(identity: ProcessIdentity): void {
  if (identity.pidfd === null) return;
  try {
    fs.closeSync(identity.pidfd);
  } catch {
    // already closed
  }
  identity.pidfd = null;
}

function exeFile(pid: number): string | null {
  try {
    const st = fs.statSync(`/proc/${pid}/exe`, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

/** Digests kept, one per executable version; the least recently computed beyond this are dropped. */
export const MAX_DIGESTS = 256;

const digests = new Map<string, string>();

/**
 * The SHA-256 (hex) of the executable a process runs, read through /proc/PID/exe, or null when it
 * cannot be read or is not the file `expectedExe` (dev:inode) names. Cached per (device, inode,
 * mtime, size): a running executable cannot be written to (ETXTBSY), so one version hashes once.
 */
export function exeDigest(pid: number, expectedExe: string | null): string | null {
  return fileDigest(`/proc/${pid}/exe`, expectedExe);
}

/** The SHA-256 (hex) of a file, cached per version (as exeDigest); null when unreadable or not `expected`. */
export function fileDigest(file: string, expected: string | null = null): string | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY);
  } catch {
    return null;
  }
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    if (!st.isFile()) return null;
    if (expected !== null && `${st.dev}:${st.ino}` !== expected) return null;
    const key = `${st.dev}:${st.ino}:${st.mtimeNs}:${st.size}`;
    let hex = digests.get(key);
    if (hex === undefined) {
      const hash = crypto.createHash('sha256');
      const buf = Buffer.allocUnsafe(1 << 20);
      let offset = 0;
      for (let n; (n = fs.readSync(fd, buf, 0, buf.length, offset)) > 0; offset += n) hash.update(buf.subarray(0, n));
      hex = hash.digest('hex');
      if (digests.size >= MAX_DIGESTS) digests.delete(digests.keys().next().value!);
      digests.set(key, hex);
    }
    return hex;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}
