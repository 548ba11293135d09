// `glassdome list`: the names, one a line and sorted; with --json a JSON array of them.

import { openStore } from '../cli/session.js';
import { writeJson, writeOut } from '../cli/render.js';
import type { VaultPaths } from '../store/paths.js';

/** Prints every secret name. */
export async function listAction(options: { json: boolean }, paths: VaultPaths): Promise<void> {
  const session = await openStore(paths);
  let names: string[];
  try {
    names = await session.store.list();
  } finally {
    session.close();
  }
  if (options.json) writeJson(names);
  else if (names.length > 0) writeOut(`${names.join('\n')}\n`);
}
