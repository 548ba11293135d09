// Starting and awaiting exec's child with posix_spawnp(3) through the syscall layer, instead of
// node:child_process: that module loads node:net and node:stream and forks the whole Node process
// (together ~5 ms of every `glassdome exec`), where glibc's posix_spawn uses a vfork-like clone.
// The child gets what libuv gives one: stdio 0-2 inherited, every signal at its default action
// and none blocked, and nothing else but the descriptors named here (all of Node's own are
// close-on-exec). Waiting happens on a worker thread, so the event loop stays free to forward
// signals, and the child stays a zombie (its pid never reused) until the status is taken.

import fs from 'node:fs';
import path from 'node:path';
import { duplicateAbove, errnoName, lastErrno, libcFunction } from './libc.js';

/** A child process: its pid, and a promise of its exit status (128+N when killed by signal N). */
export interface Child {
  pid: number;
  exited: Promise<number>;
}

/** glibc's posix_spawn_file_actions_t and posix_spawnattr_t fit in this many bytes (80 and 336). */
const OPAQUE_BYTES = 512;
const SIGSET_BYTES = 128;
const SIGINFO_BYTES = 128;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
/**
 * Every signal but SIGKILL and SIGSTOP: libuv resets 1 to 31 in a child, and glibc's posix_spawn
 * would leave its own two (32, 33) ignored in the child unless they are named here.
 */
const RESET_SIGNALS = Array.from({ length: 64 }, (_, i) => i + 1).filter((s) => s !== 9 && s !== 19);
const P_PID = 1;
const WEXITED = 4;
const WNOWAIT = 0x01000000;
const EINTR = 4;

type AsyncFn = ((...args: unknown[]) => number) & { async(...args: unknown[]): void };

/** A failure to start the child, with the errno's name as `code` (ENOENT, EACCES, ...). */
export class SpawnError extends Error {
  constructor(readonly code: string) {
    super(`posix_spawnp failed (${code})`);
  }
}

/**
 * Starts `argv` with the environment `env` ("NAME=value" strings), stdio inherited, and
 * `descriptors[i]` as the child's descriptor 3+i. Throws a SpawnError when it cannot start. A
 * file without a `#!` line runs under /bin/sh, as execvp(3) and libuv do.
 */
export function spawnChild(argv: readonly string[], env: readonly string[], descriptors: readonly number[]): Child {
  let pid: number;
  try {
    pid = posixSpawn(argv[0]!, argv, env, descriptors);
  } catch (err) {
    const found = err instanceof SpawnError && err.code === 'ENOEXEC' ? onPath(argv[0]!) : undefined;
    if (found === undefined) throw err;
    pid = posixSpawn('/bin/sh', ['/bin/sh', found, ...argv.slice(1)], env, descriptors);
  }
  return { pid, exited: exitStatus(pid) };
}

function posixSpawn(file: string, argv: readonly string[], env: readonly string[], descriptors: readonly number[]): number {
  const actions = Buffer.alloc(OPAQUE_BYTES);
  const attr = Buffer.alloc(OPAQUE_BYTES);
  check(libcFunction('posix_spawn_file_actions_init')(actions));
  check(libcFunction('posix_spawnattr_init')(attr));
  try {
    // A descriptor duplicated onto itself loses close-on-exec (POSIX, glibc >= 2.29): Node marks
    // 0-2 close-on-exec, and the child must have them.
    for (const fd of [0, 1, 2]) check(libcFunction('posix_spawn_file_actions_adddup2')(actions, fd, fd));
    // From above every target first, so that no target is overwritten before it is copied.
    const high = descriptors.map((fd) => duplicateAbove(fd, 3 + descriptors.length));
    try {
      high.forEach((fd, i) => check(libcFunction('posix_spawn_file_actions_adddup2')(actions, fd, 3 + i)));
      const reset = Buffer.alloc(SIGSET_BYTES);
      for (const s of RESET_SIGNALS) reset[(s - 1) >> 3]! |= 1 << ((s - 1) & 7);
      check(libcFunction('posix_spawnattr_setsigdefault')(attr, reset));
      check(libcFunction('posix_spawnattr_setsigmask')(attr, Buffer.alloc(SIGSET_BYTES)));
      check(libcFunction('posix_spawnattr_setflags')(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK));
      const pid = [0];
      const err = libcFunction('posix_spawnp')(pid, file, actions, attr, [...argv, null], [...env, null]);
      if (err !== 0) throw new SpawnError(errnoName(err));
      return pid[0]!;
    } finally {
      for (const fd of high) fs.closeSync(fd);
    }
  } finally {
    libcFunction('posix_spawn_file_actions_destroy')(actions);
    libcFunction('posix_spawnattr_destroy')(attr);
  }
}

function check(err: number): void {
  if (err !== 0) throw new SpawnError(errnoName(err));
}

/** The first executable file named `command` on PATH (or `command` itself when it has a slash). */
function onPath(command: string): string | undefined {
  const candidates = command.includes('/') ? [command] : (process.env.PATH ?? '/usr/bin:/bin').split(':').map((dir) => path.join(dir || '.', command));
  return candidates.find((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/**
 * Waits for the child on a worker thread without reaping it (WNOWAIT: its pid stays its own while
 * signals are forwarded), then reaps it here and decodes the status.
 */
function exitStatus(pid: number): Promise<number> {
  const waitid = libcFunction('waitid') as AsyncFn;
  return new Promise<number>((resolve) => {
    // The siginfo_t the kernel fills, alive until the call returns (the callback holds it).
    const info = Buffer.alloc(SIGINFO_BYTES);
    // A failed wait (its errno belongs to the worker thread) falls back to a blocking reap.
    waitid.async(P_PID, pid, info, WEXITED | WNOWAIT, () => resolve(reap(pid, info)));
  });
}

/** Reaps an exited child; its status as a shell reports it. */
function reap(pid: number, info: Buffer): number {
  info.fill(0);
  const status = [0];
  for (;;) {
    if (libcFunction('waitpid')(pid, status, 0) === pid) break;
    if (lastErrno() !== EINTR) return 1;
  }
  const s = status[0]!;
  const signal = s & 0x7f;
  return signal === 0 ? (s >> 8) & 0xff : 128 + signal;
}
