// Opening the vault's master key with the password in a CLI process, the one sequence every
// command that needs the key without an agent runs: ready the KDF, read master_key.enc, ask for
// the password, unseal, wipe the password. A wrong password is `bad_password` (exit 1) after the
// caller's `onWrongPassword` (an audit line, say) ran; the caller owns and wipes the keys.

import { readPassword } from './password.js';
import { prepareKdf } from './kdf.js';
import { GlassdomeError } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { readMasterKeyText } from '../store/vault-text.js';
import { unsealMasterKey, type VaultKeys } from '../vault/vault.js';

/** Where the password comes from and what to do when it is wrong. */
export interface UnsealOptions {
  /** Read the password from stdin (`--password-stdin`) rather than a prompt. */
  stdin: boolean;
  /** The prompt. */
  message: string;
  /** master_key.enc's text when the caller read it already (else it is read from `paths`). */
  masterKeyText?: string;
  /** Runs before `bad_password` is thrown. */
  onWrongPassword?: () => Promise<void>;
}

/** The vault's keys, opened with the password (wiped before this returns). */
export function unsealWithPassword(paths: VaultPaths, options: UnsealOptions): Promise<VaultKeys> {
  return unsealKeepingPassword(paths, options, async (keys) => keys);
}

/**
 * The same, but `use` receives the keys and the password, which is wiped once `use` settles (rotate
 * seals its new key under it). The keys are the caller's from the moment `use` receives them.
 */
export async function unsealKeepingPassword<T>(paths: VaultPaths, options: UnsealOptions, use: (keys: VaultKeys, password: Uint8Array) => Promise<T>): Promise<T> {
  prepareKdf();
  const text = options.masterKeyText ?? readMasterKeyText(paths);
  const password = await readPassword({ stdin: options.stdin, message: options.message });
  try {
    let keys: VaultKeys;
    try {
      keys = await unsealMasterKey(text, password);
    } catch (err) {
      if (err instanceof GlassdomeError && err.code === 'bad_password') await options.onWrongPassword?.();
      throw err;
    }
    return await use(keys, password);
  } finally {
    password.fill(0);
  }
}
