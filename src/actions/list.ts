// `glassdome list`: the names, one a line and sorted; with --json an array of
// {name, created, updated} (ISO 8601 times).

import { openStore } from '../cli/session.js';
import { writeJson, writeOut } from '../cli/render.js';
import type { VaultPaths } from '../store/paths.js';
import type { SecretInfo } from '../vault/store.js';

/** Prints every secret name. */
export async function listAction(options: { json: boolean }, paths: VaultPaths): Promise<void> {
  const session = await openStore(paths);
  let names: string[];
  let infos: SecretInfo[] | undefined;
  try {
    if (options.json) infos = await session.store.infos();
    names = infos ? infos.map((e) => e.name) : await session.store.list();
  } finally {
    session.close();
  }
  const iso = (ms: number): string => new Date(ms).toISOString();
  if (infos) writeJson(infos.map((e) => ({ name: e.name, created: iso(e.created), updated: iso(e.updated) })));
  else if (names.length > 0) writeOut(`${names.join('\n')}\n`);
}
