// The Linux system calls Node does not expose, through koffi (prebuilt FFI): peer credentials of
// a Unix socket, process hardening (prctl, setrlimit, mlock), advisory file locks (flock) and
// sealed memfds. Loaded lazily: the hot read path of the CLI never pays for koffi's start-up.

import fs from 'node:fs';
import path from 'node:path';
import type { LibraryHandle } from 'koffi';
import { openAddon, packageDir, packageVersion } from './prebuilt.js';

type Koffi = typeof import('koffi');

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
/** getsockopt: a pidfd for the peer that connected (Linux 6.5+). */
const SO_PEERPIDFD = 77;
/** errno when a socket option does not exist (a kernel before SO_PEERPIDFD). */
export const ENOPROTOOPT = 92;
const PR_SET_DUMPABLE = 4;
const PR_GET_DUMPABLE = 3;
const RLIMIT_CORE = 4;
const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const MFD_CLOEXEC = 0x1;
const MFD_ALLOW_SEALING = 0x2;
const F_ADD_SEALS = 1033;
const F_SEAL_ALL = 0x1 | 0x2 | 0x4 | 0x8; // SEAL, SHRINK, GROW, WRITE
/** The mode of every sealed memfd: owner read only (memfd_create makes them 0777). */
export const MEMFD_MODE = 0o400;
const MADV_HUGEPAGE = 14;
const EWOULDBLOCK = 11;
const EINTR = 4;
const M_MMAP_THRESHOLD = -3;
/**
 * Allocations at least this large get their own mapping, returned to the kernel when freed (glibc's
 * default, made fixed: see keepLargeAllocationsMapped).
 */
export const MMAP_THRESHOLD_BYTES = 128 * 1024;

/** The C prototypes glassdome calls, bound on first use (binding costs ~0.1 ms each). */
const PROTOTYPES = {
  getsockopt: 'int getsockopt(int fd, int level, int name, _Out_ void *val, _Inout_ uint32_t *len)',
  prctl: 'int prctl(int op, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)',
  setrlimit: 'int setrlimit(int resource, const void *rlim)',
  getrlimit: 'int getrlimit(int resource, _Out_ void *rlim)',
  mlock: 'int mlock(const void *addr, size_t len)',
  madvise: 'int madvise(void *addr, size_t len, int advice)',
  flock: 'int flock(int fd, int op)',
  memfd_create: 'int memfd_create(const char *name, unsigned int flags)',
  fcntl: 'int fcntl(int fd, int cmd, ...)',
  socket: 'int socket(int domain, int type, int protocol)',
  connect: 'int connect(int fd, const void *addr, uint32_t len)',
  setsockopt: 'int setsockopt(int fd, int level, int name, const void *val, uint32_t len)',
  send: 'intptr_t send(int fd, const void *buf, size_t len, int flags)',
  syscall: 'long syscall(long number, ...)',
  // The same symbol with fixed arguments, for the agent's per-request liveness check: a variadic
  // call through koffi parses its argument types on every call. glibc's syscall() is a register
  // shuffle that reads no variadic state, so the fixed form is safe on x86_64 and arm64.
  syscall4: 'long syscall(long number, int a, int b, void *c, unsigned int d)',
  posix_spawn_file_actions_init: 'int posix_spawn_file_actions_init(void *actions)',
  posix_spawn_file_actions_adddup2: 'int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)',
  posix_spawn_file_actions_destroy: 'int posix_spawn_file_actions_destroy(void *actions)',
  posix_spawnattr_init: 'int posix_spawnattr_init(void *attr)',
  posix_spawnattr_setflags: 'int posix_spawnattr_setflags(void *attr, short flags)',
  posix_spawnattr_setsigdefault: 'int posix_spawnattr_setsigdefault(void *attr, const void *sigset)',
  posix_spawnattr_setsigmask: 'int posix_spawnattr_setsigmask(void *attr, const void *sigset)',
  posix_spawnattr_destroy: 'int posix_spawnattr_destroy(void *attr)',
  posix_spawnp: 'int posix_spawnp(_Out_ int *pid, const char *file, const void *actions, const void *attr, const char **argv, const char **envp)',
  waitpid: 'int waitpid(int pid, _Out_ int *status, int options)',
  mallopt: 'int mallopt(int param, int value)',
} as const;

type Fn = (...args: unknown[]) => number;

