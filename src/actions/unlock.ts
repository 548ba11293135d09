// `glassdome unlock`: the password opens master_key.enc here, in the CLI (Argon2id never runs in
// the agent), and the master key goes to the agent when one answers, else into the OS keyring
// with an 8-hour session cache. The agent's identity is checked before the key is sent.

import { prepareKdf } from '../cli/kdf.js';
import { AgentClient } from '../client/agent-client.js';
import { connectAgent } from '../cli/session.js';
import { unsealWithPassword } from '../cli/unseal.js';
import { fail, GlassdomeError } from '../errors.js';
import { recordLocal } from '../audit/local.js';
import type { VaultPaths } from '../store/paths.js';
import { LocalStore } from '../store/local-store.js';
import { readMasterKeyText } from '../store/vault-text.js';
import { toBase64 } from '../vault/base64.js';
import { wipeKeys, type VaultKeys } from '../vault/vault.js';
import { DEFAULT_LIFETIME_MS } from '../cli/duration.js';

/** Unlocks the vault for `lifetimeS` seconds (default: the agent's, or 8 h for the keyring). */
export async function unlockAction(options: { passwordStdin: boolean; lifetimeS: number | undefined; idleS?: number | undefined }, paths: VaultPaths): Promise<void> {
  prepareKdf();
  const masterKeyText = readMasterKeyText(paths);
  const agent = await connectAgent(paths);
  if (!agent && options.idleS !== undefined) {
    fail('usage', '--idle needs an agent: the keyring session cannot see when the key was last used', 'start one: eval "$(glassdome agent)"');
  }
  if (!agent) await checkKeyringUsable();
  let keys: VaultKeys | undefined;
  try {
    keys = await unsealWithPassword(paths, { stdin: options.passwordStdin, message: 'Master password', masterKeyText, onWrongPassword: () => reportFailure(paths, agent) });
    const until = agent ? await unlockAgent(agent, keys, options.lifetimeS, paths, options.idleS) : await unlockKeyring(paths, keys, options.lifetimeS);
    process.stderr.write(`glassdome: unlocked until ${until}\n`);
  } finally {
    agent?.close();
    wipeKeys(keys);
  }
}

/**
 * Hands the key to the agent. The key is the vault's own (the password unsealed it from an
 * authenticated master_key.enc), so when the agent finds it does not open secrets.encrypted, the
 * file is what is wrong: `tampered` (exit 6), and nothing was written.
 */
async function unlockAgent(agent: AgentClient, keys: VaultKeys, lifetimeS: number | undefined, paths: VaultPaths, idleS?: number): Promise<string> {
  const pid = agent.peer.pid;
  let reply: Record<string, unknown>;
  try {
    reply = await agent.request('unlock', { key: toBase64(keys.masterKey), ...(lifetimeS ? { lifetime: lifetimeS } : {}), ...(idleS ? { idle: idleS } : {}) });
  } catch (err) {
    if (err instanceof GlassdomeError && err.code === 'bad_key') {
      throw new GlassdomeError('tampered', `${paths.secrets} is damaged or was tampered with: the password is right, but the vault's own key does not open it`, 'restore it from a backup; glassdome left the file as it was');
    }
    throw err;
  }
  const idle = typeof reply.idle_s === 'number' ? `, or after ${reply.idle_s} s without a request` : '';
  return `${String(reply.expires_at)}${idle} (agent pid ${pid}, ${String(reply.secret_count)} secrets)`;
}

async function unlockKeyring(paths: VaultPaths, keys: VaultKeys, lifetimeS: number | undefined): Promise<string> {
  const { openKeyringSession } = require('../keyring/session.js') as typeof import('../keyring/session.js');
  const count = (await new LocalStore(paths, keys).list()).length;
  const cache = openKeyringSession(paths, keys, lifetimeS ? lifetimeS * 1000 : DEFAULT_LIFETIME_MS, count);
  const until = new Date(cache.expiresAt).toISOString();
  await recordLocal(paths, { event_type: 'auth_success', action: 'unlock', resource: null, result: 'success', reason: `keyring session until ${until}` }, keys);
  return `${until} (OS keyring session, ${count} secrets)`;
}

/**
 * A wrong password: the agent, when one runs, counts and audits it (and answers rate_limited once
 * there were too many); without one, the CLI audits it itself.
 */
async function reportFailure(paths: VaultPaths, agent: AgentClient | null): Promise<void> {
  if (agent) {
    try {
      await agent.request('unlock', { failed: 'bad_password' });
    } catch (err) {
      if (err instanceof GlassdomeError && err.code === 'rate_limited') throw err;
    }
    return;
  }
  await recordLocal(paths, { event_type: 'auth_failure', action: 'unlock', resource: null, result: 'failure', reason: 'wrong password' });
}

/** Without an agent, unlock needs a keyring that can store the key: find out before asking the password. */
async function checkKeyringUsable(): Promise<void> {
  const { probe } = require('../keyring/os-keyring.js') as typeof import('../keyring/os-keyring.js');
  try {
    probe();
  } catch (err) {
    if (err instanceof GlassdomeError && err.code === 'keyring_unavailable') {
      throw new GlassdomeError('no_keyholder', `no agent is running and ${err.message}`, 'start an agent: eval "$(glassdome agent)"');
    }
    throw err;
  }
}
