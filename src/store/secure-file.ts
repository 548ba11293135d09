// Reading and writing the vault's files safely: owner and mode checked on the open descriptor
// (as ssh does, refusing anything others can read), no symlinks followed, never blocking in open
// (O_NONBLOCK, then fstat: only a regular file is used, so a FIFO planted in the vault directory
// cannot hang the CLI or the agent), and every write done
// as temp file + fsync + rename + fsync of the directory, so a crash leaves the old file or the
// new one, never a mix. Errors are one-line GlassdomeErrors naming the file and the fix.

import fs from 'node:fs';
import path from 'node:path';
import { fail, GlassdomeError } from '../errors.js';
import { isRunning } from '../os/proc.js';

const O_NOFOLLOW = fs.constants.O_NOFOLLOW;
const O_NONBLOCK = fs.constants.O_NONBLOCK;

/** What identifies one version of a file: its inode, size and change times. */
export interface FileSignature {
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** A file's text and the signature of the version read. */
export interface SecureRead {
  text: string;
  signature: FileSignature;
}

/** Signature of a bigint stat. */
export function signatureOf(st: fs.BigIntStats): FileSignature {
  return { ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

/** True when two signatures name the same version of a file. */
export function sameSignature(a: FileSignature | undefined, b: FileSignature | undefined): boolean {
  return !!a && !!b && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** Refuses a file or directory owned by another user or open to group or others. */
export function checkPrivate(file: string, st: { uid: number | bigint; mode: number | bigint }, kind: 'file' | 'directory'): void {
  const uid = process.geteuid?.() ?? 0;
  const mode = Number(st.mode) & 0o777;
  if (Number(st.uid) !== uid) {
    fail('insecure_file', `${file} is owned by uid ${st.uid}, not by you (uid ${uid})`, `check who wrote it, then: chown ${uid} ${quote(file)}`);
  }
  if ((mode & 0o077) !== 0) {
    const want = kind === 'directory' ? '700' : '600';
    fail('insecure_file', `${file} is accessible by others (mode ${mode.toString(8).padStart(4, '0')})`, `chmod ${want} ${quote(file)}`);
  }
}

/**
 * Opens a file of the vault directory without ever blocking (O_NONBLOCK, O_NOFOLLOW) and checks
 * the open descriptor: a regular file, ours, private; else `insecure_file` (exit 1) naming it.
 * Throws the raw errno error (ENOENT included) when open itself fails on a regular path.
 */
export function openPrivate(file: string, flags: number, mode = 0o600): number {
  let fd: number;
  try {
    fd = fs.openSync(file, flags | O_NOFOLLOW | O_NONBLOCK, mode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') fail('insecure_file', `${file} is a symbolic link`, `replace it with the file itself`);
    if (code === 'ENXIO') notRegular(file, 'a fifo');
    throw err;
  }
  try {
    checkOpenPrivate(file, fd);
    return fd;
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** Refuses the file open at `fd` unless it is a regular file, ours, private. */
function checkOpenPrivate(file: string, fd: number): void {
  const st = fs.fstatSync(fd);
  if (!st.isFile()) notRegular(file, st.isFIFO() ? 'a fifo' : st.isDirectory() ? 'a directory' : st.isSocket() ? 'a socket' : 'a device or other special file');
  checkPrivate(file, st, 'file');
}

/**
 * Reads a private file named on the command line (serve's TLS key): a symbolic link is followed,
 * as ssh follows one to a key, but the file reached must be regular, ours and private, else
 * `insecure_file` with the chmod or chown that fixes it. Throws the raw errno error when open fails.
 */
export function readOwnPrivateFile(file: string): string {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | O_NONBLOCK);
  try {
    checkOpenPrivate(file, fd);
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

function notRegular(file: string, what: string): never {
  fail('insecure_file', `${file} is not a regular file (it is ${what})`, `check who put it there, then remove it: rm ${quote(file)}`);
}

/** Reads a private file; null when it does not exist. */
export function readPrivate(file: string): SecureRead | null {
  let fd: number;
  try {
    fd = openPrivate(file, fs.constants.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError(err, `cannot read ${file}`);
  }
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    const text = fs.readFileSync(fd, 'utf8');
    return { text, signature: signatureOf(st) };
  } catch (err) {
    throw ioError(err, `cannot read ${file}`);
  } finally {
    fs.closeSync(fd);
  }
}

/** Creates the vault directory (0700) if needed and checks it is private. */
export function ensurePrivateDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') notADirectory(dir);
    throw ioError(err, `cannot create ${dir}`);
  }
  checkPrivateDir(dir);
}

/** Refuses a vault home that is a file or under one; a missing home is fine (init creates it). */
export function checkNotAFile(dir: string): void {
  try {
    if (!fs.statSync(dir).isDirectory()) notADirectory(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') notADirectory(dir);
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(err, `cannot read ${dir}`);
  }
}

/** The vault home is a file, or under one: say so, and how to point GLASSDOME_HOME elsewhere. */
function notADirectory(dir: string): never {
  return fail('no_vault', `${dir} is not a directory, so it cannot hold a vault`, 'point GLASSDOME_HOME at a directory (or unset it for ~/.glassdome)');
}

/** Checks an existing directory is ours and private; `no_vault` when it is missing. */
export function checkPrivateDir(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') fail('no_vault', `no vault at ${dir}`, 'create one: glassdome init');
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') notADirectory(dir);
    throw ioError(err, `cannot read ${dir}`);
  }
  if (!st.isDirectory()) notADirectory(dir);
  checkPrivate(dir, st, 'directory');
}

let fileSizeSignalIgnored = false;

/** Replaces `file` atomically with `data` (mode 0600), fsyncing the file and its directory. */
export function writePrivateAtomic(file: string, data: string | Uint8Array): FileSignature {
  return writeAtomic(file, data, 0o600);
}

/** Replaces `file` atomically with public `data` (mode 0644, a CRL or certificate), as writePrivateAtomic does; a symbolic link at `file` is replaced, never followed. */
export function writePublicAtomic(file: string, data: string | Uint8Array): FileSignature {
  return writeAtomic(file, data, 0o644);
}

function writeAtomic(file: string, data: string | Uint8Array, mode: number): FileSignature {
  if (!fileSizeSignalIgnored) {
    // Past RLIMIT_FSIZE (ulimit -f) the kernel sends SIGXFSZ, which would kill us mid-write;
    // with a handler the write fails with EFBIG instead, and the old file stays.
    process.on('SIGXFSZ', () => undefined);
    fileSizeSignalIgnored = true;
  }
  const dir = path.dirname(file);
  removeStaleTemps(dir, path.basename(file));
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  let fd: number | undefined;
  let renamed = false;
  try {
    fd = fs.openSync(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW, 0o600);
    if (mode !== 0o600) fs.fchmodSync(fd, mode); // exactly this mode, whatever the umask
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let written = 0;
    while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    refuseNonRegular(file);
    fs.renameSync(temp, file);
    renamed = true;
    fsyncDir(dir);
    // Stat after the rename, which changes the inode's ctime; writers hold the lock, so this is ours.
    return signatureOf(fs.statSync(file, { bigint: true }));
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    try {
      fs.unlinkSync(temp);
    } catch {
      // already gone or never made
    }
    // Once renamed, the new file is in place: only its durability (the directory's fsync) failed.
    throw ioError(err, renamed ? `wrote ${file}, but could not make it durable (fsync of ${dir}); a crash now may bring back the old file` : `cannot write ${file}; the old file is unchanged`);
  }
}

/**
 * Refuses to rename over a name that is not a regular file: the rename would replace the node
 * itself (a device such as /dev/full when run as root, a fifo, a symbolic link, a directory).
 */
function refuseNonRegular(file: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isFile()) throw new GlassdomeError('insecure_file', `${file} is not a regular file (a device, a fifo, a symbolic link or a directory); it was not replaced`, 'name a regular file, or a new one');
}

/**
 * Removes temp files a writer killed mid-write left for `base` (never the vault itself: a temp
 * file only becomes it by the rename). A temp file names its writer's pid; it is stale when that
 * process is gone.
 */
function removeStaleTemps(dir: string, base: string): void {
  const prefix = `.${base}.`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (!Number.isSafeInteger(pid) || pid === process.pid || isRunning(pid)) continue;
    try {
      fs.unlinkSync(path.join(dir, name));
    } catch {
      // another writer removed it first
    }
  }
}

/** fsync(2) of a directory, so a rename inside it is durable. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether `st` (an fstat of an open file) is of the file at `file` now: a file renamed, replaced or removed is not. */
export function isAt(st: fs.Stats, file: string): boolean {
  try {
    const now = fs.statSync(file);
    return now.ino === st.ino && now.dev === st.dev;
  } catch {
    return false;
  }
}

/** Whether the file open at `fd` is the one at `file` now. */
export function sameFile(fd: number, file: string): boolean {
  return isAt(fs.fstatSync(fd), file);
}

/** Removes a file; true when it existed. */
export function removeIfPresent(file: string): boolean {
  try {
    fs.unlinkSync(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw ioError(err, `cannot remove ${file}`);
  }
}

/** Wraps a Node I/O error as an `io` GlassdomeError with a plain cause. */
export function ioError(err: unknown, what: string): GlassdomeError {
  if (err instanceof GlassdomeError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const cause: Record<string, string> = {
    ENOSPC: 'the disk is full',
    EDQUOT: 'the disk quota is used up',
    EFBIG: 'the file size limit (ulimit -f) was reached',
    EROFS: 'the file system is read-only',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOENT: 'no such file or directory',
    EISDIR: 'it is a directory',
  };
  const why = (code && cause[code]) ?? code ?? (err as Error).message;
  return new GlassdomeError('io', `${what}: ${why}`);
}

function quote(p: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}
