// Who is on the other end of an accepted connection: the kernel's SO_PEERCRED (pid and uid, fixed
// at connect time and unforgeable), the process's pinned identity (start time, pidfd, executable
// dev:inode: checked again before each value leaves, see src/os/identity.ts), then executable,
// working directory and ancestors from /proc, read once at accept.

import type net from 'node:net';
import { peerCredentials } from '../os/libc.js';
import { exeDigest, pinIdentity } from '../os/identity.js';
import { describeProcess, type Client } from '../policy/client.js';

/** The file descriptor behind a net.Socket (libuv keeps it on the handle). */
export function socketFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('socket has no file descriptor');
  return fd;
}

/** The peer of an accepted Unix socket, described at once (pid reuse cannot change it later). */
export function identifyPeer(socket: net.Socket): Client {
  const cred = peerCredentials(socketFd(socket));
  const identity = pinIdentity(cred.pid);
  const client = describeProcess(cred.pid, cred.uid);
  client.identity = identity;
  client.exeSha256 = () => exeDigest(cred.pid, identity.exe);
  return client;
}
