// Replacing both vault files as one step (rotate, restore). Two renames are not atomic together,
// so the new pair is first written whole into one file, vault.journal (a `glassdome-rotation`
// bundle, docs/VAULT-FORMAT.md §journal): its rename is the commit point. Then each file is
// replaced and the journal removed. A crash before the rename leaves the old pair untouched; after
// it, readers take the pair from the journal, and the next writer (holding the lock) finishes
// the copy. A forced restore over a vault that does not parse keeps its files, byte for byte, in
// a directory beside them (no code can tell they are worthless). Every function here expects the
// caller to hold the vault lock, except readPending.

import fs from 'node:fs';
import path from 'node:path';
import { serializeBundle, parseBundle, type Bundle, type BundleFile } from '../vault/bundle.js';
import type { VaultPaths } from './paths.js';
import { fsyncDir, ioError, readPrivate, removeIfPresent, writePrivateAtomic, type FileSignature, type SecureRead } from './secure-file.js';

/** What the directory of an unreadable vault's kept files is named after: `replaced-<UTC time>-<random>`. */
export const KEPT_PREFIX = 'replaced-';

/** The files of a vault that did not parse, kept aside before a forced restore replaced them. */
export interface KeptFiles {
  /** The directory (0700, in the vault home) that holds them under their own names. */
  dir: string;
  /** The vault files (absolute paths) that existed and are kept; the others did not exist. */
  files: string[];
}

/** The committed pair a crashed rotate or restore left in vault.journal, or null when none. */
export function readPending(paths: VaultPaths, file: SecureRead | null = readPrivate(paths.journal)): (Bundle & { signature: FileSignature }) | null {
  if (!file) return null;
  return { ...parseBundle(file.text, 'glassdome-rotation', 'vault.journal'), signature: file.signature };
}

/** Finishes a committed pair a crashed writer left in vault.journal (lock held). */
export function settlePending(paths: VaultPaths): void {
  const pending = readPending(paths);
  if (pending) apply(paths, pending.files);
}

/**
 * Replaces master_key.enc and secrets.encrypted together (lock held): the journal's rename
 * commits, then the files are copied out of it. Returns the new secrets.encrypted's signature.
 */
export function commitPair(paths: VaultPaths, vaultId: string, files: Record<BundleFile, string>): FileSignature {
  writePrivateAtomic(paths.journal, serializeBundle({ kind: 'glassdome-rotation', vaultId, createdAt: new Date().toISOString(), files }));
  return apply(paths, files);
}

function apply(paths: VaultPaths, files: Record<BundleFile, string>): FileSignature {
  writePrivateAtomic(paths.masterKey, files['master_key.enc']);
  const signature = writePrivateAtomic(paths.secrets, files['secrets.encrypted']);
  removeIfPresent(paths.journal);
  fsyncDir(paths.home);
  return signature;
}

/**
 * Keeps whichever of master_key.enc, secrets.encrypted and vault.journal exist, byte for byte, as
 * hard links in a new private directory of the home (lock held), so that replacing them loses
 * nothing; null when none exists.
 */
export function keepUnreadable(paths: VaultPaths): KeptFiles | null {
  const files = vaultFiles(paths).filter(exists);
  if (files.length === 0) return null;
  const stamp = new Date().toISOString().replace(/[-:]|\.\d+/g, '');
  try {
    const dir = fs.mkdtempSync(path.join(paths.home, `${KEPT_PREFIX}${stamp}-`));
    for (const file of files) fs.linkSync(file, path.join(dir, path.basename(file)));
    fsyncDir(dir);
    fsyncDir(paths.home);
    return { dir, files };
  } catch (err) {
    throw ioError(err, `cannot keep the unreadable vault files aside in ${paths.home}; nothing was replaced`);
  }
}

/** Puts kept files back where they were and removes the vault files that were not there (lock held). */
export function putBack(paths: VaultPaths, kept: KeptFiles): void {
  try {
    for (const file of vaultFiles(paths)) {
      if (kept.files.includes(file)) fs.renameSync(path.join(kept.dir, path.basename(file)), file);
      else removeIfPresent(file);
    }
    fs.rmdirSync(kept.dir);
    fsyncDir(paths.home);
  } catch (err) {
    throw ioError(err, `cannot put the unreadable vault files back from ${kept.dir}`);
  }
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
