// Who is on the other end of an accepted connection: the kernel's SO_PEERCRED (pid, uid, gid,
// fixed at connect time and unforgeable), then the executable and working directory from /proc,
// read once at accept so a later PID reuse cannot change what was checked.

import fs from 'node:fs';
import type net from 'node:net';
import { peerCredentials } from '../os/libc.js';
import type { Peer } from './connection.js';

/** The file descriptor behind a net.Socket (libuv keeps it on the handle). */
export function socketFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('socket has no file descriptor');
  return fd;
}

/** The peer of an accepted Unix socket. */
export function identifyPeer(socket: net.Socket): Peer {
  const cred = peerCredentials(socketFd(socket));
  return { ...cred, exe: readLink(`/proc/${cred.pid}/exe`), cwd: readLink(`/proc/${cred.pid}/cwd`) };
}

function readLink(p: string): string | null {
  try {
    return fs.readlinkSync(p);
  } catch {
    return null;
  }
}
