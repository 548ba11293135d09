// The vault's writer lock: flock(2) on $GLASSDOME_HOME/.lock, held for one read-modify-write.
// flock is released by the kernel when its holder dies, so a writer killed with -9 never leaves
// a stale lock. Within one process, callers also queue on a promise chain, since two flocks taken
// through different descriptors of one process would contend with each other.

import fs from 'node:fs';
import { fail } from '../errors.js';
import { tryLockExclusive, unlock } from '../os/libc.js';
import { ioError, openPrivate } from './secure-file.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How long a writer waits for the lock before giving up with `busy` (ms). */
export const LOCK_TIMEOUT_MS = 10_000;

const queues = new Map<string, Promise<unknown>>();

/** Runs `fn` holding the exclusive lock at `lockPath`. */
export async function withLock<T>(lockPath: string, fn: () => Promise<T> | T): Promise<T> {
  const previous = queues.get(lockPath) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => holding(lockPath, fn));
  const tail = run.catch(() => undefined);
  queues.set(lockPath, tail);
  try {
    return await run;
  } finally {
    if (queues.get(lockPath) === tail) queues.delete(lockPath);
  }
}

/** Takes an exclusive flock on `fd`, waiting (without blocking the event loop) up to `timeoutMs`. */
export async function flockWithin(fd: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let wait = 1;
  while (!tryLockExclusive(fd)) {
    if (Date.now() > deadline) return false;
    await sleep(wait);
    wait = Math.min(wait * 2, 50);
  }
  return true;
}

async function holding<T>(lockPath: string, fn: () => Promise<T> | T): Promise<T> {
  let fd: number;
  try {
    fd = openPrivate(lockPath, fs.constants.O_RDWR | fs.constants.O_CREAT);
  } catch (err) {
    throw ioError(err, `cannot open the lock file ${lockPath}`);
  }
  try {
    if (!(await flockWithin(fd, LOCK_TIMEOUT_MS))) {
      fail('busy', `the vault stayed locked by another writer for ${LOCK_TIMEOUT_MS / 1000} s`, `find it with: fuser ${lockPath}`);
    }
    try {
      return await fn();
    } finally {
      unlock(fd);
    }
  } finally {
    fs.closeSync(fd);
  }
}
