// The vault on disk, decrypted: loading the payload (secret map, sealed policy, audit anchor),
// creating a vault, and every change to it as a read-modify-write under the lock file. Both the
// agent and the CLI write through updateVault, so two writers never lose each other's update, and
// every write carries the sealed policy over and may refresh the audit anchor.

import { fail } from '../errors.js';
import { openVault, sealVault, type NewVault, type VaultKeys } from '../vault/vault.js';
import { wipeMap, type AuditAnchor, type SecretMap, type VaultPayload } from '../vault/payload.js';
import { withLock } from './lock.js';
import type { VaultPaths } from './paths.js';
import { ensurePrivateDir, readPrivate, removeIfPresent, writePrivateAtomic, type FileSignature } from './secure-file.js';
import { readSecretsFile } from './vault-text.js';

/** The decrypted map and the signature of the file it came from. The caller wipes the map. */
export function loadSecrets(paths: VaultPaths, keys: VaultKeys): { map: SecretMap; signature: FileSignature } {
  const { payload, signature } = loadVault(paths, keys);
  return { map: payload.map, signature };
}

/** The decrypted payload and the signature of the file it came from. The caller wipes the map. */
export function loadVault(paths: VaultPaths, keys: VaultKeys): { payload: VaultPayload; signature: FileSignature } {
  const { text, signature } = readSecretsFile(paths);
  return { payload: openVault(keys, text), signature };
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

/** What a writer may add to a vault write. */
export interface WriteHooks {
  /** Sees the new payload before it is wiped (the agent refreshes its cache from it). */
  observe?: (payload: VaultPayload, commit: Commit) => void;
  /**
   * Prepares the audit anchor to seal with this write (reading the log's head may wait for its
   * lock), and returns the step that picks it given the anchor sealed before. That step runs
   * with the rest of the write, synchronously: no lock can wipe the keys between load and seal.
   */
  anchor?: () => Promise<(previous: AuditAnchor | null) => AuditAnchor | null>;
}

/** Applies `mutate` to the current map under the lock and writes the result atomically. */
export async function updateSecrets<T>(paths: VaultPaths, keys: VaultKeys, mutate: (map: SecretMap) => T, hooks: WriteHooks = {}): Promise<T> {
  return updateVault(paths, keys, (payload) => mutate(payload.map), hooks);
}

/**
 * Applies `mutate` to the current payload under the lock and writes the result atomically; the
 * sealed policy and the anchor are carried over unless `mutate` or the anchor hook change them.
 */
export async function updateVault<T>(paths: VaultPaths, keys: VaultKeys, mutate: (payload: VaultPayload) => T, hooks: WriteHooks = {}): Promise<T> {
  return withLock(paths.lock, async () => {
    const pickAnchor = hooks.anchor ? await hooks.anchor() : undefined;
    const { payload, signature: before } = loadVault(paths, keys);
    try {
      const result = mutate(payload);
      if (pickAnchor) payload.anchor = pickAnchor(payload.anchor);
      const after = writePrivateAtomic(paths.secrets, sealVault(keys, payload));
      hooks.observe?.(payload, { before, after });
      return result;
    } finally {
      wipeMap(payload.map);
    }
  });
}