/**
 * One koffi per process, even when several bundles of the lean entry each carry a copy of this
 * module (a native addon is opened once; binding it twice is wasted work).
 */
const KOFFI = Symbol.for('glassdome.koffi');
const shared = globalThis as { [KOFFI]?: Koffi };
let koffi: Koffi | undefined;
let lib: LibraryHandle | undefined;
const bound = new Map<keyof typeof PROTOTYPES, Fn>();

/**
 * koffi's own loader spends ~9 ms choosing its glibc or musl build. Where the prebuilt package for
 * this platform opens directly (glibc), take it (~1 ms), checking its version; anywhere else,
 * koffi's loader finds the right build.
 */
function loadKoffi(): Koffi {
  try {
    const dir = packageDir(`@koromix/koffi-${process.platform}-${process.arch}`);
    const native = openAddon<Koffi & { version?: string }>(dir, path.join(`${process.platform}_${process.arch}`, 'koffi.node'));
    if (native.version === packageVersion(dir)) return native;
  } catch {
    // fall through to koffi's loader
  }
  return require('koffi') as Koffi;
}

/** The libc function `name`, loading koffi and binding it on first use. */
function c(name: keyof typeof PROTOTYPES): Fn {
  let fn = bound.get(name);
  if (!fn) {
    koffi ??= shared[KOFFI] ??= loadKoffi();
    lib ??= koffi.load('libc.so.6');
    fn = lib.func(PROTOTYPES[name]) as unknown as Fn;
    bound.set(name, fn);
  }
  return fn;
}

/** The libc function `name` (src/os/spawn.ts calls the posix_spawn family through it). */
export function libcFunction(name: keyof typeof PROTOTYPES): Fn {
  return c(name);
}

/** The errno of the last libc call on this thread. */
export function lastErrno(): number {
  koffi ??= shared[KOFFI] ??= loadKoffi();
  return koffi.errno();
}

const F_DUPFD_CLOEXEC = 1030;

/** A close-on-exec duplicate of `fd` numbered `min` or above (F_DUPFD_CLOEXEC). */
export function duplicateAbove(fd: number, min: number): number {
  const copy = c('fcntl')(fd, F_DUPFD_CLOEXEC, 'int', min);
  if (copy < 0) throw errnoError('fcntl(F_DUPFD_CLOEXEC)');
  return copy;
}

/** Names of the errno values callers tell apart. */
const ERRNO_NAMES: Record<number, string> = { 2: 'ENOENT', 4: 'EINTR', 8: 'ENOEXEC', 11: 'EWOULDBLOCK', 13: 'EACCES', 20: 'ENOTDIR', 88: 'ENOTSOCK', 91: 'EPROTOTYPE', 111: 'ECONNREFUSED' };

/** The Node-style code name of an errno value. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

function errnoError(call: string): Error & { code?: string; errno?: number } {
  koffi ??= shared[KOFFI] ??= loadKoffi();
  const errno = koffi.errno();
  const code = errnoName(errno);
  const err = new Error(`${call} failed (${code})`) as Error & { code?: string; errno?: number };
  err.errno = errno;
  err.code = code;
  return err;
}

/** Kernel credentials of the process at the other end of a connected Unix socket (SO_PEERCRED). */
export function peerCredentials(fd: number): { pid: number; uid: number; gid: number } {
  // struct ucred { pid_t pid; uid_t uid; gid_t gid; }, in the machine's byte order. A typed array,
  // not Buffer.read*: on the CLI's path each Buffer helper compiles on its first call (~0.06 ms).
  const out = new Uint32Array(3);
  if (c('getsockopt')(fd, SOL_SOCKET, SO_PEERCRED, out, [12]) !== 0) throw errnoError('getsockopt(SO_PEERCRED)');
  return { pid: out[0]! | 0, uid: out[1]!, gid: out[2]! };
}

/**
 * A pidfd for the very process that connected a Unix socket (SO_PEERPIDFD), taken from the
 * socket, not from its pid: a pid reused since the connect cannot stand in for it. Throws with
 * `errno` ENOPROTOOPT on kernels before 6.5; another failure means that process is gone.
 */
export function peerPidfd(fd: number): number {
  const out = Buffer.alloc(4);
  if (c('getsockopt')(fd, SOL_SOCKET, SO_PEERPIDFD, out, [4]) !== 0) throw errnoError('getsockopt(SO_PEERPIDFD)');
  return out.readInt32LE(0);
}

