// `glassdome backup -o FILE`: the sealed vault in one file (a `glassdome-backup` bundle,
// docs/VAULT-FORMAT.md §bundles): both vault files exactly as on disk, read under the vault lock
// so they are one version, with a format version and a checksum. No plaintext and no key: only
// the master password opens it. Written atomically with mode 0600; read back before success.

import fs from 'node:fs';
import path from 'node:path';
import { recordLocal } from '../audit/local.js';
import { fail } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { ioError, readPrivate, writePrivateAtomic } from '../store/secure-file.js';
import { snapshotVault } from '../store/vault-files.js';
import { MAX_BACKUP_BYTES, parseBundle, serializeBundle } from '../vault/bundle.js';

/** Writes a backup of the vault to `output`; refuses to replace a file unless `force`. */
export async function backupAction(options: { output: string; force: boolean }, paths: VaultPaths): Promise<void> {
  const output = path.resolve(options.output);
  const existing = lstatOrNull(output);
  if (existing && !existing.isFile()) {
    // --force renames a new file over the name: over /dev/full (as root), a fifo or a symbolic link, that would replace the node itself.
    fail('usage', `${output} is not a regular file`, 'glassdome backup -o writes a new file, or replaces one with --force: name a file');
  }
  if (!options.force && existing) {
    fail('exists', `${output} already exists`, 'choose another name, or replace it: glassdome backup --force -o FILE');
  }
  const bundle = await snapshotVault(paths);
  const text = serializeBundle(bundle);
  parseBundle(text, 'glassdome-backup', paths.home); // a vault whose files do not match is refused, not backed up
  if (Buffer.byteLength(text) > MAX_BACKUP_BYTES) fail('too_large', `the vault at ${paths.home} makes a backup over ${MAX_BACKUP_BYTES} bytes, more than restore reads`, 'copy master_key.enc and secrets.encrypted as they are instead');
  writePrivateAtomic(output, text);
  if (readPrivate(output)?.text !== text) fail('io', `${output} does not read back as written`, 'check the disk, then run glassdome backup again');
  await recordLocal(paths, { event_type: 'admin_action', action: 'backup', resource: null, result: 'success', reason: `to ${output}` });
  process.stderr.write(`glassdome: backed up vault ${bundle.vaultId} to ${output}\nglassdome: hint: it opens only with the master password of today; keep both safe, apart\n`);
}

function lstatOrNull(file: string): fs.Stats | null {
  try {
    return fs.lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError(err, `cannot read ${file}`);
  }
}
