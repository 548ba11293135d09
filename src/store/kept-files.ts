// Keeping a replaced vault's files, so that a --force loses nothing. Before a forced restore or an
// init replaces a vault (one that parses or not), its files are kept byte for byte
// in a new private directory of the home, `replaced-<UTC time>-<random>` (0700): the vault files as
// hard links (the replacement renames new files over the originals, so the links keep the old
// bytes), and, when the new vault is another vault than the old one (init, a restore of another
// vault's backup), the audit log too (moved: its MACs and anchor belong to the old key, and the
// new vault starts its own chain). Every function
// here expects the caller to hold the vault lock; moving the log also takes the log's own flock,
// which every appender holds while it writes.

import fs from 'node:fs';
import path from 'node:path';
import { GlassdomeError } from '../errors.js';
import { flockWithin } from './lock.js';
import type { VaultPaths } from './paths.js';
import { fsyncDir, ioError, openPrivate, removeIfPresent, sameFile } from './secure-file.js';

/** What the directory of a replaced vault's kept files is named after: `replaced-<UTC time>-<random>`. */
export const KEPT_PREFIX = 'replaced-';

/** How long moving the audit log waits for an appender holding its lock (ms). */
const AUDIT_LOCK_MS = 5000;
/** How many times moving the audit log retries when a rotation replaced the file it opened. */
const MOVE_ATTEMPTS = 5;

/** The files of a replaced vault, kept aside before it was replaced. */
export interface KeptFiles {
  /** The directory (0700, in the vault home) that holds them under their own names. */
  dir: string;
  /** The vault files (absolute paths) that existed and are kept; the others did not exist. */
  files: string[];
}

/**
 * Keeps whichever of master_key.enc, secrets.encrypted and vault.journal exist, byte for byte, as
 * hard links in a new private directory of the home, so that replacing them loses nothing; null
 * when none exists.
 */
export function keepVaultFiles(paths: VaultPaths): KeptFiles | null {
  const files = vaultFiles(paths).filter(exists);
  if (files.length === 0) return null;
  const dir = makeKeptDir(paths);
  try {
    for (const file of files) fs.linkSync(file, path.join(dir, path.basename(file)));
    fsyncDir(dir);
    return { dir, files };
  } catch (err) {
    throw ioError(err, `cannot keep the vault files aside in ${dir}; nothing was replaced`);
  }
}

/** Puts kept files back where they were and removes the vault files that were not there. */
export function putBack(paths: VaultPaths, kept: KeptFiles): void {
  try {
    for (const file of vaultFiles(paths)) {
      if (kept.files.includes(file)) fs.renameSync(path.join(kept.dir, path.basename(file)), file);
      else removeIfPresent(file);
    }
    fs.rmdirSync(kept.dir);
    fsyncDir(paths.home);
  } catch (err) {
    throw ioError(err, `cannot put the vault files back from ${kept.dir}`);
  }
}

/** Removes kept copies that are no longer needed (the vault they copy is back in place). */
export function discard(kept: KeptFiles): void {
  fs.rmSync(kept.dir, { recursive: true, force: true });
}

/**
 * Moves the audit log (audit.log and its rotated files) into `dir` (a kept directory, or a new one
 * when null), byte for byte; returns the directory, or null when there is no log. audit.log is
 * copied and then unlinked under its flock, so an appender that still holds it open (an agent)
 * sees it unlinked and reopens the path: no line lands in the moved copy.
 */
