// `glassdome policy check [--exe P] [--uid N] [--cwd D] SECRET ACTION`: what the policy in force
// decides for a client described by the flags (default: this process as the agent would see it),
// and the rule, role or default that decided. The policy in force is the one sealed in the vault,
// asked of the agent or read through the keyring session; when the vault is locked, policy.yaml is
// evaluated instead and the output says so. Exit 0 for allow, 5 for deny.

import fs from 'node:fs';
import { connectAgent } from '../cli/session.js';
import { fail, GlassdomeError } from '../errors.js';
import { fileDigest } from '../os/identity.js';
import { userName } from '../policy/client.js';
import { decide } from '../policy/decide.js';
import { ACTIONS, parsePolicy, type Action } from '../policy/policy.js';
import { compareFile, describePolicy, policyInForce, type PolicyInForce } from '../policy/sealed.js';
import type { VaultPaths } from '../store/paths.js';
import { readPrivate } from '../store/secure-file.js';
import { loadVault } from '../store/vault-files.js';
import { checkName } from '../vault/names.js';
import { wipeMap } from '../vault/payload.js';
import { wipeKeys } from '../vault/vault.js';

/** What `policy check` was asked. */
export interface PolicyCheckOptions {
  secret: string;
  action: string;
  exe: string | undefined;
  uid: number | undefined;
  cwd: string | undefined;
  parent: string | undefined;
}

/** Prints the decision and which policy made it; returns 0 (allow) or 5 (deny). */
export async function policyCheckAction(options: PolicyCheckOptions, paths: VaultPaths): Promise<number> {
  if (!(ACTIONS as readonly string[]).includes(options.action)) fail('usage', `unknown action ${JSON.stringify(options.action)}`, `one of: ${ACTIONS.join(', ')}`);
  const action = options.action as Action;
  const secret = action === 'admin' && options.secret === '-' ? null : checkName(options.secret);
  const uid = options.uid ?? process.getuid?.() ?? 0;
  const exe = options.exe ?? fs.realpathSync(process.execPath);
  const client = {
    pid: 0,
    uid,
    user: userName(uid),
    exe,
    cwd: options.cwd ?? process.cwd(),
    parents: options.parent ? [options.parent] : [],
    exeSha256: () => fileDigest(exe),
  };
  const fileText = readPrivate(paths.policy)?.text ?? null;
  const sealed = await sealedPolicy(paths);
  let inForce: PolicyInForce;
  let note: string;
  if (sealed === undefined) {
    // Locked: the sealed policy cannot be read; evaluate the file, and say that is what was done.
    inForce = { source: 'unknown', sha256: null, policy: fileText === null ? null : parsePolicy(fileText), blocked: null };
    note = `policy: the vault is locked, so policy.yaml was evaluated${fileText === null ? ' (there is none)' : ''}; the agent enforces only the policy sealed into the vault`;
  } else {
    inForce = policyInForce(sealed, fileText);
    note = `policy: ${describePolicy(inForce, compareFile(inForce, fileText))}`;
  }
  const decision = inForce.blocked !== null ? { allow: false, by: 'no policy sealed' } : decide(inForce.policy, client, action, secret);
  process.stdout.write(`${decision.allow ? 'allow' : 'deny'} (${decision.by})\n${note}\n`);
  return decision.allow ? 0 : 5;
}

/** The policy text sealed in the vault (null: none), or undefined when the vault is locked. */
async function sealedPolicy(paths: VaultPaths): Promise<string | null | undefined> {
  const agent = await connectAgent(paths);
  if (agent) {
    try {
      const reply = await agent.request('policy_show');
      return typeof reply.text === 'string' ? reply.text : null;
    } catch (err) {
      if (err instanceof GlassdomeError && (err.code === 'locked' || err.code === 'expired')) return undefined;
      throw err;
    } finally {
      agent.close();
    }
  }
  try {
    const { resumeKeyringSession } = require('../keyring/session.js') as typeof import('../keyring/session.js');
    const session = resumeKeyringSession(paths);
    if (!session) return undefined;
    try {
      const { payload } = loadVault(paths, session.keys);
      wipeMap(payload.map);
      return payload.policy;
    } finally {
      wipeKeys(session.keys);
    }
  } catch (err) {
    if (err instanceof GlassdomeError && ['expired', 'keyring_unavailable', 'locked'].includes(err.code)) return undefined;
    throw err;
  }
}
