// Starting and awaiting exec's child with posix_spawnp(3) through the syscall layer, instead of
// node:child_process: that module loads node:net and node:stream and forks the whole Node process
// (together ~5 ms of every `glassdome exec`), where glibc's posix_spawn uses a vfork-like clone.
// The child gets what libuv gives one: stdio 0-2 inherited, every signal at its default action
// and none blocked, and nothing else but the descriptors named here (all of Node's own are
// close-on-exec). Its exit is learnt from SIGCHLD on the event loop, which also forwards signals
// to it: the reap and every forward run on the one JS thread, so a signal is never sent to a pid
// that has been reaped (and could be another process's now).

import fs from 'node:fs';
import { onPath } from './command-path.js';
import { duplicateAbove, errnoName, lastErrno, libcFunction } from './libc.js';

/** A child process: its pid, a promise of its exit status (128+N when killed by signal N), and a way to signal it. */
export interface Child {
  pid: number;
  exited: Promise<number>;
  /** Sends `signal` to the child while it is unreaped; does nothing once its status is taken. */
  kill(signal: NodeJS.Signals): void;
}

/** glibc's posix_spawn_file_actions_t and posix_spawnattr_t fit in this many bytes (80 and 336). */
const OPAQUE_BYTES = 512;
const SIGSET_BYTES = 128;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
/**
 * Every signal but SIGKILL and SIGSTOP: libuv resets 1 to 31 in a child, and glibc's posix_spawn
 * would leave its own two (32, 33) ignored in the child unless they are named here.
 */
const RESET_SIGNALS = Array.from({ length: 64 }, (_, i) => i + 1).filter((s) => s !== 9 && s !== 19);
const WNOHANG = 1;
const EINTR = 4;
/** A timer this long keeps the event loop alive while the child runs (signal handles do not). */
const KEEP_ALIVE_MS = 2 ** 31 - 1;

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
  // Listening from before the child starts: its SIGCHLD cannot come too early.
  const waiter = childWaiter();
  let pid: number;
  try {
    try {
      pid = posixSpawn(argv[0]!, argv, env, descriptors);
    } catch (err) {
      const found = err instanceof SpawnError && err.code === 'ENOEXEC' ? onPath(argv[0]!) : undefined;
      if (found === undefined) throw err;
      pid = posixSpawn('/bin/sh', ['/bin/sh', found, ...argv.slice(1)], env, descriptors);
    }
  } catch (err) {
    waiter.stop();
    throw err;
  }
  return waiter.watch(pid);
}

/**
 * Waits for a child on the event loop: on each SIGCHLD, a non-blocking waitpid(2) for it. No
 * worker thread (koffi's async call started libuv's pool of four threads, ~0.6 ms of every exec).
 */
function childWaiter(): { watch(pid: number): Child; stop(): void } {
  // A SIGCHLD reaches JS on a later turn of the event loop, so never before watch() has set onChild.
  let onChild = (): void => {};
  const sigchld = (): void => onChild();
  process.on('SIGCHLD', sigchld);
  let keepAlive: NodeJS.Timeout | undefined;
  const stop = (): void => {
    process.off('SIGCHLD', sigchld);
    clearInterval(keepAlive);
  };
  return {
    stop,
    watch(pid) {
      let reaped = false;
      const exited = new Promise<number>((resolve) => {
        onChild = () => {
          const status = tryReap(pid);
          if (status === undefined) return;
          reaped = true;
          stop();
          resolve(status);
        };
      });
      // Signal handles do not keep the event loop alive; a timer does. Made once the child runs
      // (a first timer costs ~0.3 ms, spent while the child starts on the other core).
      keepAlive = setInterval(() => {}, KEEP_ALIVE_MS);
      return {
        pid,
        exited,
        kill(signal) {
          if (!reaped) process.kill(pid, signal);
        },
      };
    },
  };
}

/** The child's status as a shell reports it once it has exited (reaping it); undefined while it runs. */
function tryReap(pid: number): number | undefined {
  const status = [0];
  for (;;) {
    const r = libcFunction('waitpid')(pid, status, WNOHANG);
    if (r === pid) break;
    if (r === 0) return undefined;
    if (lastErrno() !== EINTR) return 1; // not our child any more (ECHILD): nothing left to wait for
  }
  const s = status[0]!;
  const signal = s & 0x7f;
  return signal === 0 ? (s >> 8) & 0xff : 128 + signal;
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
