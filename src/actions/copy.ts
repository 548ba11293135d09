// `glassdome cp FROM TO` and `glassdome mv FROM TO`: a secret under a new name (the value never
// leaves the process but to the store). mv writes the copy first, then removes the old name, so
// a failure between the two leaves both, never neither. An existing TO needs --force.

import { openStore } from '../cli/session.js';
import { fail } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { checkName } from '../vault/names.js';
import { exists } from './generate.js';

/** What cp or mv was asked. */
export interface CopyOptions {
  from: string;
  to: string;
  force: boolean;
  move: boolean;
}

/** Copies (or moves) one secret to a new name. */
export async function copyAction(options: CopyOptions, paths: VaultPaths): Promise<void> {
  const from = checkName(options.from);
  const to = checkName(options.to);
  const verb = options.move ? 'mv' : 'cp';
  if (from === to) fail('usage', `${verb} needs two different names`);
  const session = await openStore(paths);
  try {
    const value = await session.store.get(from);
    try {
      if (!options.force && (await exists(session.store, to))) {
        fail('exists', `a secret named ${JSON.stringify(to)} exists`, `replace it: glassdome ${verb} --force ${from} ${to}`);
      }
      await session.store.set(to, value);
    } finally {
      value.fill(0);
    }
    if (options.move) await session.store.rm(from);
  } finally {
    session.close();
  }
}
