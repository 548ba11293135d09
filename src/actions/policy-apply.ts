// `glassdome policy apply [FILE] [--password-stdin]`: seals a policy (default: policy.yaml) into
// the vault, the only way to change the one in force. Through the running agent it is an admin
// action under the policy in force; with the master password (--password-stdin, or a prompt when
// no agent runs) the CLI writes the vault itself and a running agent picks it up at its next
// request. The file is validated first: a bad one changes nothing.

import fs from 'node:fs';
import { localWriteHooks, recordLocal } from '../audit/local.js';
import { canPrompt } from '../cli/password.js';
import { unsealWithPassword } from '../cli/unseal.js';
import { connectAgent } from '../cli/session.js';
import { fail, GlassdomeError } from '../errors.js';
import { parsePolicy } from '../policy/policy.js';
import { policyDigest } from '../policy/sealed.js';
import type { VaultPaths } from '../store/paths.js';
import { readPrivate } from '../store/secure-file.js';
import { updateVault } from '../store/vault-files.js';
import { MAX_POLICY_BYTES } from '../vault/payload.js';
import { wipeKeys } from '../vault/vault.js';

/** What `policy apply` was asked. */
export interface PolicyApplyOptions {
  file: string | undefined;
  passwordStdin: boolean;
}

/** Validates the policy file and seals it into the vault. */
export async function policyApplyAction(options: PolicyApplyOptions, paths: VaultPaths): Promise<void> {
  const text = readPolicyFile(options.file ?? paths.policy);
  parsePolicy(text); // policy_invalid, naming the line: nothing is sealed
  const sha256 = policyDigest(text);
  if (!options.passwordStdin) {
    const agent = await connectAgent(paths);
    if (agent) {
      try {
        await agent.verifyPeerUid();
        await agent.request('policy_apply', { text });
      } catch (err) {
        if (err instanceof GlassdomeError && err.code === 'denied') throw new GlassdomeError('denied', err.message, 'seal it with the master password instead: glassdome policy apply --password-stdin');
        throw err;
      } finally {
        agent.close();
      }
      process.stderr.write(`glassdome: policy sealed into the vault through the agent (sha256 ${sha256})\n`);
      return;
    }
    if (!canPrompt()) fail('usage', 'no agent is running, and sealing a policy without one needs the master password', 'pass it on stdin with --password-stdin');
  }
  await applyWithPassword(paths, text, sha256, options.passwordStdin);
  process.stderr.write(`glassdome: policy sealed into the vault (sha256 ${sha256}); a running agent enforces it from its next request\n`);
}

async function applyWithPassword(paths: VaultPaths, text: string, sha256: string, passwordStdin: boolean): Promise<void> {
  const keys = await unsealWithPassword(paths, {
    stdin: passwordStdin,
    message: 'Master password',
    onWrongPassword: () => recordLocal(paths, { event_type: 'auth_failure', action: 'policy_apply', resource: null, result: 'failure', reason: 'wrong password' }),
  });
  try {
    await updateVault(
      paths,
      keys,
      (payload) => {
        payload.policy = text;
      },
      localWriteHooks(paths, keys),
    );
    await recordLocal(paths, { event_type: 'admin_action', action: 'policy_apply', resource: 'policy', result: 'success', reason: `sha256 ${sha256} (with the master password)` }, keys);
  } finally {
    wipeKeys(keys);
  }
}

function readPolicyFile(file: string): string {
  let text: string | undefined;
  try {
    text = readPrivate(file)?.text;
  } catch (err) {
    if (!(err instanceof GlassdomeError) || err.code !== 'insecure_file') throw err;
    // A file elsewhere may be readable by others: it is only read, never trusted as is.
    text = fs.readFileSync(file, 'utf8');
  }
  if (text === undefined) fail('not_found', `no policy file at ${file}`, 'write one (see docs/POLICY.md), then: glassdome policy apply');
  if (Buffer.byteLength(text, 'utf8') > MAX_POLICY_BYTES) fail('too_large', `${file} is over the limit of ${MAX_POLICY_BYTES} bytes`);
  return text;
}