/** PR_SET_DUMPABLE 0: no core dumps, and same-uid processes can no longer ptrace this one or read its memory. */
export function setNotDumpable(): void {
  if (c('prctl')(PR_SET_DUMPABLE, 0, 0, 0, 0) !== 0) throw errnoError('prctl(PR_SET_DUMPABLE)');
}

/** Whether this process is dumpable (PR_GET_DUMPABLE). */
export function isDumpable(): boolean {
  return c('prctl')(PR_GET_DUMPABLE, 0, 0, 0, 0) !== 0;
}

/** RLIMIT_CORE 0 (soft and hard): this process never writes a core file. */
export function disableCoreDumps(): void {
  if (c('setrlimit')(RLIMIT_CORE, new BigUint64Array([0n, 0n])) !== 0) throw errnoError('setrlimit(RLIMIT_CORE)');
}

/** The current RLIMIT_CORE as [soft, hard]. */
export function coreLimit(): [bigint, bigint] {
  const out = new BigUint64Array(2);
  if (c('getrlimit')(RLIMIT_CORE, out) !== 0) throw errnoError('getrlimit(RLIMIT_CORE)');
  return [out[0]!, out[1]!];
}

/**
 * mallopt(M_MMAP_THRESHOLD, 128 KiB): glibc otherwise raises its threshold to the size of each
 * mapped block freed, after which every vault-sized buffer (the file, its ciphertext, its
 * plaintext: each about a megabyte with 10,000 secrets) comes from the heap instead, and a heap
 * fragmented by small survivors keeps the pages resident. Best effort: false where the C library
 * has no such knob.
 */
export function keepLargeAllocationsMapped(): boolean {
  try {
    return c('mallopt')(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) === 1;
  } catch {
    return false;
  }
}

/** mlock(2) on a buffer whose memory never moves (allocate it with Buffer.allocUnsafeSlow). */
export function mlock(buf: Uint8Array): void {
  if (c('mlock')(buf, buf.byteLength) !== 0) throw errnoError('mlock');
}

/** Tries to take an exclusive flock on an open file; false when another holder has it. */
export function tryLockExclusive(fd: number): boolean {
  for (;;) {
    if (c('flock')(fd, LOCK_EX | LOCK_NB) === 0) return true;
    const err = errnoError('flock');
    if (err.errno === EINTR) continue;
    if (err.errno === EWOULDBLOCK) return false;
    throw err;
  }
}

/** Releases a flock (closing the file releases it too). */
export function unlock(fd: number): void {
  c('flock')(fd, LOCK_UN);
}

/**
 * A sealed memfd holding `data`: an anonymous in-memory file, not on any file system, that no one
 * can write, grow or shrink once sealed. The descriptor is close-on-exec; a child gets it only
 * when it is placed in the child's stdio. Reading starts at offset 0; /dev/fd/N reopens it afresh.
 * Its mode is MEMFD_MODE before it is sealed: tools that refuse a key or a config file open to
 * others (ssh, psql, mysql) or run an executable one (ansible-vault) accept it.
 */
export function sealedMemfd(name: string, data: Uint8Array, writeAll: (fd: number, data: Uint8Array) => void): number {
  const fd = c('memfd_create')(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) throw errnoError('memfd_create');
  try {
    writeAll(fd, data);
    fs.fchmodSync(fd, MEMFD_MODE);
    if (c('fcntl')(fd, F_ADD_SEALS, 'int', F_SEAL_ALL) !== 0) throw errnoError('fcntl(F_ADD_SEALS)');
  } catch (err) {
    closeFd(fd);
    throw err;
  }
  return fd;
}

const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

/**
 * Clears O_NONBLOCK on a descriptor. Node puts the pipes it is given as stdio in non-blocking
 * mode, and a child inheriting them would see EAGAIN (Ansible refuses to run at all).
 */
export function setBlocking(fd: number): void {
  const flags = c('fcntl')(fd, F_GETFL);
  if (flags < 0 || (flags & O_NONBLOCK) === 0) return;
  if (c('fcntl')(fd, F_SETFL, 'int', flags & ~O_NONBLOCK) !== 0) throw errnoError('fcntl(F_SETFL)');
}

