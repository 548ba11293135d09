// Reading the vault's two files as text, with the owner, mode and presence checks, and no
// cryptography: commands that only need the vault id (status, lock, agent) stay light.

import fs from 'node:fs';
import { fail } from '../errors.js';
import type { VaultPaths } from './paths.js';
import { checkPrivateDir, readPrivate, type FileSignature } from './secure-file.js';

/** The text of master_key.enc; `no_vault` when there is none. */
export function readMasterKeyText(paths: VaultPaths): string {
  checkPrivateDir(paths.home);
  const file = readPrivate(paths.masterKey);
  if (!file) fail('no_vault', `no vault at ${paths.home}`, 'create one: glassdome init');
  return file.text;
}

/**
 * Checks that a vault is there and private before any source (agent, keyring) is asked: the
 * directory is ours and 0700, master_key.enc exists. `no_vault` or `insecure_file` otherwise.
 */
export function checkVault(paths: VaultPaths): void {
  checkPrivateDir(paths.home);
  if (!fs.existsSync(paths.masterKey)) fail('no_vault', `no vault at ${paths.home}`, 'create one: glassdome init');
}

/** The text and signature of secrets.encrypted; `corrupt` when it is missing beside a master key. */
export function readSecretsFile(paths: VaultPaths): { text: string; signature: FileSignature } {
  checkPrivateDir(paths.home);
  const file = readPrivate(paths.secrets);
  if (!file) {
    if (readPrivate(paths.masterKey)) fail('corrupt', `${paths.secrets} is missing`, 'restore it from a backup');
    fail('no_vault', `no vault at ${paths.home}`, 'create one: glassdome init');
  }
  return file;
}