export async function keepAuditLog(paths: VaultPaths, dir: string | null): Promise<string | null> {
  if (!exists(paths.audit) && rotatedLogs(paths).length === 0) return null;
  const into = dir ?? makeKeptDir(paths);
  for (let attempt = 0; attempt < MOVE_ATTEMPTS; attempt++) {
    const fd = openLog(paths.audit);
    try {
      if (!(await flockWithin(fd, AUDIT_LOCK_MS))) throw new GlassdomeError('busy', `another writer held ${paths.audit} for ${AUDIT_LOCK_MS / 1000} s; the new vault is in place, its old audit log is not moved`);
      if (!sameFile(fd, paths.audit)) continue; // rotated between the open and the lock: lock the new one
      // The copy first: when it fails (a full disk), nothing of the log has moved and no part of it is left behind.
      copyPrivate(fd, path.join(into, path.basename(paths.audit)));
      for (const file of rotatedLogs(paths)) fs.renameSync(file, path.join(into, path.basename(file)));
      fs.unlinkSync(paths.audit);
      fsyncDir(into);
      fsyncDir(paths.home);
      return into;
    } catch (err) {
      const kept = dir === null ? '' : `; the old vault files are kept in ${dir}`;
      if (dir === null) fs.rmSync(into, { recursive: true, force: true }); // made for the log alone, which stays where it was
      throw ioError(err, `cannot move the audit log into ${into} (the new vault is in place${kept}; the old log stays at ${paths.audit})`);
    } finally {
      fs.closeSync(fd); // releases the flock
    }
  }
  throw new GlassdomeError('busy', `${paths.audit} kept being rotated; the new vault is in place, its old audit log is not moved`);
}

/**
 * Fails, before anything is replaced, when audit.log is there but keepAuditLog could not move it
 * (a symbolic link, a fifo, a directory, a file others may read): else the vault would be replaced
 * and init or restore would fail after it, naming neither the new vault nor where the old one went.
 */
export function checkAuditLogMovable(paths: VaultPaths): void {
  if (!exists(paths.audit)) return;
  let fd: number;
  try {
    fd = openPrivate(paths.audit, fs.constants.O_RDWR);
  } catch (err) {
    const why = ioError(err, `cannot open ${paths.audit} to keep it with the replaced vault`);
    throw why === err ? new GlassdomeError(why.code, `${why.message}; nothing was replaced`, why.hint) : new GlassdomeError(why.code, `${why.message}; nothing was replaced`);
  }
  fs.closeSync(fd);
}

function makeKeptDir(paths: VaultPaths): string {
  const stamp = new Date().toISOString().replace(/[-:]|\.\d+/g, '');
  try {
    const dir = fs.mkdtempSync(path.join(paths.home, `${KEPT_PREFIX}${stamp}-`)); // mkdtemp makes it 0700
    fsyncDir(paths.home);
    return dir;
  } catch (err) {
    throw ioError(err, `cannot make a directory for the replaced vault's files in ${paths.home}; nothing was replaced`);
  }
}

/** audit.log opened for its lock (created empty when only rotated files are left). */
function openLog(file: string): number {
  try {
    return openPrivate(file, fs.constants.O_RDWR | fs.constants.O_CREAT);
  } catch (err) {
    throw ioError(err, `cannot open ${file}`);
  }
}

/** Copies the whole file open at `fd` into a new private file `to` and makes it durable. */
function copyPrivate(fd: number, to: string): void {
  const out = fs.openSync(to, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  try {
    const buffer = Buffer.allocUnsafe(1 << 16);
    for (let at = 0; ; ) {
      const n = fs.readSync(fd, buffer, 0, buffer.length, at);
      if (n === 0) break;
      for (let written = 0; written < n; ) written += fs.writeSync(out, buffer, written, n - written);
      at += n;
    }
    fs.fsyncSync(out);
  } catch (err) {
    fs.unlinkSync(to); // no truncated copy beside the kept vault
    throw err;
  } finally {
    fs.closeSync(out);
  }
}

/** The rotated audit files (audit.log.1 …) present in the home. */
function rotatedLogs(paths: VaultPaths): string[] {
  const base = path.basename(paths.audit);
  const pattern = new RegExp(`^${base.replace(/\./g, '\\.')}\\.\\d+$`);
  return fs.readdirSync(paths.home).filter((name) => pattern.test(name)).map((name) => path.join(paths.home, name));
}

function vaultFiles(paths: VaultPaths): string[] {
  return [paths.masterKey, paths.secrets, paths.journal];
}

function exists(file: string): boolean {
  try {
    fs.lstatSync(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw ioError(err, `cannot read ${file}`);
  }
}
