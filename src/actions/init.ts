// `glassdome init`: a new vault in $GLASSDOME_HOME, its master password asked twice (or read from
// stdin with --password-stdin). Refuses to replace a vault unless --force; then the replaced
// vault's files and its audit log are kept in a replaced-* directory of the home, which it names,
// and its sessions end (the agent locks; the keyring session is removed).

import { prepareKdf } from '../cli/kdf.js';
import { endSessions } from '../cli/end-sessions.js';
import { connectAgent } from '../cli/session.js';
import { readPassword } from '../cli/password.js';
import type { VaultPaths } from '../store/paths.js';
import { createVaultFiles } from '../store/vault-files.js';
import { createVault, wipeKeys } from '../vault/vault.js';
import { fail } from '../errors.js';
import { recordLocal } from '../audit/local.js';
import { checkNotAFile, readPrivate } from '../store/secure-file.js';

/** Creates the vault. */
export async function initAction(options: { passwordStdin: boolean; force: boolean }, paths: VaultPaths): Promise<void> {
  checkNotAFile(paths.home);
  prepareKdf();
  const replacing = readPrivateQuiet(paths.masterKey);
  if (!options.force && replacing) {
    fail('exists', `a vault already exists at ${paths.home}`, 'keep it, or replace it (its files are kept aside): glassdome init --force');
  }
  const password = await readPassword({ stdin: options.passwordStdin, message: 'New master password', confirm: 'Repeat it' });
  let kept: string | null;
  let ended: string[] = [];
  try {
    const vault = await createVault(password);
    wipeKeys(vault.keys);
    if (replacing) ended = await endSessions(paths, 'the new password'); // before the swap: the old key must MAC nothing into the new log
    kept = await createVaultFiles(paths, vault, options.force);
  } finally {
    password.fill(0);
  }
  await recordLocal(paths, { event_type: 'admin_action', action: 'init', resource: null, result: 'success', reason: kept ? `new vault; the old vault files and audit log (those that existed) are kept in ${kept}` : 'new vault' });
  const next = (await agentAnswers(paths)) ? 'glassdome unlock' : 'eval "$(glassdome agent)"; glassdome unlock';
  const lines = [`created a vault at ${paths.home}`];
  if (kept) lines.push(`the old vault files and audit log (those that existed) are kept in ${kept}: remove it once nothing there is needed`);
  lines.push(...ended);
  process.stderr.write(`${lines.map((l) => `glassdome: ${l}\n`).join('')}glassdome: hint: next: ${next}\n`);
}

/** Whether an agent for this vault answers at GLASSDOME_AUTH_SOCK (then the hint skips starting one). */
async function agentAnswers(paths: VaultPaths): Promise<boolean> {
  try {
    const client = await connectAgent(paths);
    if (!client) return false;
    try {
      await client.hello();
      return true;
    } finally {
      client.close();
    }
  } catch {
    return false;
  }
}

function readPrivateQuiet(file: string): boolean {
  try {
    return readPrivate(file) !== null;
  } catch {
    return true;
  }
}
