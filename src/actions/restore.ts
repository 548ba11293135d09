// `glassdome restore FILE`: puts a backup back. The file is checked completely before anything is
// replaced: its format and checksums, then, with the password, the AEAD of both vault files. An
// existing vault is replaced only with --force, as one crash-safe step (vault.journal), and kept
// aside in replaced.backup until the new vault, read back from disk, opens with the password; the
// replaced vault's files (healthy or not) are kept, byte for byte, in a replaced-* directory. The
// home's audit log goes on (anchored forward) only when it verifies under the restored vault's key
// from the lines the backup and the replaced vault anchored; else (another vault's log, one MACed
// under the master key a rotation made after the backup, one that does not verify) it moves into
// that directory, where it is checked with the vault kept beside it, and a new chain starts with
// the restore line, anchored at once (so too when there is no log). Sessions of the replaced
// vault end first: every agent of it found is told to lock, the keyring session is removed.

import fs from 'node:fs';
import { localWriteHooks, recordLocal } from '../audit/local.js';
import { verifyAuditLog } from '../audit/log.js';
import { prepareKdf } from '../cli/kdf.js';
import { readPassword } from '../cli/password.js';
import { endSessions } from '../cli/end-sessions.js';
import { fail, GlassdomeError } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { ioError, readPrivate } from '../store/secure-file.js';
import { loadSecrets, loadVault, refuseOverAside, replaceVault, updateVault, type Replaced } from '../store/vault-files.js';
import { readMasterKeyText } from '../store/vault-text.js';
import { MAX_BACKUP_BYTES, openBundle, parseBundle, type Bundle } from '../vault/bundle.js';
import { wipeMap, type AuditAnchor } from '../vault/payload.js';
import { openVault, wipeKeys, type VaultKeys } from '../vault/vault.js';

/** Restores the vault from a backup file. */
export async function restoreAction(options: { file: string; force: boolean; passwordStdin: boolean }, paths: VaultPaths): Promise<void> {
  prepareKdf();
  const bundle = backupError(() => parseBundle(readBackup(options.file), 'glassdome-backup', options.file));
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
      const opened = await openBundle(bundle, password).catch((err: unknown) => {
        if (err instanceof GlassdomeError && err.code === 'bad_password') {
          fail('bad_password', `wrong password for the backup of ${bundle.createdAt}`, 'it opens with the master password the vault had when the backup was taken (a passwd since does not change it); nothing was replaced');
        }
        return backupError(() => {
          throw err;
        });
      });
      keys = opened.keys;
      count = opened.map.size;
      wipeMap(opened.map);
    } finally {
      password.fill(0);
    }
    const opener = keys;
    ended = await endSessions(paths, "the backup's password"); // before the swap: the replaced vault's key must MAC nothing into the log the restored vault goes on with
    replaced = await replaceVault(paths, bundle, options.force, () => readBack(paths, bundle, opener), (old) => logVerdict(paths, opener, old));
    const fresh = replaced.reanchor === null ? '' : `; the audit log starts anew here (${replaced.reanchor})`;
    await recordLocal(paths, { event_type: 'admin_action', action: 'restore', resource: null, result: 'success', reason: `vault ${bundle.vaultId} from a backup of ${bundle.createdAt}${keptText(replaced)}${fresh}` }, keys);
    reanchored = await anchorLog(paths, replaced, keys);
  } finally {
    wipeKeys(keys);
  }
  const lines = [`restored vault ${bundle.vaultId} (${count} secrets) from the backup of ${bundle.createdAt}`, ...ended];
  if (replaced.dir) lines.push(`${keptText(replaced).slice(2)}: remove it once nothing there is needed`);
  if (replaced.reanchor !== null && !replaced.log) lines.push(`the audit log starts anew with this restore (${replaced.reanchor})`);
  if (replaced.log) lines.push(`the audit log moved there as ${replaced.reanchor}; a new one starts with this restore${replaced.vault && !replaced.unreadable ? `; check the kept one where it is, with the password of the vault kept beside it: GLASSDOME_HOME=${replaced.dir} glassdome audit verify --password-stdin` : ''}`);
  if (!reanchored) lines.push('warning: the audit anchor of the restored vault still names a line of the log of the home it was backed up from, so audit verify reports a cut log: run glassdome audit verify --reset-anchor');
  process.stderr.write(lines.map((l) => `glassdome: ${l}\n`).join(''));
}

/** What the replaced vault left in its replaced-* directory, as `; …` (empty when nothing). */
function keptText(replaced: Replaced): string {
  if (replaced.unreadable) return `; the files of the unreadable vault it replaced are kept in ${replaced.dir}${replaced.log ? ', its audit log too' : ''}`;
  if (replaced.dir && !replaced.vault) return `; the audit log that was here is kept in ${replaced.dir}`;
  if (replaced.dir) return `; the files of the vault it replaced are kept in ${replaced.dir}${replaced.log ? ', its audit log too' : ''}`;
  return '';
}

/**
 * Anchors the home's log at its head (the restore line) in the restored vault: a new log (the
 * one before moved away, or none there) unconditionally, as the backup's anchor names a line of
 * a log this home no longer holds; a log that goes on only forward from the backup's anchor, as
 * any write does. False (and a warning printed) when the new log could not be anchored.
 */
