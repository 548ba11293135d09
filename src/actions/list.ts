// `glassdome list`: the names, one a line and sorted; with --json an array of
// {name, created, updated} (ISO 8601 times).

import { openStore } from '../cli/session.js';
import { writeJson } from '../cli/render.js';
import type { VaultPaths } from '../store/paths.js';

/** Prints every secret name. */
export async function listAction(options: { json: boolean }, paths: VaultPaths): Promise<void> {
  const session = await openStore(paths);
  try {
    if (options.json) {
      const iso = (ms: number): string => new Date(ms).toISOString();
      writeJson((await session.store.infos()).map((e) => ({ name: e.name, created: iso(e.created), updated: iso(e.updated) })));
      return;
    }
    const names = await session.store.list();
    if (names.length > 0) process.stdout.write(`${names.join('\n')}\n`);
  } finally {
    session.close();
  }
}
