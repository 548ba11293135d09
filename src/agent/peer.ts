// Who is on the other end of an accepted connection: the kernel's SO_PEERCRED (pid and uid, fixed
// at connect time and unforgeable), the process's pinned identity (start time, pidfd, executable
// dev:inode: checked again before each value leaves, see src/os/identity.ts), then executable,
// working directory and ancestors from /proc, read once at accept.

import type net from 'node:net';
import { peerCredentials, pidfdAlive } from '../os/libc.js';
import { exeDigest, pinIdentity } from '../os/identity.js';
import { describeProcess, userName, type Client } from '../policy/client.js';

/** The file descriptor behind a net.Socket (libuv keeps it on the handle). */
export function socketFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('socket has no file descriptor');
  return fd;
}

/**
 * The peer of an accepted Unix socket, described at once (pid reuse cannot change it later). What
 * /proc says of its pid is of the process that connected only if that process was still alive
 * after it was read: otherwise (it died before the accept, and its pid may be another's now) the
 * peer is described as unknown, and its identity as unidentified, so no rule for another
 * program's executable applies to it and no value is released to it.
 */
export function identifyPeer(socket: net.Socket): Client {
  const fd = socketFd(socket);
  const cred = peerCredentials(fd);
  const identity = pinIdentity(cred.pid, fd);
  let client = describeProcess(cred.pid, cred.uid);
  if (identity.startTime === null || (identity.pidfd !== null && !pidfdAlive(identity.pidfd))) {
    identity.startTime = null;
    identity.exe = null;
    client = { pid: cred.pid, uid: cred.uid, user: userName(cred.uid), exe: null, cwd: null, parents: [] };
  }
  client.identity = identity;
  client.exeSha256 = () => (identity.startTime === null ? null : exeDigest(cred.pid, identity.exe));
  return client;
}