/** madvise(MADV_HUGEPAGE): back a large buffer with 2 MiB pages where the kernel allows. Best effort. */
export function adviseHugePages(buf: Uint8Array): boolean {
  return c('madvise')(buf, buf.byteLength, MADV_HUGEPAGE) === 0;
}

/** Syscall numbers of pidfd_open and pidfd_send_signal (the same on x86_64 and arm64). */
const SYS_PIDFD_OPEN = 434;
const SYS_PIDFD_SEND_SIGNAL = 424;

/** pidfd_open(2): a descriptor bound to process `pid` itself (never to a later process reusing its pid). */
export function pidfdOpen(pid: number): number {
  if (process.arch !== 'x64' && process.arch !== 'arm64') throw new Error(`pidfd_open: no syscall number for ${process.arch}`);
  const fd = c('syscall')(SYS_PIDFD_OPEN, 'int', pid, 'unsigned int', 0);
  if (fd < 0) throw errnoError('pidfd_open');
  return Number(fd);
}

/**
 * Whether the process behind a pidfd still runs (pidfd_send_signal with signal 0: ESRCH once it
 * has exited; a zombie still counts). Any failure, a closed pidfd included, answers false.
 */
export function pidfdAlive(pidfd: number): boolean {
  return c('syscall4')(SYS_PIDFD_SEND_SIGNAL, pidfd, 0, null, 0) === 0;
}

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SO_RCVTIMEO = 20;
const SO_SNDTIMEO = 21;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;

/** A socket of `type` connected to a Unix socket path; the error carries the errno's name. */
function connectUnix(socketPath: string, type: number, timeoutMs?: number): number {
  const pathBytes = Buffer.from(socketPath, 'utf8');
  if (pathBytes.length > 107) throw Object.assign(new Error(`socket path too long: ${socketPath}`), { code: 'ENAMETOOLONG' });
  const fd = c('socket')(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0) throw errnoError('socket');
  // Before connect: a listener whose backlog is full (one that never accepts, maybe another
  // user's) holds a blocking connect(2) until SO_SNDTIMEO, for ever without it (EAGAIN then).
  if (timeoutMs !== undefined) setTimeouts(fd, timeoutMs);
  // struct sockaddr_un: sa_family (little-endian, as before), then the path and a NUL. A plain
  // Uint8Array, indexing and set(), not Buffer.alloc, writeUInt16LE and write: on the CLI's path
  // each of those compiles on its first call (~0.2 ms of a get together, measured).
  const addr = new Uint8Array(110);
  addr[0] = AF_UNIX & 0xff;
  addr[1] = AF_UNIX >> 8;
  addr.set(pathBytes, 2);
  if (c('connect')(fd, addr, 110) !== 0) {
    const err = errnoError(`connect(${socketPath})`);
    closeFd(fd);
    throw err;
  }
  return fd;
}

/** A datagram socket connected to a Unix socket path (syslog's /dev/log); Node has none. */
export function connectDatagram(socketPath: string): number {
  return connectUnix(socketPath, SOCK_DGRAM);
}

/**
 * A blocking stream socket connected to a Unix socket path, whose reads and writes give up
 * (EAGAIN) after `timeoutMs`. Read and write it with fs.readSync/fs.writeSync: for a one-shot
 * client this costs none of node:net's start-up (~4 ms of every `glassdome get`).
 */
export function connectStream(socketPath: string, timeoutMs: number): number {
  return connectUnix(socketPath, SOCK_STREAM, timeoutMs);
}

/** Makes a socket's reads and writes (and a stream connect) give up after `timeoutMs`; closes it on failure. */
function setTimeouts(fd: number, timeoutMs: number): void {
  const timeval = new BigInt64Array([BigInt(Math.floor(timeoutMs / 1000)), BigInt((timeoutMs % 1000) * 1000)]);
  for (const option of [SO_RCVTIMEO, SO_SNDTIMEO]) {
    if (c('setsockopt')(fd, SOL_SOCKET, option, timeval, 16) !== 0) {
      const err = errnoError('setsockopt');
      closeFd(fd);
      throw err;
    }
  }
}

/** Sends one datagram without blocking; false when it could not be sent now. */
export function sendDatagram(fd: number, data: Uint8Array): boolean {
  return c('send')(fd, data, data.byteLength, MSG_DONTWAIT) === data.byteLength;
}

function closeFd(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}
