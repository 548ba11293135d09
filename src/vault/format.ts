// Parsing and serializing the two vault files, master_key.enc and secrets.encrypted, exactly as
// docs/VAULT-FORMAT.md specifies. Pure: text in, typed records out. Parsers are strict: an
// unknown or missing field, a non-canonical base64 string, or a value out of range is `corrupt`;
// a well-formed file of another version is `unsupported_version`.

import { fail } from '../errors.js';
import { fromBase64, toBase64 } from './base64.js';
import { KDF_LIMITS, KEY_BYTES, NONCE_BYTES, SALT_BYTES, TAG_BYTES } from './constants.js';
import type { KdfParams } from './crypto.js';

/** The format version of master_key.enc this build reads and writes. */
export const FORMAT_VERSION = 1;

/** The format version of secrets.encrypted this build writes (2: the payload carries a sealed policy and the audit anchor). */
export const SECRETS_VERSION = 2;
/** The versions of secrets.encrypted this build reads (1: the map alone, from earlier releases). */
export const SECRETS_READABLE = [1, 2] as const;

/** The only KDF algorithm name: libsodium's crypto_pwhash_ALG_ARGON2ID13. */
export const KDF_ALG = 'argon2id13';

/** A vault id: 16 random bytes as 32 lowercase hex digits. */
export const VAULT_ID_PATTERN = /^[0-9a-f]{32}$/;

/** master_key.enc: the master key sealed under a password-derived key. */
export interface MasterKeyFile {
  version: number;
  vaultId: string;
  kdf: KdfParams;
  nonce: Uint8Array;
  sealedKey: Uint8Array;
}

/** secrets.encrypted: the whole secret map as one AEAD blob. */
export interface SecretsFile {
  version: number;
  vaultId: string;
  nonce: Uint8Array;
  ciphertext: Uint8Array;
}

const MASTER_FIELDS = ['version', 'vault_id', 'kdf', 'nonce', 'sealed_key', 'checksum'];
const KDF_FIELDS = ['alg', 'opslimit', 'memlimit', 'salt'];
const SECRETS_FIELDS = ['version', 'vault_id', 'nonce', 'ciphertext'];

/** The associated data of master_key.enc: a domain line, then the canonical header JSON. */
export function masterKeyAd(file: Pick<MasterKeyFile, 'version' | 'vaultId' | 'kdf'>): Uint8Array {
  const header = JSON.stringify({
    version: file.version,
    vault_id: file.vaultId,
    kdf: { alg: KDF_ALG, opslimit: file.kdf.opslimit, memlimit: file.kdf.memlimit, salt: toBase64(file.kdf.salt) },
  });
  return new TextEncoder().encode(`glassdome/master_key/v${file.version}\n${header}`);
}

/** The associated data of secrets.encrypted: a domain line, then the canonical header JSON. */
export function secretsAd(file: Pick<SecretsFile, 'version' | 'vaultId'>): Uint8Array {
  const header = JSON.stringify({ version: file.version, vault_id: file.vaultId });
  return new TextEncoder().encode(`glassdome/secrets/v${file.version}\n${header}`);
}

/** What the checksum of master_key.enc covers: its AD, nonce and sealed key, one per line. */
export function masterKeyChecksumInput(file: MasterKeyFile): Uint8Array {
  const text = `${new TextDecoder().decode(masterKeyAd(file))}\n${toBase64(file.nonce)}\n${toBase64(file.sealedKey)}`;
  return new TextEncoder().encode(text);
}

