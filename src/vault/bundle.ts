// A sealed vault in one file: the exact text of master_key.enc and secrets.encrypted under a
// format name, a version and a checksum (docs/VAULT-FORMAT.md §bundles). Two kinds share it:
// `glassdome-backup` (what `backup` writes and `restore` reads) and `glassdome-rotation` (the
// rotation journal, whose rename is the commit point of a rotation or a restore). Pure. A bundle
// holds nothing the vault files do not: no plaintext, no key. Parsing is strict, and checks each
// file's own format and checksum, so that only the password (AEAD) is left to check.

import { fail } from '../errors.js';
import { checksum } from './crypto.js';
import { corrupt, parseSecretsFile, toHex, VAULT_ID_PATTERN } from './format.js';
import type { SecretMap } from './payload.js';
import { openSecrets, readMasterKeyFile, unsealMasterKey, wipeKeys, type VaultKeys } from './vault.js';

/** The kinds of bundle: a backup file, or the rotation journal. */
export type BundleKind = 'glassdome-backup' | 'glassdome-rotation';

/** The one bundle version this build reads and writes. */
export const BUNDLE_VERSION = 1;

/** The largest backup file `backup` writes and `restore` reads: far above any real vault, and under V8's longest string. */
export const MAX_BACKUP_BYTES = 256 * 1024 * 1024;

/** The vault files a bundle carries, in order: together they are the whole sealed vault. */
export const BUNDLE_FILES = ['master_key.enc', 'secrets.encrypted'] as const;

/** One of BUNDLE_FILES. */
export type BundleFile = (typeof BUNDLE_FILES)[number];

/** A parsed bundle: the vault files' exact text, checked for format and checksums. */
export interface Bundle {
  kind: BundleKind;
  vaultId: string;
  createdAt: string;
  files: Record<BundleFile, string>;
}

const FIELDS = ['format', 'version', 'vault_id', 'created_at', 'files', 'checksum'];
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Serializes a bundle (pretty JSON, one trailing newline) with its checksum. */
export function serializeBundle(bundle: Bundle): string {
  const doc = {
    format: bundle.kind,
    version: BUNDLE_VERSION,
    vault_id: bundle.vaultId,
    created_at: bundle.createdAt,
    files: Object.fromEntries(BUNDLE_FILES.map((name) => [name, bundle.files[name]])),
    checksum: bundleChecksum(bundle),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Parses a bundle of the given kind and checks, in order: JSON object, format, version, exact
 * fields, their types, the bundle checksum, then each file's own format and checksum and that all
 * name one vault. Damage is `corrupt`; another version is `unsupported_version`.
 */
export function parseBundle(text: string, kind: BundleKind, what: string): Bundle {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return corrupt(what, text.length === 0 ? 'file is empty' : 'not valid JSON (truncated or damaged)');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return corrupt(what, 'not a JSON object');
  const d = doc as Record<string, unknown>;
  if (d.format !== kind) return corrupt(what, `not a ${kind} file`);
  if (!Number.isSafeInteger(d.version)) return corrupt(what, 'version is missing or not an integer');
  if (d.version !== BUNDLE_VERSION) {
    fail('unsupported_version', `${what} is ${kind} version ${String(d.version)}; this glassdome reads version ${BUNDLE_VERSION}`, 'use the glassdome release that wrote it');
  }
  for (const key of Object.keys(d)) if (!FIELDS.includes(key)) corrupt(what, `unknown field ${JSON.stringify(key)}`);
  for (const key of FIELDS) if (!(key in d)) corrupt(what, `missing field ${JSON.stringify(key)}`);
  if (typeof d.vault_id !== 'string' || !VAULT_ID_PATTERN.test(d.vault_id)) corrupt(what, 'vault_id is not 32 lowercase hex digits');
  if (typeof d.created_at !== 'string' || !ISO_TIME.test(d.created_at)) corrupt(what, 'created_at is not an ISO 8601 time');
  const files = d.files;
  if (typeof files !== 'object' || files === null || Array.isArray(files)) return corrupt(what, 'files is not an object');
  const f = files as Record<string, unknown>;
  for (const key of Object.keys(f)) if (!(BUNDLE_FILES as readonly string[]).includes(key)) corrupt(what, `unknown file ${JSON.stringify(key)}`);
  for (const name of BUNDLE_FILES) if (typeof f[name] !== 'string') corrupt(what, `${name} is missing`);
  if (typeof d.checksum !== 'string' || !/^[0-9a-f]{64}$/.test(d.checksum)) corrupt(what, 'checksum is not 64 lowercase hex digits');
  const bundle: Bundle = { kind, vaultId: d.vault_id as string, createdAt: d.created_at as string, files: f as Record<BundleFile, string> };
  if (bundleChecksum(bundle) !== d.checksum) corrupt(what, 'checksum mismatch (damaged or edited)');
  const master = readMasterKeyFile(bundle.files['master_key.enc']);
  const secrets = parseSecretsFile(bundle.files['secrets.encrypted']);
  if (master.vaultId !== bundle.vaultId || secrets.vaultId !== bundle.vaultId) corrupt(what, 'its files belong to different vaults');
  return bundle;
}

/**
 * Opens a bundle with the password: its keys and secret map. A wrong password is `bad_password`;
 * a secrets file that fails authentication is `tampered`. The caller wipes both.
 */
export async function openBundle(bundle: Bundle, password: Uint8Array): Promise<{ keys: VaultKeys; map: SecretMap }> {
  const keys = await unsealMasterKey(bundle.files['master_key.enc'], password);
  try {
    return { keys, map: openSecrets(keys, bundle.files['secrets.encrypted']) };
  } catch (err) {
    wipeKeys(keys);
    throw err;
  }
}

/** hex(BLAKE2b-256) of the domain line and the canonical JSON array of every other field. */
function bundleChecksum(bundle: Bundle): string {
  const fields = [bundle.kind, BUNDLE_VERSION, bundle.vaultId, bundle.createdAt, ...BUNDLE_FILES.map((name) => bundle.files[name])];
  return toHex(checksum(new TextEncoder().encode(`glassdome/bundle/v${BUNDLE_VERSION}\n${JSON.stringify(fields)}`)));
}
