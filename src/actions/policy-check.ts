// `glassdome policy check [--exe P] [--uid N] [--cwd D] SECRET ACTION`: what policy.yaml decides
// for a client described by the flags (default: this process as the agent would see it), and the
// rule, role or default that decided. Exit 0 for allow, 5 for deny.

import fs from 'node:fs';
import { fail } from '../errors.js';
import { fileDigest } from '../os/identity.js';
import { userName } from '../policy/client.js';
import { decide } from '../policy/decide.js';
import { loadPolicy } from '../policy/load.js';
import { ACTIONS, type Action } from '../policy/policy.js';
import type { VaultPaths } from '../store/paths.js';
import { checkName } from '../vault/names.js';

/** What `policy check` was asked. */
export interface PolicyCheckOptions {
  secret: string;
  action: string;
  exe: string | undefined;
  uid: number | undefined;
  cwd: string | undefined;
  parent: string | undefined;
}

/** Prints the decision; returns 0 (allow) or 5 (deny). */
export function policyCheckAction(options: PolicyCheckOptions, paths: VaultPaths): number {
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
  const policy = loadPolicy(paths);
  const decision = decide(policy, client, action, secret);
  process.stdout.write(`${decision.allow ? 'allow' : 'deny'} (${decision.by})${policy ? '' : ': there is no policy.yaml'}\n`);
  return decision.allow ? 0 : 5;
}
