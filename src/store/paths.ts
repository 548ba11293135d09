// Where a vault's files live: $GLASSDOME_HOME, default ~/.glassdome (DESIGN.md §files).

import path from 'node:path';

/** The files of one vault home. */
export interface VaultPaths {
  home: string;
  masterKey: string;
  secrets: string;
  cache: string;
  audit: string;
  policy: string;
  lock: string;
  journal: string;
  replaced: string;
}

/**
 * The user's home directory: $HOME when set, as os.homedir() reads it, without loading node:os
 * (~0.15 ms of every start) unless the password database must be asked.
 */
export function homeDir(): string {
  return process.env.HOME ?? (require('node:os') as typeof import('node:os')).homedir();
}

/** The vault home for an environment, as an absolute path. */
export function vaultHome(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.GLASSDOME_HOME;
  return path.resolve(configured && configured.length > 0 ? configured : path.join(homeDir(), '.glassdome'));
}

/** Every file path of the vault at `home`. */
export function vaultPaths(home: string = vaultHome()): VaultPaths {
  return {
    home,
    masterKey: path.join(home, 'master_key.enc'),
    secrets: path.join(home, 'secrets.encrypted'),
    cache: path.join(home, 'session_cache.json'),
    audit: path.join(home, 'audit.log'),
    policy: path.join(home, 'policy.yaml'),
    lock: path.join(home, '.lock'),
    journal: path.join(home, 'vault.journal'),
    replaced: path.join(home, 'replaced.backup'),
  };
}
