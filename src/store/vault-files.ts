// The vault on disk, decrypted: loading the payload (secret map, sealed policy, audit anchor),
// creating a vault, and every change to it as a read-modify-write under the lock file. Both the
// agent and the CLI write through updateVault, so two writers never lose each other's update, and
// every write carries the sealed policy over and may refresh the audit anchor. Rotation, snapshot
// (backup) and replacement (restore) of the whole pair also happen here, under the same lock; each
// writer first finishes a pair a crashed one left committed in vault.journal.

import fs from 'node:fs';
import { fail } from '../errors.js';
import type { Bundle } from '../vault/bundle.js';
import { parseMasterKeyFile, parseSecretsFile, vaultIdOf } from '../vault/format.js';
import { openVault, readMasterKeyFile, resealSecrets, sealVault, type NewVault, type VaultKeys } from '../vault/vault.js';
import { wipeMap, type AuditAnchor, type SecretMap, type VaultPayload } from '../vault/payload.js';
import { withLock } from './lock.js';
import type { VaultPaths } from './paths.js';
import { ensurePrivateDir, readPrivate, removeIfPresent, writePrivateAtomic, type FileSignature } from './secure-file.js';
import { readMasterKeyText, readSecretsFile } from './vault-text.js';

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

/**
 * Writes a new vault's two files; refuses to replace an existing vault unless `force`. A replaced
 * vault's files are kept in a `replaced-*` directory first, and the audit log moves there too
 * unless the old vault is the new one (the same vault id: its log goes on); returns that
 * directory, or null when nothing was there.
 */
export async function createVaultFiles(paths: VaultPaths, vault: NewVault, force: boolean): Promise<string | null> {
  ensurePrivateDir(paths.home);
  return withLock(paths.lock, async () => {
    if (!force && (readPrivate(paths.masterKey) || readPrivate(paths.secrets) || readPrivate(paths.journal))) {
      fail('exists', `a vault already exists at ${paths.home}`, 'keep it, or replace it (its files are kept aside): glassdome init --force');
    }
    const sameVault = vaultIdQuiet(paths) === vault.vaultId;
    const movesLog = !sameVault && [paths.audit, `${paths.audit}.1`].some((file) => fs.existsSync(file));
    if (movesLog) keptCode().checkAuditLogMovable(paths); // before anything is replaced
    const kept = force ? keptCode().keepVaultFiles(paths) : null;
    if (kept) {
      commitCode().commitPair(paths, vault.vaultId, { 'master_key.enc': vault.masterKeyText, 'secrets.encrypted': vault.secretsText });
    } else {
      writePrivateAtomic(paths.secrets, vault.secretsText);
      writePrivateAtomic(paths.masterKey, vault.masterKeyText);
    }
    removeIfPresent(paths.cache);
    if (!movesLog) return kept?.dir ?? null;
    return keptCode().keepAuditLog(paths, kept?.dir ?? null);
  });
}

