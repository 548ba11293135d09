// Reading the vault's two files as text, with the owner, mode and presence checks, and no
// cryptography: commands that only need the vault id (status, lock, agent) stay light.

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

/** The text and signature of secrets.encrypted; `corrupt` when it is missing beside a master key. */
export function readSecretsFile(paths: VaultPaths): { text: string; signature: FileSignature } {
  const file = readPrivate(paths.secrets);
  if (!file) {
    if (readPrivate(paths.masterKey)) fail('corrupt', `${paths.secrets} is missing`, 'restore it from a backup');
    fail('no_vault', `no vault at ${paths.home}`, 'create one: glassdome init');
  }
  return file;
}
