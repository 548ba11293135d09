// `glassdome rotate`: a new random master key. The password opens master_key.enc here (the KDF
// runs in the CLI, never in the agent); a new key is sealed under the same password and KDF cost,
// checked by opening it again, and every secret is re-sealed under the new key's subkeys, both
// files committed as one crash-safe step (vault.journal, docs/VAULT-FORMAT.md). An unlocked agent
// does the commit itself and takes the new key inside the same locked step, so it never needs a
// second unlock; otherwise the CLI commits. An open keyring session moves to the new key too.

import { prepareKdf } from '../cli/kdf.js';
import { unsealKeepingPassword } from '../cli/unseal.js';
import { connectAgent } from '../cli/session.js';
import { recordLocal } from '../audit/local.js';
import type { AgentClient } from '../client/agent-client.js';
import { fail, GlassdomeError } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { rotateVault } from '../store/vault-files.js';
import { readMasterKeyText } from '../store/vault-text.js';
import { toBase64 } from '../vault/base64.js';
import { constantTimeEqual } from '../vault/crypto.js';
import { parseMasterKeyFile } from '../vault/format.js';
import { freshKeys, readMasterKeyFile, sealMasterKey, unsealMasterKey, wipeKeys, type VaultKeys } from '../vault/vault.js';

/** Rotates the master key; prints what moved to the new key. */
export async function rotateAction(options: { passwordStdin: boolean }, paths: VaultPaths): Promise<void> {
  prepareKdf();
  const text = readMasterKeyText(paths);
  const { kdf } = readMasterKeyFile(text);
  const replaces = parseMasterKeyFile(text).checksum;
  const agent = await connectAgent(paths).catch((err: unknown) => {
    if (err instanceof GlassdomeError && err.code === 'wrong_vault') return null; // serves another vault: not ours to move
    throw err;
  });
  let oldKeys: VaultKeys | undefined;
  let newKeys: VaultKeys | undefined;
  try {
    const opened = { stdin: options.passwordStdin, message: 'Master password', masterKeyText: text, onWrongPassword: () => recordLocal(paths, { event_type: 'auth_failure', action: 'rotate_key', resource: null, result: 'failure', reason: 'wrong password' }) };
    const change = await unsealKeepingPassword(paths, opened, async (keys, password) => {
      oldKeys = keys; // wiped below, whatever happens next
      const fresh = (newKeys = freshKeys(keys.vaultId));
      const masterKeyText = await sealMasterKey(fresh.masterKey, keys.vaultId, password, kdf);
      const check = await unsealMasterKey(masterKeyText, password);
      const same = constantTimeEqual(check.masterKey, fresh.masterKey);
      wipeKeys(check);
      if (!same) fail('internal', 'the new master_key.enc does not open to the new key; nothing was changed');
      return { oldKeys: keys, newKeys: fresh, masterKeyText, replaces };
    });
    const unlockedAgent = agent && (await agent.request('status')).state === 'unlocked' ? agent : null;
    const { rotateKeyringSession } = require('../keyring/session.js') as typeof import('../keyring/session.js');
    let agentSays = '';
    const keyring = await rotateKeyringSession(paths, change.oldKeys, change.newKeys, async () => {
      if (unlockedAgent) agentSays = await rotateThroughAgent(unlockedAgent, change);
      else await rotateVault(paths, change);
    });
    // MACed under the new key: audit verify checks MACs from the last rotate_key line that verifies under the key it holds.
    if (!unlockedAgent) await recordLocal(paths, { event_type: 'admin_action', action: 'rotate_key', resource: null, result: 'success', reason: 'new master key; every secret re-sealed' }, change.newKeys);
    const lines = ['master key rotated: every secret re-sealed under the new key'];
    if (unlockedAgent) lines.push(agentSays);
    else if (agent) lines.push('the agent is locked: unlock it with the same password as before');
    if (keyring === 'moved') lines.push('the keyring session moved to the new key');
    else if (keyring !== 'none') lines.push(`the keyring session ${keyring}: run glassdome unlock`);
    process.stderr.write(lines.map((l) => `glassdome: ${l}\n`).join(''));
  } finally {
    agent?.close();
    wipeKeys(oldKeys);
    wipeKeys(newKeys);
  }
}

async function rotateThroughAgent(agent: AgentClient, change: { oldKeys: VaultKeys; newKeys: VaultKeys; masterKeyText: string; replaces: string }): Promise<string> {
  const pid = await agent.verifyPeerUid();
  const reply = await agent.request('rotate', {
    old_key: toBase64(change.oldKeys.masterKey),
    key: toBase64(change.newKeys.masterKey),
    master_key: change.masterKeyText,
    replaces: change.replaces,
  });
  return `agent pid ${pid} holds the new key until ${String(reply.expires_at)} (${String(reply.secret_count)} secrets)`;
}