/** Replaces master_key.enc (passwd), checking it still seals the same vault. */
export async function replaceMasterKeyText(paths: VaultPaths, vaultId: string, text: string, current: () => string): Promise<void> {
  await withLock(paths.lock, () => {
    settlePending(paths);
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
    settlePending(paths);
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

/**
 * Rotates the master key as one crash-safe step: re-seals secrets.encrypted under `newKeys` and
 * commits it with `masterKeyText` (the new key sealed under the password) through the journal.
 * `replaces` is the checksum of the master_key.enc the old keys came from: if the file changed
 * meanwhile (passwd, another rotation), nothing is written. `observe` runs under the lock after
 * the commit (the agent switches keys there, so none of its requests sees the old key on the new
 * files).
 */
export async function rotateVault(
  paths: VaultPaths,
  change: { oldKeys: VaultKeys; newKeys: VaultKeys; masterKeyText: string; replaces: string },
  observe?: (after: FileSignature) => void,
): Promise<void> {
  await withLock(paths.lock, () => {
    settlePending(paths);
    if (parseMasterKeyFile(readMasterKeyText(paths)).checksum !== change.replaces || readMasterKeyFile(change.masterKeyText).vaultId !== change.oldKeys.vaultId) {
      fail('busy', 'the vault changed while the new master key was being made (passwd, rotate or restore)', 'nothing was changed; run glassdome rotate again');
    }
    const resealed = resealSecrets(change.oldKeys, change.newKeys, readSecretsFile(paths).text);
    const after = commitCode().commitPair(paths, change.oldKeys.vaultId, { 'master_key.enc': change.masterKeyText, 'secrets.encrypted': resealed });
    observe?.(after);
  });
}

/** The current vault pair, read under the lock so it is one consistent version (backup). */
export async function snapshotVault(paths: VaultPaths): Promise<Bundle> {
  return withLock(paths.lock, () => {
    settlePending(paths);
    return currentPair(paths) ?? snapshotError(paths);
  });
}

/** What replaceVault kept of the vault it replaced. */
export interface Replaced {
  /** The `replaced-*` directory that holds what was kept, or null when nothing was. */
  dir: string | null;
  /** Whether a vault's files are kept there (else it holds only the audit log of a home with no vault). */
  vault: boolean;
  /** Whether the files of a vault that does not parse are kept there. */
  unreadable: boolean;
  /** Whether the home's audit log moved there. */
  log: boolean;
  /** Why the restored vault anchors the home's log afresh, at the restore line (it moved, or there was none), or null when it goes on from the backup's anchor. */
  reanchor: string | null;
}

/**
 * What becomes of the home's audit log under the restored vault: null when it goes on from the
 * backup's anchor; else why not, and whether it moves aside (there is one: a new log starts). Told the replaced pair (null when none parsed); asked under the lock once the
 * new vault is in place.
 */
export type LogVerdict = (old: Bundle | null) => { why: string; move: boolean } | null;

/**
 * Replaces the vault with a checked bundle's pair (restore), as one crash-safe step. The old pair,
 * if any, is kept aside in replaced.backup until `check` (which reads the new vault back from
 * disk) passes; if it throws, the old pair is put back. The files of the vault replaced (one
 * that does not parse, or whose vault.journal does not, included: only with `force`) are kept
 * byte for byte in a `replaced-*` directory, put back or dropped if `check` throws and otherwise
 * left there. When `logVerdict` says so (another vault's log, one MACed under another master key,
 * one that does not verify), the home's audit log moves into that directory (made for it if need
 * be) once the new vault is in place, so that a new chain starts.
 */
export async function replaceVault(paths: VaultPaths, bundle: Bundle, force: boolean, check: () => void, logVerdict: LogVerdict): Promise<Replaced> {
  ensurePrivateDir(paths.home);
  return withLock(paths.lock, async () => {
    let journalUnreadable = false;
    try {
      settlePending(paths);
    } catch (err) {
      if (!force) throw err;
      journalUnreadable = true; // a damaged journal: --force replaces the vault anyway, keeping it
    }
    refuseOverAside(paths);
    const old = journalUnreadable ? null : currentPair(paths);
    if (!force && (old || readPrivate(paths.masterKey) || readPrivate(paths.secrets))) {
      fail('exists', `a vault already exists at ${paths.home}`, 'keep it, or replace it with the backup: glassdome restore --force FILE');
    }
    // Every vault replaced is kept, byte for byte: a wrong backup restored with --force loses nothing.
    const kept = keptCode().keepVaultFiles(paths);
    if (old) writePrivateAtomic(paths.replaced, bundleCode().serializeBundle(old));
    commitCode().commitPair(paths, bundle.vaultId, bundle.files);
    let verdict: ReturnType<LogVerdict>;
    try {
      check();
      verdict = logVerdict(old);
    } catch (err) {
      if (old) {
        commitCode().commitPair(paths, old.vaultId, old.files);
        removeIfPresent(paths.replaced); // back in place: neither its aside copy nor its kept one is needed
        if (kept) keptCode().discard(kept);
      } else if (kept) keptCode().putBack(paths, kept);
      throw err;
    }
    removeIfPresent(paths.replaced);
    const logDir = verdict?.move ? await keptCode().keepAuditLog(paths, kept?.dir ?? null) : null;
    return { dir: logDir ?? kept?.dir ?? null, vault: kept !== null, unreadable: old === null && kept !== null, log: logDir !== null, reanchor: verdict?.why ?? null };
  });
}

/** Refuses to start a restore while replaced.backup holds the vault an interrupted one replaced. */
export function refuseOverAside(paths: VaultPaths): void {
  if (readPrivate(paths.replaced)) {
    fail('exists', `${paths.replaced} holds the vault an interrupted restore replaced`, 'restore it (glassdome restore --force FILE) or move it away, then run this again');
  }
}

/**
 * The vault's pair as a bundle, or null when there is none or it is not a pair that parses (lock
 * held): both files must parse as one vault's, so that a bundle holds them exactly (a file that is
 * not even UTF-8 would be kept only as its lossy decoding).
 */
function currentPair(paths: VaultPaths): Bundle | null {
  try {
    const master = readMasterKeyText(paths);
    const secrets = readSecretsFile(paths).text;
    const vaultId = vaultIdOf(master);
    if (parseSecretsFile(secrets).vaultId !== vaultId) return null;
    return { kind: 'glassdome-backup', vaultId, createdAt: new Date().toISOString(), files: { 'master_key.enc': master, 'secrets.encrypted': secrets } };
  } catch {
    return null;
  }
}

/** Why the vault cannot be backed up: the reader's own error (no vault, corrupt file). */
function snapshotError(paths: VaultPaths): never {
  vaultIdOf(readMasterKeyText(paths));
  readSecretsFile(paths);
  return fail('corrupt', `the vault at ${paths.home} cannot be read`);
}

/**
 * Finishes a pair a crashed rotate or restore left in vault.journal (lock held). The journal's
 * code loads only when there is one: every write passes here, the keyring `get` path included.
 */
function settlePending(paths: VaultPaths): void {
  if (readPrivate(paths.journal)) commitCode().settlePending(paths);
}

function commitCode(): typeof import('./vault-commit.js') {
  return require('./vault-commit.js') as typeof import('./vault-commit.js');
}

/** The vault id master_key.enc names, or null when there is none or it does not parse (lock held). */
function vaultIdQuiet(paths: VaultPaths): string | null {
  try {
    return vaultIdOf(readMasterKeyText(paths));
  } catch {
    return null;
  }
}

function keptCode(): typeof import('./kept-files.js') {
  return require('./kept-files.js') as typeof import('./kept-files.js');
}

function bundleCode(): typeof import('../vault/bundle.js') {
  return require('../vault/bundle.js') as typeof import('../vault/bundle.js');
}
