// The vault's records in etcd (docs/VAULT-FORMAT.md § etcd): one sealed record per secret under
// a keyed hash of its name, the sealed policy, and a small metadata record. Each record is sealed
// with a subkey of the master key before it leaves the process, its key path (relative to the
// store's prefix) and the vault id bound in as associated data, so etcd and its network see only
// ciphertext and a record moved to another key or vault fails authentication. Pure: no I/O.

import { fail } from '../errors.js';
import { aeadOpen, aeadSeal, deriveSubkey, mac, randomBytes, wipe } from './crypto.js';
import { NONCE_BYTES, TAG_BYTES } from './constants.js';
import { toHex } from './format.js';
import { decodePayload, encodePayload, type SecretEntry } from './payload.js';
import { KDF_CONTEXT, type VaultKeys } from './vault.js';

/** The version byte every record starts with. */
export const ETCD_RECORD_VERSION = 1;
/** The version of the metadata record. */
export const ETCD_META_VERSION = 1;
/** Subkey ids (context `glassdom`): 4 seals the records, 5 hashes secret names into keys. */
export const ETCD_SUBKEY = { records: 4, names: 5 } as const;
/** The key path, relative to the store's prefix, of the metadata record. */
export const META_PATH = 'vault/meta';
/** The key path of master_key.enc's text. */
export const MASTER_KEY_PATH = 'vault/master_key';
/** The key path of the sealed policy. */
export const POLICY_PATH = 'vault/policy';
/** The key path under which the secrets' records live (`vault/secrets/<id>`). */
export const SECRETS_PATH = 'vault/secrets/';
/** The prefix, relative to the store's, of everything the vault owns. */
export const VAULT_PATH = 'vault/';

const AD_LABEL = 'glassdome/etcd-record/v1';
const enc = new TextEncoder();

/** The keys an etcd vault uses, derived from the master key. */
export interface EtcdVaultKeys {
  vaultId: string;
  recordKey: Uint8Array;
  nameKey: Uint8Array;
}

/** The metadata record: which vault the prefix holds. */
export interface EtcdMeta {
  version: number;
  vaultId: string;
}

/** Derives the record and name subkeys of a vault's keys. */
export function etcdVaultKeys(keys: VaultKeys): EtcdVaultKeys {
  return { vaultId: keys.vaultId, recordKey: deriveSubkey(keys.masterKey, ETCD_SUBKEY.records, KDF_CONTEXT), nameKey: deriveSubkey(keys.masterKey, ETCD_SUBKEY.names, KDF_CONTEXT) };
}

/** Zeroes an etcd vault's subkeys. */
export function wipeEtcdVaultKeys(keys: EtcdVaultKeys | undefined): void {
  if (keys) wipe(keys.recordKey, keys.nameKey);
}

/** The key path of a secret's record: `vault/secrets/` + hex(BLAKE2b-256 keyed with subkey 5, of the name). */
export function secretPath(keys: EtcdVaultKeys, name: string): string {
  return SECRETS_PATH + toHex(mac(keys.nameKey, enc.encode(name)));
}

/** The associated data of a record: label, vault id and key path, one a line. */
function recordAd(vaultId: string, path: string): Uint8Array {
  return enc.encode(`${AD_LABEL}\n${vaultId}\n${path}`);
}

/** Seals bytes as the record at `path`: version byte, 24-byte nonce, ciphertext and tag. */
export function sealRecord(keys: EtcdVaultKeys, path: string, plaintext: Uint8Array, nonce: Uint8Array = randomBytes(NONCE_BYTES)): Uint8Array {
  const sealed = aeadSeal(keys.recordKey, nonce, plaintext, recordAd(keys.vaultId, path));
  const out = new Uint8Array(1 + NONCE_BYTES + sealed.length);
  out[0] = ETCD_RECORD_VERSION;
  out.set(nonce, 1);
  out.set(sealed, 1 + NONCE_BYTES);
  return out;
}

