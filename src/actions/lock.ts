// `glassdome lock`: the agent forgets its key, and the fallback's keyring item and session cache
// are removed. Succeeds (exit 0) when there was nothing to lock.

import { connectAgent } from '../cli/session.js';
import { GlassdomeError } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { readMasterKeyText } from '../store/vault-text.js';
import { vaultIdOf } from '../vault/format.js';

/** Locks every session of the vault. */
export async function lockAction(paths: VaultPaths): Promise<void> {
  const done: string[] = [];
  const agent = await connectAgent(paths).catch((err: unknown) => {
    if (err instanceof GlassdomeError && err.code === 'wrong_vault') return null;
    throw err;
  });
  if (agent) {
    try {
      const pid = (await agent.hello()).pid;
      await agent.request('lock');
      done.push(`agent pid ${pid} dropped its key`);
    } finally {
      agent.close();
    }
  }
  const ids: string[] = [];
  try {
    ids.push(vaultIdOf(readMasterKeyText(paths)));
  } catch {
    // no readable vault: still remove whatever session cache there is
  }
  const { endSession } = require('../keyring/session.js') as typeof import('../keyring/session.js');
  const { readCache } = require('../keyring/session-cache.js') as typeof import('../keyring/session-cache.js');
  let cached: ReturnType<typeof readCache> = null;
  try {
    cached = readCache(paths);
  } catch {
    cached = 'malformed';
  }
  if (cached && cached !== 'malformed') ids.push(cached.vaultId);
  const ended = endSession(paths, ids);
  if (ended.item) done.push('keyring item removed');
  if (ended.cache) done.push('session cache removed');
  if (ended.item || ended.cache) {
    const { recordLocal } = require('../audit/local.js') as typeof import('../audit/local.js');
    await recordLocal(paths, { event_type: 'admin_action', action: 'lock', resource: null, result: 'success', reason: 'keyring session ended' });
  }
  process.stderr.write(`glassdome: ${done.length > 0 ? `locked (${done.join('; ')})` : 'nothing was unlocked'}\n`);
}
