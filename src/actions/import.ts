// `glassdome import FORMAT SOURCE`: every entry of a .env file, a Bitwarden JSON export or a pass
// store, checked in full first (names, sizes, clashes with existing secrets), then stored in one
// vault write: all of them or none. --dry-run shows what would happen and writes nothing.

import { openStore } from '../cli/session.js';
import { fail } from '../errors.js';
import { MAX_BATCH_ENTRIES } from '../protocol/limits.js';
import type { VaultPaths } from '../store/paths.js';
import { checkBatch } from '../vault/store.js';
import { readImport, type ImportFormat } from './import-formats.js';

/** What `import` was asked. */
export interface ImportOptions {
  format: ImportFormat;
  source: string;
  dryRun: boolean;
  force: boolean;
}

/** How many names a clash message lists before "and N more". */
const NAMES_SHOWN = 5;

/** Imports a source; returns how many secrets were (or, dry, would be) stored. */
export async function importAction(options: ImportOptions, paths: VaultPaths): Promise<number> {
  const entries = readImport(options.format, options.source);
  try {
    if (entries.length === 0) fail('usage', `${options.source} holds no entries to import`);
    if (entries.length > MAX_BATCH_ENTRIES) fail('too_large', `${entries.length} entries; one import takes at most ${MAX_BATCH_ENTRIES}`);
    checkBatch(entries);
    const session = await openStore(paths);
    try {
      const existing = new Set(await session.store.list());
      const clashes = entries.filter((e) => existing.has(e.name)).map((e) => e.name);
      if (options.dryRun) {
        for (const e of entries) process.stdout.write(`${existing.has(e.name) ? (options.force ? 'replace' : 'clash  ') : 'new    '} ${e.name}\n`);
        process.stderr.write(`glassdome: dry run: ${entries.length} entries, ${clashes.length} already exist; nothing was stored\n`);
        return entries.length;
      }
      if (clashes.length > 0 && !options.force) {
        const shown = clashes.slice(0, NAMES_SHOWN).join(', ') + (clashes.length > NAMES_SHOWN ? ` and ${clashes.length - NAMES_SHOWN} more` : '');
        fail('exists', `${clashes.length} of the names exist already (${shown}); nothing was imported`, 'replace them with --force, or see the plan with --dry-run');
      }
      await session.store.setMany(entries);
    } finally {
      session.close();
    }
    process.stderr.write(`glassdome: imported ${entries.length} secrets from ${options.source}\n`);
    return entries.length;
  } finally {
    for (const e of entries) e.value.fill(0);
  }
}
