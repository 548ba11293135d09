// Ending the sessions of a vault that is being replaced (restore, init --force): the agent at
// GLASSDOME_AUTH_SOCK is told to lock, so it wipes the old key (and MACs no audit line under it
// into the new vault's log), and the keyring session of the fallback is removed.

import { GlassdomeError } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { connectAgent } from './session.js';

/** Locks the agent and ends the keyring session; returns what it did, one line each, naming `password` for the next unlock. */
export async function endSessions(paths: VaultPaths, password: string): Promise<string[]> {
  const said: string[] = [];
  const agent = await connectAgent(paths).catch((err: unknown) => {
    if (err instanceof GlassdomeError && (err.code === 'wrong_vault' || err.code === 'no_agent')) return null;
    throw err;
  });
  if (agent) {
    try {
      const { pid } = await agent.hello();
      await agent.request('lock'); // whatever it held was the replaced vault's key
      said.push(`agent pid ${pid} was locked: unlock it with ${password}`);
    } finally {
      agent.close();
    }
  }
  const { endSession } = require('../keyring/session.js') as typeof import('../keyring/session.js');
  const { readCache } = require('../keyring/session-cache.js') as typeof import('../keyring/session-cache.js');
  const cache = readCache(paths);
  if (cache !== null) {
    endSession(paths, cache === 'malformed' ? [] : [cache.vaultId]);
    said.push('the keyring session ended: run glassdome unlock');
  }
  return said;
}
