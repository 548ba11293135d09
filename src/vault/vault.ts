// The vault's cryptographic operations on file contents: create a vault, unseal and re-seal the
// master key, open and seal the secret map. Pure: takes and returns file text and bytes; the
// caller owns reading, writing and locking. The master key never leaves as text.

import { fail, GlassdomeError } from '../errors.js';
import {
  aeadOpen,
  aeadSeal,
  checksum,
  deriveSubkey,
  passwordKey,
  randomBytes,
  wipe,
} from './crypto.js';
import { DEFAULT_KDF, KEY_BYTES, NONCE_BYTES, SALT_BYTES } from './constants.js';
import {
  corrupt,
  FORMAT_VERSION,
  SECRETS_VERSION,
  masterKeyAd,
  masterKeyChecksumInput,
  parseMasterKeyFile,
  parseSecretsFile,
  secretsAd,
  serializeMasterKeyFile,
  serializeSecretsFile,
  toHex,
  type MasterKeyFile,
} from './format.js';
import { decodeVaultPayload, encodeVaultPayload, type SecretMap, type VaultPayload } from './payload.js';

/** The crypto_kdf context of every subkey glassdome derives from a master key. */
export const KDF_CONTEXT = 'glassdom';

/** Subkey ids under KDF_CONTEXT. */
export const SUBKEY = { secrets: 1, sessionCache: 2, audit: 3 } as const;

/** An unlocked vault's keys: what the agent holds and what opens secrets.encrypted. */
export interface VaultKeys {
  vaultId: string;
  masterKey: Uint8Array;
  secretsKey: Uint8Array;
  /** Subkey 3: MACs the audit log's lines (docs/AUDIT.md). */
  auditKey: Uint8Array;
}

/** A new vault: both file texts and the keys that open it. */
export interface NewVault {
  vaultId: string;
  masterKeyText: string;
  secretsText: string;
  keys: VaultKeys;
}

/** Argon2id cost for a new or re-wrapped master key. */
export type KdfCost = { opslimit: number; memlimit: number };

/** Creates a vault with a fresh random master key, sealed under `password`, holding no secrets. */
export async function createVault(password: Uint8Array, cost: KdfCost = DEFAULT_KDF): Promise<NewVault> {
  const vaultId = toHex(randomBytes(16));
  const masterKey = randomBytes(KEY_BYTES);
  const masterKeyText = await sealMasterKey(masterKey, vaultId, password, cost);
  const keys = keysFor(vaultId, masterKey);
  const secretsText = sealSecrets(keys, new Map());
  return { vaultId, masterKeyText, secretsText, keys };
}

/** Seals a master key under a password with a fresh salt and nonce: the text of master_key.enc. */
export async function sealMasterKey(masterKey: Uint8Array, vaultId: string, password: Uint8Array, cost: KdfCost = DEFAULT_KDF): Promise<string> {
  const kdf = { opslimit: cost.opslimit, memlimit: cost.memlimit, salt: randomBytes(SALT_BYTES) };
  const wrapKey = await passwordKey(password, kdf);
  try {
    const nonce = randomBytes(NONCE_BYTES);
    const header = { version: FORMAT_VERSION, vaultId, kdf };
    const sealedKey = aeadSeal(wrapKey, nonce, masterKey, masterKeyAd(header));
    const file = { ...header, nonce, sealedKey };
    return serializeMasterKeyFile(file, toHex(checksum(masterKeyChecksumInput(file))));
  } finally {
    wipe(wrapKey);
  }
}

/** Opens master_key.enc with a password. A wrong password is `bad_password`. */
export async function unsealMasterKey(masterKeyText: string, password: Uint8Array): Promise<VaultKeys> {
  const file = readMasterKeyFile(masterKeyText);
  const wrapKey = await passwordKey(password, file.kdf);
  try {
    const masterKey = aeadOpen(wrapKey, file.nonce, file.sealedKey, masterKeyAd(file), 'master_key.enc');
    return keysFor(file.vaultId, masterKey);
  } catch (err) {
    if (err instanceof GlassdomeError && err.code === 'tampered') {
      // The checksum held, so the file is intact: the password is what failed.
      fail('bad_password', 'wrong password', 'try again; the password is the one given to glassdome init or passwd');
    }
    throw err;
  } finally {
    wipe(wrapKey);
  }
}

