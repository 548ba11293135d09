// The vault in this process: a SecretStore over the files with the keys in hand, used when no
// agent runs (keyring session, or a password typed for one call). Every read decrypts the file
// afresh; every write is the same locked read-modify-write the agent does.

import { wipeMap, type SecretMap } from '../vault/payload.js';
import { checkBatch, notFound, putSecret, removeSecret, secretInfos, sortedNames, type NewSecret, type SecretInfo, type SecretStore } from '../vault/store.js';
import { wipeKeys, type VaultKeys } from '../vault/vault.js';
import type { VaultPaths } from './paths.js';
import { loadSecrets, loadVault, updateSecrets, type WriteHooks } from './vault-files.js';

/** A SecretStore reading and writing the vault files directly. */
export class LocalStore implements SecretStore {
  constructor(
    private readonly paths: VaultPaths,
    private readonly keys: VaultKeys,
    /** What every write adds (the audit anchor). */
    private readonly hooks: WriteHooks = {},
  ) {}

  async get(name: string): Promise<Uint8Array> {
    return this.read((map) => (map.get(name) ?? notFound(name)).value.slice());
  }

  async list(): Promise<string[]> {
    return this.read(sortedNames);
  }

  async set(name: string, value: Uint8Array): Promise<void> {
    const copy = Uint8Array.from(value);
    await updateSecrets(this.paths, this.keys, (map) => putSecret(map, name, copy, Date.now()), this.hooks);
  }

  async rm(name: string): Promise<void> {
    await updateSecrets(this.paths, this.keys, (map) => removeSecret(map, name), this.hooks);
  }

  /** How many secrets the vault holds, and the policy text sealed in it (null: none). */
  summary(): { count: number; policy: string | null } {
    const { payload } = loadVault(this.paths, this.keys);
    wipeMap(payload.map);
    return { count: payload.map.size, policy: payload.policy };
  }

  async infos(): Promise<SecretInfo[]> {
    return this.read(secretInfos);
  }

  async setMany(entries: readonly NewSecret[]): Promise<void> {
    checkBatch(entries);
    const now = Date.now();
    await updateSecrets(this.paths, this.keys, (map) => {
      for (const { name, value } of entries) putSecret(map, name, Uint8Array.from(value), now);
    }, this.hooks);
  }

  /** What `use` makes of the decrypted map, which is wiped after. */
  private read<T>(use: (map: SecretMap) => T): T {
    const { map } = loadSecrets(this.paths, this.keys);
    try {
      return use(map);
    } finally {
      wipeMap(map);
    }
  }

  /** Wipes the keys; the store is unusable afterwards. */
  close(): void {
    wipeKeys(this.keys);
  }
}
