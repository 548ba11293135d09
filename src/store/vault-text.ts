// Reading the vault's two files as text, with the owner, mode and presence checks, and no
// cryptography: commands that only need the vault id (status, lock, agent) stay light. While a
// committed rotation or restore is still being copied out of vault.journal, the journal's pair
// is the vault (docs/VAULT-FORMAT.md §journal), and both readers return it.

import { fail } from '../errors.js';
import type { VaultPaths } from './paths.js';
import { checkPrivateDir, readPrivate, type FileSignature } from './secure-file.js';

/** The text of master_key.enc; `no_vault` when there is none. */
export function readMasterKeyText(paths: VaultPaths): string {
  checkPrivateDir(paths.home);
  const pending = pendingPair(paths);
  if (pending) return pending.files['master_key.enc'];
  const file = readPrivate(paths.masterKey);
  if (!file) fail('no_vault', `no vault at ${paths.home}`, 'create one: glassdome init');
  return file.text;
}

/** The text and signature of secrets.encrypted; `corrupt` when it is missing beside a master key. */
export function readSecretsFile(paths: VaultPaths): { text: string; signature: FileSignature } {
  const pending = pendingPair(paths);
  if (pending) return { text: pending.files['secrets.encrypted'], signature: pending.signature };
  const file = readPrivate(paths.secrets);
  if (!file) {
    if (readPrivate(paths.masterKey)) fail('corrupt', `${paths.secrets} is missing`, 'restore it from a backup');
    fail('no_vault', `no vault at ${paths.home}`, 'create one: glassdome init');
  }
  return file;
}

/** The pair in vault.journal, parsed only when there is one (its checksum needs the crypto code). */
function pendingPair(paths: VaultPaths): ReturnType<typeof import('./vault-commit.js').readPending> {
  const journal = readPrivate(paths.journal);
  if (!journal) return null;
  const { readPending } = require('./vault-commit.js') as typeof import('./vault-commit.js');
  return readPending(paths, journal);
}