/** Parses master_key.enc and verifies its checksum: damage is `corrupt`, never a "wrong password". */
export function readMasterKeyFile(masterKeyText: string): MasterKeyFile {
  const { file, checksum: recorded } = parseMasterKeyFile(masterKeyText);
  if (toHex(checksum(masterKeyChecksumInput(file))) !== recorded) corrupt('master_key.enc', 'checksum mismatch');
  return file;
}


/** Derives the keys of a vault from its master key (which the result then owns), into `secretsKey` and `auditKey` when given. */
export function keysFor(vaultId: string, masterKey: Uint8Array, secretsKey?: Uint8Array, auditKey?: Uint8Array): VaultKeys {
  return {
    vaultId,
    masterKey,
    secretsKey: deriveSubkey(masterKey, SUBKEY.secrets, KDF_CONTEXT, secretsKey),
    auditKey: deriveSubkey(masterKey, SUBKEY.audit, KDF_CONTEXT, auditKey),
  };
}

/** Seals a secret map with no sealed policy and no audit anchor: the text of secrets.encrypted. */
export function sealSecrets(keys: VaultKeys, map: SecretMap): string {
  return sealVault(keys, { map, policy: null, anchor: null });
}

/** Seals a whole payload (map, policy, anchor): the text of secrets.encrypted, under a fresh nonce. */
export function sealVault(keys: VaultKeys, payload: VaultPayload): string {
  const plaintext = encodeVaultPayload(payload);
  try {
    const header = { version: SECRETS_VERSION, vaultId: keys.vaultId };
    const nonce = randomBytes(NONCE_BYTES);
    const ciphertext = aeadSeal(keys.secretsKey, nonce, plaintext, secretsAd(header));
    return serializeSecretsFile({ ...header, nonce, ciphertext });
  } finally {
    wipe(plaintext);
  }
}

/** Opens secrets.encrypted's map. Another vault's file is `corrupt`; a modified one is `tampered`. */
export function openSecrets(keys: VaultKeys, secretsText: string): SecretMap {
  return openVault(keys, secretsText).map;
}

/** Opens secrets.encrypted: the map, the sealed policy and the audit anchor. */
export function openVault(keys: VaultKeys, secretsText: string): VaultPayload {
  const file = parseSecretsFile(secretsText);
  if (file.vaultId !== keys.vaultId) {
    fail('corrupt', 'secrets.encrypted belongs to another vault than master_key.enc', 'restore the matching pair of files from a backup');
  }
  const plaintext = aeadOpen(keys.secretsKey, file.nonce, file.ciphertext, secretsAd(file), 'secrets.encrypted');
  try {
    return decodeVaultPayload(plaintext, file.version);
  } finally {
    wipe(plaintext);
  }
}

/**
 * Re-seals secrets.encrypted under new keys (a rotation): the payload is decrypted with the old
 * keys and sealed again byte for byte, whatever it holds, under a fresh nonce.
 */
export function resealSecrets(oldKeys: VaultKeys, newKeys: VaultKeys, secretsText: string): string {
  const file = parseSecretsFile(secretsText);
  if (file.vaultId !== oldKeys.vaultId || newKeys.vaultId !== oldKeys.vaultId) {
    fail('corrupt', 'secrets.encrypted belongs to another vault than master_key.enc', 'restore the matching pair of files from a backup');
  }
  const plaintext = aeadOpen(oldKeys.secretsKey, file.nonce, file.ciphertext, secretsAd(file), 'secrets.encrypted');
  try {
    const nonce = randomBytes(NONCE_BYTES);
    const ciphertext = aeadSeal(newKeys.secretsKey, nonce, plaintext, secretsAd(file));
    return serializeSecretsFile({ version: file.version, vaultId: file.vaultId, nonce, ciphertext });
  } finally {
    wipe(plaintext);
  }
}

/** A fresh random master key for `vaultId` and the keys derived from it (a rotation's new keys). */
export function freshKeys(vaultId: string): VaultKeys {
  return keysFor(vaultId, randomBytes(KEY_BYTES));
}

/** Zeroes a vault's keys. */
export function wipeKeys(keys: VaultKeys | undefined): void {
  if (keys) wipe(keys.masterKey, keys.secretsKey, keys.auditKey);
}