/** Opens the record at `path`: `unsupported_version`, `corrupt` (truncated) or `tampered`. */
export function openRecord(keys: EtcdVaultKeys, path: string, record: Uint8Array): Uint8Array {
  const what = `the etcd record ${path}`;
  if (record.length < 1 + NONCE_BYTES + TAG_BYTES) fail('corrupt', `${what} is truncated`);
  if (record[0] !== ETCD_RECORD_VERSION) fail('unsupported_version', `${what} has version ${record[0]}, this build reads ${ETCD_RECORD_VERSION}`);
  return aeadOpen(keys.recordKey, record.subarray(1, 1 + NONCE_BYTES), record.subarray(1 + NONCE_BYTES), recordAd(keys.vaultId, path), what);
}

/** A secret's record: its path and the sealed one-entry payload (name, times, value). */
export function sealSecretRecord(keys: EtcdVaultKeys, name: string, entry: SecretEntry, nonce?: Uint8Array): { path: string; record: Uint8Array } {
  const path = secretPath(keys, name);
  const plaintext = encodePayload(new Map([[name, entry]]));
  try {
    return { path, record: sealRecord(keys, path, plaintext, nonce) };
  } finally {
    wipe(plaintext);
  }
}

/** Opens a secret's record; `tampered` when it does not belong at `path`. The caller wipes the value. */
export function openSecretRecord(keys: EtcdVaultKeys, path: string, record: Uint8Array): { name: string; entry: SecretEntry } {
  const plaintext = openRecord(keys, path, record);
  try {
    const map = decodePayload(plaintext);
    const [only, ...rest] = [...map];
    if (!only || rest.length > 0) {
      for (const [, e] of map) e.value.fill(0);
      return fail('corrupt', `the etcd record ${path} does not hold exactly one secret`);
    }
    if (secretPath(keys, only[0]) !== path) {
      only[1].value.fill(0);
      return fail('tampered', `the etcd record ${path} holds a secret of another name`);
    }
    return { name: only[0], entry: only[1] };
  } finally {
    wipe(plaintext);
  }
}

/** The sealed policy record. */
export function sealPolicyRecord(keys: EtcdVaultKeys, text: string, nonce?: Uint8Array): Uint8Array {
  return sealRecord(keys, POLICY_PATH, enc.encode(text), nonce);
}

/** Opens the sealed policy record. */
export function openPolicyRecord(keys: EtcdVaultKeys, record: Uint8Array): string {
  const bytes = openRecord(keys, POLICY_PATH, record);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail('corrupt', `the etcd record ${POLICY_PATH} is not UTF-8`);
  } finally {
    wipe(bytes);
  }
}

/** The metadata record's bytes: compact JSON `{"version":1,"vault_id":"…"}`. */
export function encodeMeta(vaultId: string): Uint8Array {
  return enc.encode(JSON.stringify({ version: ETCD_META_VERSION, vault_id: vaultId }));
}

/** Parses the metadata record; `corrupt` or `unsupported_version` when it is not one this build reads. */
export function parseMeta(bytes: Uint8Array): EtcdMeta {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return fail('corrupt', `the etcd record ${META_PATH} is not JSON`);
  }
  const o = value as { version?: unknown; vault_id?: unknown };
  if (typeof o !== 'object' || o === null || typeof o.version !== 'number') return fail('corrupt', `the etcd record ${META_PATH} has no version`);
  if (o.version !== ETCD_META_VERSION) fail('unsupported_version', `the etcd record ${META_PATH} has version ${o.version}, this build reads ${ETCD_META_VERSION}`);
  if (typeof o.vault_id !== 'string' || !/^[0-9a-f]{32}$/.test(o.vault_id) || Object.keys(o).length !== 2) fail('corrupt', `the etcd record ${META_PATH} is malformed`);
  return { version: o.version, vaultId: o.vault_id };
}
