// session_cache.json: the fallback session's metadata, never a key or a value: vault_id,
// created_at, expires_at, secret_count, and a MAC over them under a subkey of the master key
// (docs/VAULT-FORMAT.md §session cache). Without the key in the keyring nobody can forge the MAC,
// so an edited cache (say, a later expires_at) is detected and counts as expired.

import { fail } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { readPrivate, removeIfPresent, writePrivateAtomic } from '../store/secure-file.js';
import { constantTimeEqual, deriveSubkey, mac, wipe } from '../vault/crypto.js';
import { toHex, VAULT_ID_PATTERN } from '../vault/format.js';
import { KDF_CONTEXT, SUBKEY, type VaultKeys } from '../vault/vault.js';

/** The session facts in session_cache.json (times in ms since the epoch). */
export interface SessionCache {
  vaultId: string;
  createdAt: number;
  expiresAt: number;
  secretCount: number;
  mac: string;
}

/** The cache file, or null when there is none. A file that does not parse counts as absent but tampered. */
export function readCache(paths: VaultPaths): SessionCache | 'malformed' | null {
  const file = readPrivate(paths.cache);
  if (!file) return null;
  try {
    const doc = JSON.parse(file.text) as Record<string, unknown>;
    const createdAt = Date.parse(String(doc.created_at));
    const expiresAt = Date.parse(String(doc.expires_at));
    const keys = Object.keys(doc).sort().join(',');
    if (
      keys !== 'created_at,expires_at,mac,secret_count,vault_id' ||
      typeof doc.vault_id !== 'string' ||
      !VAULT_ID_PATTERN.test(doc.vault_id) ||
      !Number.isFinite(createdAt) ||
      !Number.isFinite(expiresAt) ||
      !Number.isSafeInteger(doc.secret_count) ||
      typeof doc.mac !== 'string'
    ) {
      return 'malformed';
    }
    return { vaultId: doc.vault_id, createdAt, expiresAt, secretCount: doc.secret_count as number, mac: doc.mac };
  } catch {
    return 'malformed';
  }
}

/** Writes a new cache for an unlocked vault, MACed under its master key. */
export function writeCache(paths: VaultPaths, keys: VaultKeys, facts: Omit<SessionCache, 'mac' | 'vaultId'>): SessionCache {
  const cache = { vaultId: keys.vaultId, ...facts, mac: '' };
  cache.mac = cacheMac(keys, cache);
  writePrivateAtomic(paths.cache, `${JSON.stringify(document(cache), null, 2)}\n`);
  return cache;
}

/** True when the cache's MAC is the one its master key gives. */
export function cacheIsAuthentic(keys: VaultKeys, cache: SessionCache): boolean {
  if (keys.vaultId !== cache.vaultId) return false;
  return constantTimeEqual(new TextEncoder().encode(cacheMac(keys, cache)), new TextEncoder().encode(cache.mac));
}

/** Removes the cache file; true when there was one. */
export function removeCache(paths: VaultPaths): boolean {
  return removeIfPresent(paths.cache);
}

function cacheMac(keys: VaultKeys, cache: Omit<SessionCache, 'mac'>): string {
  const { mac: _unused, ...facts } = document({ ...cache, mac: '' });
  const key = deriveSubkey(keys.masterKey, SUBKEY.sessionCache, KDF_CONTEXT);
  try {
    return toHex(mac(key, new TextEncoder().encode(`glassdome/session_cache/v1\n${JSON.stringify(facts)}`)));
  } finally {
    wipe(key);
  }
}

function document(cache: SessionCache): Record<string, unknown> {
  if (!Number.isFinite(cache.createdAt) || !Number.isFinite(cache.expiresAt)) fail('internal', 'session times are not finite');
  return {
    vault_id: cache.vaultId,
    created_at: new Date(cache.createdAt).toISOString(),
    expires_at: new Date(cache.expiresAt).toISOString(),
    secret_count: cache.secretCount,
    mac: cache.mac,
  };
}
