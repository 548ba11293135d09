// The vault on disk, decrypted: loading the secret map, creating a vault, and every
// change to the secret map as a read-modify-write under the lock file. Both the agent and the
// CLI write through updateSecrets, so two writers never lose each other's update.

import { fail } from '../errors.js';
import { openSecrets, sealSecrets, type NewVault, type VaultKeys } from '../vault/vault.js';
import { wipeMap, type SecretMap } from '../vault/payload.js';
import { withLock } from './lock.js';
import type { VaultPaths } from './paths.js';
import { ensurePrivateDir, readPrivate, removeIfPresent, writePrivateAtomic, type FileSignature } from './secure-file.js';
import { readSecretsFile } from './vault-text.js';

/** The decrypted map and the signature of the file it came from. The caller wipes the map. */
export function loadSecrets(paths: VaultPaths, keys: VaultKeys): { map: SecretMap; signature: FileSignature } {
  const { text, signature } = readSecretsFile(paths);
  return { map: openSecrets(keys, text), signature };
}

/** Writes a new vault's two files; refuses to replace an existing vault unless `force`. */
export async function createVaultFiles(paths: VaultPaths, vault: NewVault, force: boolean): Promise<void> {
  ensurePrivateDir(paths.home);
  await withLock(paths.lock, () => {
    if (!force && (readPrivate(paths.masterKey) || readPrivate(paths.secrets))) {
      fail('exists', `a vault already exists at ${paths.home}`, 'keep it, or replace it and lose its secrets: glassdome init --force');
    }
    writePrivateAtomic(paths.secrets, vault.secretsText);
    writePrivateAtomic(paths.masterKey, vault.masterKeyText);
    removeIfPresent(paths.cache);
  });
}

/** Replaces master_key.enc (passwd), checking it still seals the same vault. */
export async function replaceMasterKeyText(paths: VaultPaths, vaultId: string, text: string, current: () => string): Promise<void> {
  await withLock(paths.lock, () => {
    if (current() !== vaultId) fail('busy', 'the vault changed while the new password was being set', 'run glassdome passwd again');
    writePrivateAtomic(paths.masterKey, text);
  });
}

/** What a committed update saw: the file version it changed and the version it wrote. */
export interface Commit {
  before: FileSignature;
  after: FileSignature;
}

/**
 * Applies `mutate` to the current map under the lock and writes the result atomically.
 * `observe` sees the new map before it is wiped (the agent refreshes its cache from it).
 */
export async function updateSecrets<T>(
  paths: VaultPaths,
  keys: VaultKeys,
  mutate: (map: SecretMap) => T,
  observe?: (map: SecretMap, commit: Commit) => void,
): Promise<T> {
  return withLock(paths.lock, () => {
    const { map, signature: before } = loadSecrets(paths, keys);
    try {
      const result = mutate(map);
      const after = writePrivateAtomic(paths.secrets, sealSecrets(keys, map));
      observe?.(map, { before, after });
      return result;
    } finally {
      wipeMap(map);
    }
  });
}
