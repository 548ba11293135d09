// Replacing both vault files as one step (rotate, restore). Two renames are not atomic together,
// so the new pair is first written whole into one file, vault.journal (a `glassdome-rotation`
// bundle, docs/VAULT-FORMAT.md §journal): its rename is the commit point. Then each file is
// replaced and the journal removed. A crash before the rename leaves the old pair untouched; after
// it, readers take the pair from the journal, and the next writer (holding the lock) finishes
// the copy. Every function here expects the caller to hold the vault lock, except readPending.

import { serializeBundle, parseBundle, type Bundle, type BundleFile } from '../vault/bundle.js';
import type { VaultPaths } from './paths.js';
import { fsyncDir, readPrivate, removeIfPresent, writePrivateAtomic, type FileSignature, type SecureRead } from './secure-file.js';

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