async function anchorLog(paths: VaultPaths, replaced: Replaced, keys: VaultKeys): Promise<boolean> {
  const { sealHeadAsAnchor } = require('../audit/anchor.js') as typeof import('../audit/anchor.js');
  const { AuditLog } = require('../audit/log.js') as typeof import('../audit/log.js');
  try {
    if (replaced.reanchor !== null) await sealHeadAsAnchor(paths, keys, new AuditLog(paths.audit));
    else await updateVault(paths, keys, () => undefined, localWriteHooks(paths, keys));
    return true;
  } catch (err) {
    process.stderr.write(`glassdome: warning: ${(err as Error).message}\n`);
    return replaced.reanchor === null;
  }
}

/**
 * What becomes of the home's audit log under the restored vault (its key `keys`), as
 * replaceVault asks. It goes on (null) when it verifies under that key from the line the backup
 * anchored. It moves aside, and a new log starts, when it is another vault's, when the vault it
 * replaced was sealed under another master key (a rotation since the backup: its lines since are
 * MACed under a key the restored vault does not hold), or when it does not verify under that key
 * from the backup's anchor (in a home with no vault, that names a line of the log of the home the
 * backup was taken from) or from the replaced vault's (lines cut since: the cut is kept, and
 * reported, not forgiven). A new log starts too when there is none.
 */
function logVerdict(paths: VaultPaths, keys: VaultKeys, old: Bundle | null): { why: string; move: boolean } | null {
  if (old && old.vaultId !== keys.vaultId) return { why: `it was vault ${old.vaultId}'s`, move: true };
  const replacedAnchor = old ? anchorUnder(keys, old.files['secrets.encrypted']) : null;
  if (replacedAnchor === undefined) return { why: 'the vault it replaced was sealed under another master key, made by a rotation after the backup: its lines since are MACed under that key', move: true };
  const { payload } = loadVault(paths, keys);
  wipeMap(payload.map);
  const anchored = verifyAuditLog(paths.audit, { key: keys.auditKey, anchor: payload.anchor });
  if (anchored.files === 0) {
    const deleted = replacedAnchor && replacedAnchor.lines > 0 ? `, though the vault it replaced anchored its line ${replacedAnchor.lines}: it was deleted` : '';
    return { why: `the home had no audit log${deleted}`, move: false };
  }
  // The same key's log must also still hold the line the replaced (newer) vault anchored: a restore forgives no cut.
  const broken = anchored.broken ?? (replacedAnchor ? verifyAuditLog(paths.audit, { key: keys.auditKey, anchor: replacedAnchor }).broken : null);
  if (!broken) return null;
  const where = `${broken.file}${broken.line > 0 ? ` line ${broken.line}` : ''}: ${broken.problem}`;
  if (!old) return { why: `it is not the log the backup's anchor names, with no vault here to anchor it (${where})`, move: true }; // an agent's lock line in an empty home, or a stray log
  const from = anchored.broken ? 'the line the backup anchored' : 'the line the vault it replaced anchored';
  return { why: `it does not verify under the restored vault's key from ${from}: ${where}`, move: true };
}

/** The audit anchor sealed in a vault's secrets.encrypted when it opens under `keys` (the same master key); undefined when it does not. */
function anchorUnder(keys: VaultKeys, secretsText: string): AuditAnchor | null | undefined {
  try {
    const payload = openVault(keys, secretsText);
    wipeMap(payload.map);
    return payload.anchor;
  } catch {
    return undefined;
  }
}

/**
 * The backup file's text. Opened without blocking and checked to be a regular file of at most
 * MAX_BACKUP_BYTES first: a fifo, a device (/dev/zero) or a directory is refused, not waited on.
 */
function readBackup(file: string): string {
  const hint = 'name a file glassdome backup -o FILE wrote; nothing was replaced';
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') fail('not_found', `no file ${file}`, 'name a file glassdome backup -o FILE wrote');
    const io = ioError(err, `cannot read ${file}`);
    throw new GlassdomeError(io.code, io.message, hint);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) fail('usage', `${file} is not a regular file`, hint);
    if (st.size > MAX_BACKUP_BYTES) fail('too_large', `${file} is over ${MAX_BACKUP_BYTES} bytes: not a glassdome backup`, hint);
    const buffer = Buffer.alloc(st.size);
    let got = 0;
    for (let n = -1; got < buffer.length && n !== 0; got += n) n = fs.readSync(fd, buffer, got, buffer.length - got, got);
    return buffer.subarray(0, got).toString('utf8');
  } catch (err) {
    const io = ioError(err, `cannot read ${file}`);
    throw io === err ? err : new GlassdomeError(io.code, io.message, hint);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Runs a check of the backup file; its damage (`corrupt`, `tampered`, `unsupported_version`) is
 * rethrown with a hint for a backup: the file is not repaired from one, and nothing was replaced.
 */
function backupError<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof GlassdomeError && ['corrupt', 'tampered'].includes(err.code)) {
      throw new GlassdomeError(err.code, err.message, 'nothing was replaced; restore another copy of the backup, or take a new one: glassdome backup -o FILE');
    }
    throw err;
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
