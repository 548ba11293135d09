// The fallback session when no agent runs: `unlock` puts the master key in the OS keyring and
// writes session_cache.json; later commands resume from them until the deadline; `lock` removes
// both. Expiry is noticed by the next command (no process is left running to watch the clock): it
// deletes the keyring item and exits 4 with `session expired`. An edited cache ends the session
// the same way. When the keyring cannot be used at all, a command on a terminal asks for the
// password for that one call; without a terminal it exits 4 naming the cause.

import { fail, GlassdomeError } from '../errors.js';
import type { OpenStore } from '../cli/session.js';
import { localGuard, localWriteHooks, recordLocal, selfClient } from '../audit/local.js';
import { LocalStore } from '../store/local-store.js';
import type { VaultPaths } from '../store/paths.js';
import { readMasterKeyText } from '../store/vault-text.js';
import { keysFor, unsealMasterKey, wipeKeys, type VaultKeys } from '../vault/vault.js';
import { vaultIdOf } from '../vault/format.js';
import { deleteMasterKey, loadMasterKey, probe, reachable, storeMasterKey, type PrefetchedKey } from './os-keyring.js';
import { cacheIsAuthentic, readCache, removeCache, writeCache, type SessionCache } from './session-cache.js';

const EXPIRED_HINT = 'glassdome unlock';

/** A resumed fallback session: the vault's keys and its facts. */
export interface KeyringSession {
  keys: VaultKeys;
  cache: SessionCache;
}

/** Starts a session: the key into the keyring, the facts into session_cache.json. */
export function openKeyringSession(paths: VaultPaths, keys: VaultKeys, lifetimeMs: number, secretCount: number, now = Date.now()): SessionCache {
  storeMasterKey(keys.vaultId, keys.masterKey);
  return writeCache(paths, keys, { createdAt: now, expiresAt: now + lifetimeMs, secretCount });
}

/**
 * The current session's keys, or null when there is none. Throws `expired` for a session past its
 * deadline or with an edited cache (both end it), and `keyring_unavailable` when the keyring
 * cannot be read.
 */
export function resumeKeyringSession(paths: VaultPaths, now = Date.now(), prefetched?: PrefetchedKey): KeyringSession | null {
  const cache = readCache(paths);
  if (cache === null) return null;
  const vaultId = vaultIdOf(readMasterKeyText(paths));
  if (cache === 'malformed') {
    endSession(paths, [vaultId]);
    fail('expired', 'session expired: run glassdome unlock (session_cache.json was damaged or edited)', EXPIRED_HINT);
  }
  if (cache.vaultId !== vaultId) {
    endSession(paths, [cache.vaultId]);
    return null;
  }
  if (now >= cache.expiresAt) {
    endSession(paths, [vaultId]);
    fail('expired', 'session expired: run glassdome unlock', EXPIRED_HINT);
  }
  const key = prefetched?.vaultId === vaultId ? prefetched.key : loadMasterKey(vaultId);
  if (!key) {
    probe(); // a locked collection also reads as "no item": this throws keyring_unavailable then
    removeCache(paths);
    fail('locked', 'the keyring session ended: its item is no longer in the keyring', EXPIRED_HINT);
  }
  const keys = keysFor(vaultId, key);
  if (!cacheIsAuthentic(keys, cache)) {
    wipeKeys(keys);
    endSession(paths, [vaultId]);
    fail('expired', 'session expired: run glassdome unlock (session_cache.json was edited)', EXPIRED_HINT);
  }
  return { keys, cache };
}

/**
 * Runs a rotation's `commit` and moves an open keyring session of the vault to the new key: the
 * cache goes before the commit (a crash in between ends the session; it never outlives the key it
 * was MACed under) and comes back after it, MACed under the new key, beside the new key's item.
 * Returns `none` (no session), `moved`, or why the session had to end.
 */
