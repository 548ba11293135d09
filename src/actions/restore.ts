// `glassdome restore FILE`: puts a backup back. The file is checked completely before anything is
// replaced: its format and checksums, then, with the password, the AEAD of both vault files. An
// existing vault is replaced only with --force, as one crash-safe step (vault.journal), and kept
// aside in replaced.backup until the new vault, read back from disk, opens with the password; the
// files of a vault that does not parse are kept, byte for byte, in a replaced-* directory.
// Sessions of the replaced vault end: the agent is told to lock, the keyring session is removed.

import fs from 'node:fs';
import { recordLocal } from '../audit/local.js';
import { prepareKdf } from '../cli/kdf.js';
import { readPassword } from '../cli/password.js';
import { endSessions } from '../cli/end-sessions.js';
import { fail } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { ioError, readPrivate } from '../store/secure-file.js';
import { loadSecrets, refuseOverAside, replaceVault } from '../store/vault-files.js';
import { readMasterKeyText } from '../store/vault-text.js';
import { openBundle, parseBundle, type Bundle } from '../vault/bundle.js';
import { wipeMap } from '../vault/payload.js';
import { wipeKeys, type VaultKeys } from '../vault/vault.js';

/** Restores the vault from a backup file. */
export async function restoreAction(options: { file: string; force: boolean; passwordStdin: boolean }, paths: VaultPaths): Promise<void> {
  prepareKdf();
  const bundle = parseBundle(readBackup(options.file), 'glassdome-backup', options.file);
  refuseOverAside(paths);
  if (!options.force && vaultPresent(paths)) {
    fail('exists', `a vault already exists at ${paths.home}`, 'keep it, or replace it with the backup: glassdome restore --force FILE');
  }
  let keys: VaultKeys | undefined;
  let count: number;
  let kept: string | null;
  try {
    const password = await readPassword({ stdin: options.passwordStdin, message: 'Master password of the backup' });
    try {
      const opened = await openBundle(bundle, password);
      keys = opened.keys;
      count = opened.map.size;
      wipeMap(opened.map);
    } finally {
      password.fill(0);
    }
    const opener = keys;
    kept = await replaceVault(paths, bundle, options.force, () => readBack(paths, bundle, opener));
  } finally {
    wipeKeys(keys);
  }
  const ended = await endSessions(paths, "the backup's password");
  await recordLocal(paths, { event_type: 'admin_action', action: 'restore', resource: null, result: 'success', reason: `vault ${bundle.vaultId} from a backup of ${bundle.createdAt}${kept ? `; the unreadable vault it replaced is kept in ${kept}` : ''}` });
  const lines = [`restored vault ${bundle.vaultId} (${count} secrets) from the backup of ${bundle.createdAt}`, ...ended];
  if (kept) lines.push(`the files of the unreadable vault it replaced are kept in ${kept}: remove it once nothing there is needed`);
  process.stderr.write(lines.map((l) => `glassdome: ${l}\n`).join(''));
}

function readBackup(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') fail('not_found', `no file ${file}`);
    throw ioError(err, `cannot read ${file}`);
  }
}

function vaultPresent(paths: VaultPaths): boolean {
  return [paths.masterKey, paths.secrets, paths.journal].some((file) => {
    try {
      return readPrivate(file) !== null;
    } catch {
      return true; // there, but not readable as ours: still a vault not to overwrite blindly
    }
  });
}

/** The new vault as every reader will see it: the same master_key.enc, and secrets that open. */
function readBack(paths: VaultPaths, bundle: Bundle, keys: VaultKeys): void {
  if (readMasterKeyText(paths) !== bundle.files['master_key.enc']) fail('io', 'master_key.enc does not read back as restored; the previous vault was put back');
  wipeMap(loadSecrets(paths, keys).map);
}
