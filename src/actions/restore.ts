// `glassdome restore FILE`: puts a backup back. The file is checked completely before anything is
// replaced: its format and checksums, then, with the password, the AEAD of both vault files. An
// existing vault is replaced only with --force, as one crash-safe step (vault.journal), and kept
// aside in replaced.backup until the new vault, read back from disk, opens with the password; the
// replaced vault's files (healthy or not) are kept, byte for byte, in a replaced-* directory, and so
// is the audit log of a vault that is not the backup's (the restored vault then anchors the new
// log; the same vault's log goes on and is anchored forward). Sessions of the replaced vault end
// first: the agent is told to lock, the keyring session is removed.

import fs from 'node:fs';
import { localWriteHooks, recordLocal } from '../audit/local.js';
import { prepareKdf } from '../cli/kdf.js';
import { readPassword } from '../cli/password.js';
import { endSessions } from '../cli/end-sessions.js';
import { fail } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { ioError, readPrivate } from '../store/secure-file.js';
import { loadSecrets, refuseOverAside, replaceVault, updateVault, type Replaced } from '../store/vault-files.js';
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
  let replaced: Replaced;
  let ended: string[];
  let reanchored = true;
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
    ended = await endSessions(paths, "the backup's password"); // before the swap: the replaced vault's key must MAC nothing into the log the restored vault goes on with
    replaced = await replaceVault(paths, bundle, options.force, () => readBack(paths, bundle, opener));
    await recordLocal(paths, { event_type: 'admin_action', action: 'restore', resource: null, result: 'success', reason: `vault ${bundle.vaultId} from a backup of ${bundle.createdAt}${keptText(replaced)}` }, keys);
    reanchored = await anchorLog(paths, replaced, keys);
  } finally {
    wipeKeys(keys);
  }
  const lines = [`restored vault ${bundle.vaultId} (${count} secrets) from the backup of ${bundle.createdAt}`, ...ended];
  if (replaced.dir) lines.push(`${keptText(replaced).slice(2)}: remove it once nothing there is needed`);
  if (!reanchored) lines.push('warning: the audit anchor of the restored vault still names a line of the log of the home it was backed up from, so audit verify reports a cut log: run glassdome audit verify --reset-anchor');
  process.stderr.write(lines.map((l) => `glassdome: ${l}\n`).join(''));
}

/** What the replaced vault left in its replaced-* directory, as `; …` (empty when nothing). */
function keptText(replaced: Replaced): string {
  if (replaced.unreadable) return `; the files of the unreadable vault it replaced are kept in ${replaced.dir}${replaced.log ? ', its audit log too' : ''}`;
  if (replaced.dir) return `; the files of the vault it replaced are kept in ${replaced.dir}${replaced.log ? ', its audit log too' : ''}`;
  return '';
}

/**
 * Anchors the home's log at its head (the restore line) in the restored vault: a new log (the
 * replaced vault's moved away) unconditionally, as the backup's anchor names a line of the log of
 * the home it was taken from; the same vault's log only forward from the backup's anchor, as any
 * write does. False (and a warning printed) when the new log could not be anchored.
 */
async function anchorLog(paths: VaultPaths, replaced: Replaced, keys: VaultKeys): Promise<boolean> {
  const { sealHeadAsAnchor } = require('../audit/anchor.js') as typeof import('../audit/anchor.js');
  const { AuditLog } = require('../audit/log.js') as typeof import('../audit/log.js');
  try {
    if (replaced.log) await sealHeadAsAnchor(paths, keys, new AuditLog(paths.audit));
    else if (replaced.same) await updateVault(paths, keys, () => undefined, localWriteHooks(paths, keys));
    return true;
  } catch (err) {
    process.stderr.write(`glassdome: warning: ${(err as Error).message}\n`);
    return !replaced.log;
  }
}

function readBackup(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') fail('not_found', `no file ${file}`, 'give the path of a file glassdome backup -o wrote');
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
