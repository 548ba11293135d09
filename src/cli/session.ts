// Where a command finds the unlocked vault: glassdome serve when GLASSDOME_SERVER is set (and then
// only it), else the agent at GLASSDOME_AUTH_SOCK, then the OS keyring session of the fallback. A
// source with nothing to offer says so (null) and the next one is tried; a real failure (wrong
// vault, tampered file) stops the search.

import fs from 'node:fs';
import { AgentClient, type EarlyRequest } from '../client/agent-client.js';
import { GlassdomeError } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { checkVault, readMasterKeyText } from '../store/vault-text.js';
import { vaultIdOf } from '../vault/format.js';
import type { PrefetchedKey } from '../keyring/os-keyring.js';
import type { SecretStore } from '../vault/store.js';

/** Which source answered: the agent, the keyring session, a password typed for this one call, or glassdome serve. */
export type Mode = 'agent' | 'keyring' | 'password' | 'server';

/** An unlocked vault from some source. */
export interface OpenStore {
  store: SecretStore;
  mode: Mode;
  close(): void;
}

/**
 * The agent at GLASSDOME_AUTH_SOCK, or null when none is set or none answers there. With `early`,
 * its hello and those requests are sent at once (AgentClient.connect).
 */
export async function connectAgent(paths: VaultPaths, env: NodeJS.ProcessEnv = process.env, early?: readonly EarlyRequest[]): Promise<AgentClient | null> {
  const socketPath = env.GLASSDOME_AUTH_SOCK;
  if (!socketPath) return null;
  try {
    return await AgentClient.connect(socketPath, paths.home, early);
  } catch (err) {
    if (err instanceof GlassdomeError && err.code === 'no_agent') return null;
    throw err;
  }
}

/**
 * When a keyring session is open (its cache file exists), starts reading its key on a worker
 * thread: the Secret Service answers over D-Bus while the fallback's code loads here.
 */
function prefetchKeyringKey(paths: VaultPaths): Promise<PrefetchedKey | undefined> | undefined {
  if (!fs.existsSync(paths.cache)) return undefined;
  let vaultId: string;
  try {
    vaultId = vaultIdOf(readMasterKeyText(paths));
  } catch {
    return undefined; // the keyring session says why, in its own words
  }
  return (require('../keyring/os-keyring.js') as typeof import('../keyring/os-keyring.js')).prefetchMasterKey(vaultId);
}

/**
 * The unlocked vault, from the agent or the keyring session; `locked` (exit 4) when neither has it.
 * Everything up to the agent's connect runs in the call itself; `ask` also sends the agent its
 * hello and those requests then (AgentClient.connect's `early`).
 */
export async function openStore(paths: VaultPaths, env: NodeJS.ProcessEnv = process.env, ask?: readonly EarlyRequest[]): Promise<OpenStore> {
  if (env.GLASSDOME_SERVER) {
    const { RemoteClient } = require('../client/remote-client.js') as typeof import('../client/remote-client.js');
    const remote = RemoteClient.fromEnv(env);
    return { store: remote, mode: 'server', close: () => remote.close() };
  }
  checkVault(paths); // no vault, or an open directory: say so before asking any source
  const client = await connectAgent(paths, env, ask);
  if (client) return { store: client, mode: 'agent', close: () => client.close() };
  const early = prefetchKeyringKey(paths);
  const { openKeyringStore } = require('../keyring/session.js') as typeof import('../keyring/session.js');
  const keyring = await openKeyringStore(paths, early);
  if (keyring) return keyring;
  throw new GlassdomeError(
    'locked',
    env.GLASSDOME_AUTH_SOCK ? `no agent answers at ${env.GLASSDOME_AUTH_SOCK} and no keyring session is open` : 'no agent is running and no keyring session is open',
    'start an agent and unlock: eval "$(glassdome agent)"; glassdome unlock',
  );
}
