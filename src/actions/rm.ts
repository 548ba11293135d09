// `glassdome rm NAME`: deletes one secret (exit 3 when there is none).

import { openStore } from '../cli/session.js';
import type { VaultPaths } from '../store/paths.js';
import { checkName } from '../vault/names.js';

/** Deletes one secret. */
export async function rmAction(options: { name: string }, paths: VaultPaths): Promise<void> {
  const name = checkName(options.name);
  const session = await openStore(paths);
  try {
    await session.store.rm(name);
  } finally {
    session.close();
  }
}