export async function rotateKeyringSession(paths: VaultPaths, oldKeys: VaultKeys, newKeys: VaultKeys, commit: () => Promise<void>): Promise<string> {
  const cache = readCache(paths);
  const open = cache !== null && cache !== 'malformed' && cache.vaultId === oldKeys.vaultId && Date.now() < cache.expiresAt && cacheIsAuthentic(oldKeys, cache);
  if (!open) {
    await commit();
    return 'none';
  }
  const facts = { createdAt: cache.createdAt, expiresAt: cache.expiresAt, secretCount: cache.secretCount };
  removeCache(paths);
  try {
    await commit();
  } catch (err) {
    writeCache(paths, oldKeys, facts);
    throw err;
  }
  try {
    storeMasterKey(newKeys.vaultId, newKeys.masterKey);
    writeCache(paths, newKeys, facts);
    return 'moved';
  } catch (err) {
    endSession(paths, [newKeys.vaultId]);
    return `ended (${(err as Error).message})`;
  }
}

/** Ends the session: deletes the keyring items of the given vaults and the cache. */
export function endSession(paths: VaultPaths, vaultIds: string[]): { item: boolean; cache: boolean } {
  let item = false;
  for (const id of new Set(vaultIds)) {
    try {
      item = deleteMasterKey(id) || item;
    } catch {
      // keyring unreachable: nothing we can delete there
    }
  }
  return { item, cache: removeCache(paths) };
}

/**
 * The vault through the keyring session, as an OpenStore; null when no session is open. `early`
 * is the key asked of the keyring ahead of time (`prefetchMasterKey`), if it was.
 */
export async function openKeyringStore(paths: VaultPaths, early?: Promise<PrefetchedKey | undefined>): Promise<OpenStore | null> {
  const prefetched = await early;
  let session: KeyringSession | null = null;
  try {
    session = resumeKeyringSession(paths, Date.now(), prefetched);
    if (!session) reachable(); // no session: still say why when the keyring is out of reach
  } catch (err) {
    if (err instanceof GlassdomeError && err.code === 'keyring_unavailable') return passwordForOneCall(paths, err);
    throw err;
  } finally {
    if (prefetched?.key && session?.keys.masterKey !== prefetched.key) prefetched.key.fill(0); // read but not used
  }
  if (!session) return null;
  const { keys, cache } = session;
  const local = new LocalStore(paths, keys, localWriteHooks(paths, keys));
  const audited = localGuard(paths, keys).store(selfClient(), local);
  const refreshCount = async (): Promise<void> => {
    writeCache(paths, keys, { createdAt: cache.createdAt, expiresAt: cache.expiresAt, secretCount: (await local.list()).length });
  };
  return {
    mode: 'keyring',
    close: () => local.close(),
    store: {
      get: (name) => audited.get(name),
      list: () => audited.list(),
      set: async (name, value) => {
        await audited.set(name, value);
        await refreshCount();
      },
      rm: async (name) => {
        await audited.rm(name);
        await refreshCount();
      },
      infos: () => audited.infos(),
      setMany: async (entries) => {
        await audited.setMany(entries);
        await refreshCount();
      },
    },
  };
}

/** No usable keyring: on a terminal, the password opens the vault for this one command. */
async function passwordForOneCall(paths: VaultPaths, cause: GlassdomeError): Promise<OpenStore> {
  const { canPrompt, promptPassword } = require('../cli/password.js') as typeof import('../cli/password.js');
  if (!canPrompt()) {
    throw new GlassdomeError('keyring_unavailable', `${cause.message}, and there is no terminal to ask for the password`, 'start an agent instead: eval "$(glassdome agent)"; glassdome unlock');
  }
  process.stderr.write(`glassdome: ${cause.message}; the password opens the vault for this command only\n`);
  (require('../cli/kdf.js') as typeof import('../cli/kdf.js')).prepareKdf();
  const text = readMasterKeyText(paths);
  const password = await promptPassword('Master password');
  let keys: VaultKeys;
  try {
    keys = await unsealMasterKey(text, password);
  } catch (err) {
    if (err instanceof GlassdomeError && err.code === 'bad_password') await recordLocal(paths, { event_type: 'auth_failure', action: 'unlock', resource: null, result: 'failure', reason: 'wrong password (one-call prompt)' });
    throw err;
  } finally {
    password.fill(0);
  }
  const local = new LocalStore(paths, keys, localWriteHooks(paths, keys));
  return { mode: 'password', store: localGuard(paths, keys).store(selfClient(), local), close: () => local.close() };
}