/** Serializes master_key.enc (pretty JSON, one trailing newline) with its checksum (hex). */
export function serializeMasterKeyFile(file: MasterKeyFile, checksum: string): string {
  const doc = {
    version: file.version,
    vault_id: file.vaultId,
    kdf: { alg: KDF_ALG, opslimit: file.kdf.opslimit, memlimit: file.kdf.memlimit, salt: toBase64(file.kdf.salt) },
    nonce: toBase64(file.nonce),
    sealed_key: toBase64(file.sealedKey),
    checksum,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Parses master_key.enc; throws `corrupt` or `unsupported_version`. Returns the recorded
 * checksum unchecked: verifying it needs a hash, which vault.ts applies before any unseal.
 */
export function parseMasterKeyFile(text: string): { file: MasterKeyFile; checksum: string } {
  const what = 'master_key.enc';
  const doc = parseObject(text, what);
  checkVersion(doc, what);
  checkFields(doc, MASTER_FIELDS, what);
  const kdfDoc = doc.kdf;
  if (!isPlainObject(kdfDoc)) return corrupt(what, 'kdf is not an object');
  checkFields(kdfDoc, KDF_FIELDS, what);
  if (kdfDoc.alg !== KDF_ALG) return corrupt(what, `unknown kdf ${JSON.stringify(kdfDoc.alg)}`);
  // Checked before any Argon2id runs: a cost beyond these bounds is refused, never paid.
  const opslimit = integerIn(kdfDoc.opslimit, KDF_LIMITS.opsMin, KDF_LIMITS.opsMax) ?? kdfCostRefused(what, 'opslimit', kdfDoc.opslimit, `${KDF_LIMITS.opsMin}..${KDF_LIMITS.opsMax}`);
  const memlimit = integerIn(kdfDoc.memlimit, KDF_LIMITS.memMin, KDF_LIMITS.memMax) ?? kdfCostRefused(what, 'memlimit', kdfDoc.memlimit, `${KDF_LIMITS.memMin}..${KDF_LIMITS.memMax} bytes (1 GiB)`);
  const file: MasterKeyFile = {
    version: FORMAT_VERSION,
    vaultId: vaultId(doc.vault_id, what),
    kdf: { opslimit, memlimit, salt: bytes(kdfDoc.salt, SALT_BYTES, what, 'salt') },
    nonce: bytes(doc.nonce, NONCE_BYTES, what, 'nonce'),
    sealedKey: bytes(doc.sealed_key, KEY_BYTES + TAG_BYTES, what, 'sealed_key'),
  };
  if (typeof doc.checksum !== 'string' || !/^[0-9a-f]{64}$/.test(doc.checksum)) corrupt(what, 'checksum is not 64 lowercase hex digits');
  return { file, checksum: doc.checksum as string };
}

/** The vault id recorded in master_key.enc (parsed strictly; the checksum is checked at unseal). */
export function vaultIdOf(masterKeyText: string): string {
  return parseMasterKeyFile(masterKeyText).file.vaultId;
}

/** Serializes secrets.encrypted (compact JSON, one trailing newline). */
export function serializeSecretsFile(file: SecretsFile): string {
  const doc = { version: file.version, vault_id: file.vaultId, nonce: toBase64(file.nonce), ciphertext: toBase64(file.ciphertext) };
  return `${JSON.stringify(doc)}\n`;
}

/** Parses secrets.encrypted; throws `corrupt` or `unsupported_version`. */
export function parseSecretsFile(text: string): SecretsFile {
  const what = 'secrets.encrypted';
  const doc = parseObject(text, what);
  checkVersion(doc, what, SECRETS_READABLE);
  checkFields(doc, SECRETS_FIELDS, what);
  const ciphertext = typeof doc.ciphertext === 'string' ? fromBase64(doc.ciphertext) : null;
  if (!ciphertext || ciphertext.length < TAG_BYTES) return corrupt(what, 'ciphertext is not valid base64 of at least 16 bytes');
  return {
    version: doc.version as number,
    vaultId: vaultId(doc.vault_id, what),
    nonce: bytes(doc.nonce, NONCE_BYTES, what, 'nonce'),
    ciphertext,
  };
}

/** Lowercase hex of bytes. */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

type Doc = Record<string, unknown>;

function parseObject(text: string, what: string): Doc {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return corrupt(what, text.length === 0 ? 'file is empty' : 'not valid JSON (truncated or damaged)');
  }
  if (!isPlainObject(doc)) return corrupt(what, 'not a JSON object');
  return doc;
}

function checkVersion(doc: Doc, what: string, readable: readonly number[] = [FORMAT_VERSION]): void {
  const v = doc.version;
  if (!Number.isSafeInteger(v)) corrupt(what, 'version is missing or not an integer');
  if (!readable.includes(v as number)) {
    fail('unsupported_version', `${what} is format version ${String(v)}; this glassdome reads version ${readable.join(' or ')}`, 'use the glassdome release that wrote this vault');
  }
}

function checkFields(doc: Doc, expected: string[], what: string): void {
  for (const key of Object.keys(doc)) if (!expected.includes(key)) corrupt(what, `unknown field ${JSON.stringify(key)}`);
  for (const key of expected) if (!(key in doc)) corrupt(what, `missing field ${JSON.stringify(key)}`);
}

function vaultId(value: unknown, what: string): string {
  if (typeof value === 'string' && VAULT_ID_PATTERN.test(value)) return value;
  return corrupt(what, 'vault_id is not 32 lowercase hex digits');
}

function bytes(value: unknown, length: number, what: string, field: string): Uint8Array {
  const decoded = typeof value === 'string' ? fromBase64(value) : null;
  if (!decoded || decoded.length !== length) return corrupt(what, `${field} is not canonical base64 of ${length} bytes`);
  return decoded;
}

function integerIn(value: unknown, min: number, max: number): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max ? value : null;
}

function isPlainObject(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `corrupt` error for a KDF cost outside KDF_LIMITS, naming the value and the bounds. */
function kdfCostRefused(what: string, field: string, value: unknown, range: string): never {
  const shown = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? 'nothing');
  return fail('corrupt', `${what} asks for an argon2id ${field} of ${shown}, outside the ${range} glassdome accepts: the file was damaged or edited, and nothing was computed`, 'restore it from a backup; glassdome left the file as it was');
}

/** Throws the `corrupt` error for a vault file. */
export function corrupt(what: string, why: string): never {
  return fail('corrupt', `${what} is corrupt: ${why}`, 'restore it from a backup; glassdome left the file as it was');
}
