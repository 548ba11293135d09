// `glassdome passwd`: a new master password. Only master_key.enc changes (the master key is
// re-sealed under the new password with a fresh salt and the default KDF cost); secrets, the
// agent's key and any keyring session are untouched. With --password-stdin, stdin holds the old
// password on its first line and the new one on the second.

import { prepareKdf } from '../cli/kdf.js';
import { promptPassword, promptTwice, canPrompt, readStdin, stripOneNewline, MAX_PASSWORD_BYTES } from '../cli/password.js';
import { fail, GlassdomeError } from '../errors.js';
import { recordLocal } from '../audit/local.js';
import type { VaultPaths } from '../store/paths.js';
import { replaceMasterKeyText } from '../store/vault-files.js';
import { readMasterKeyText } from '../store/vault-text.js';
import { sealMasterKey, unsealMasterKey, wipeKeys } from '../vault/vault.js';
import { vaultIdOf } from '../vault/format.js';

/** Changes the master password. */
export async function passwdAction(options: { passwordStdin: boolean }, paths: VaultPaths): Promise<void> {
  prepareKdf();
  const text = readMasterKeyText(paths);
  const [oldPassword, newPassword] = await readBoth(options.passwordStdin);
  try {
    const keys = await unsealMasterKey(text, oldPassword).catch(async (err: unknown) => {
      if (err instanceof GlassdomeError && err.code === 'bad_password') {
        await recordLocal(paths, { event_type: 'auth_failure', action: 'passwd', resource: null, result: 'failure', reason: 'wrong current password' });
      }
      throw err;
    });
    try {
      const sealed = await sealMasterKey(keys.masterKey, keys.vaultId, newPassword);
      await replaceMasterKeyText(paths, keys.vaultId, sealed, () => vaultIdOf(readMasterKeyText(paths)));
    } finally {
      wipeKeys(keys);
    }
  } finally {
    oldPassword.fill(0);
    newPassword.fill(0);
  }
  await recordLocal(paths, { event_type: 'admin_action', action: 'passwd', resource: null, result: 'success' });
  process.stderr.write('glassdome: master password changed\n');
}

async function readBoth(fromStdin: boolean): Promise<[Buffer, Buffer]> {
  if (fromStdin) {
    const all = readStdin(2 * MAX_PASSWORD_BYTES + 4, 'the passwords');
    const nl = all.indexOf(10);
    if (nl < 0) fail('usage', 'stdin must hold the old password on one line and the new one on the next');
    const oldPassword = Buffer.from(stripOneNewline(all.subarray(0, nl + 1)));
    const newPassword = Buffer.from(stripOneNewline(all.subarray(nl + 1)));
    all.fill(0);
    if (oldPassword.length === 0 || newPassword.length === 0) fail('usage', 'stdin must hold the old password on one line and the new one on the next');
    return [oldPassword, newPassword];
  }
  if (!canPrompt()) fail('usage', 'no terminal to ask for the passwords on', 'pass them on stdin, old then new on two lines, with --password-stdin');
  const oldPassword = await promptPassword('Current master password');
  const newPassword = await promptTwice('New master password', 'Repeat it');
  return [oldPassword, newPassword];
}
