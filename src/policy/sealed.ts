// Which policy is in force. The one that counts is the text sealed into the vault by
// `glassdome policy apply` (docs/POLICY.md): the processes a policy restricts run as the user and
// could rewrite policy.yaml, so the file is only the editable copy, compared with the sealed text
// and never enforced. A vault with nothing sealed and no policy.yaml has no policy (every
// same-uid client may do everything, as before policies existed); one with a policy.yaml but
// nothing sealed refuses every secret until the policy is applied (fail closed). No I/O here.

import type { Policy } from './policy.js';

/** Where the policy in force comes from. */
export type PolicySource = 'sealed' | 'none' | 'unsealed' | 'unknown';

/** How policy.yaml compares with the sealed text. */
export type FileState = 'same' | 'differs' | 'absent' | 'present';

/** The policy in force and what it came from. */
export interface PolicyInForce {
  /** sealed: applied with the key; none: nothing sealed, no file; unsealed: a file but nothing sealed; unknown: locked since start. */
  source: PolicySource;
  /** SHA-256 (hex) of the sealed text; null when nothing is sealed or it is not known yet. */
  sha256: string | null;
  /** The compiled policy; null means every same-uid client may do everything. */
  policy: Policy | null;
  /** Why every request is refused (an unsealed or unreadable policy), or null. */
  blocked: string | null;
}

/** The hint of every refusal that `policy apply` fixes. */
export const APPLY_HINT = 'seal it into the vault: glassdome policy apply (with the master password: --password-stdin)';

/** SHA-256 of a policy text, in hex. */
export function policyDigest(text: string): string {
  const crypto = require('node:crypto') as typeof import('node:crypto'); // it loads node:stream: not on status's hot path
  return crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Which policy is in force, without compiling it: its source and digest (for status). */
export function policySummary(sealed: string | null, fileText: string | null): Pick<PolicyInForce, 'source' | 'sha256'> {
  if (sealed !== null) return { source: 'sealed', sha256: policyDigest(sealed) };
  return { source: fileText === null ? 'none' : 'unsealed', sha256: null };
}

/** Before any unlock the agent cannot know what is sealed: nothing keyed is served then anyway. */
export const UNKNOWN_POLICY: PolicyInForce = { source: 'unknown', sha256: null, policy: null, blocked: null };

/**
 * The policy in force given the sealed text (null: none) and policy.yaml's text (null: absent;
 * only consulted when nothing is sealed).
 */
export function policyInForce(sealed: string | null, fileText: string | null): PolicyInForce {
  const { emptyPolicy, parsePolicy } = require('./policy.js') as typeof import('./policy.js'); // yaml costs ~40 ms to load
  if (sealed !== null) {
    try {
      return { source: 'sealed', sha256: policyDigest(sealed), policy: parsePolicy(sealed), blocked: null };
    } catch (err) {
      // A sealed text always parsed when it was applied; a later release may read it differently.
      return { source: 'sealed', sha256: policyDigest(sealed), policy: emptyPolicy(), blocked: `the sealed policy no longer parses (${(err as Error).message}): every request is refused` };
    }
  }
  if (fileText === null) return { source: 'none', sha256: null, policy: null, blocked: null };
  return {
    source: 'unsealed',
    sha256: null,
    policy: emptyPolicy(),
    blocked: 'policy.yaml exists but no policy is sealed into the vault: every secret is refused until it is applied',
  };
}

/** How policy.yaml's text (null: absent) compares with the policy in force. */
export function compareFile(inForce: Pick<PolicyInForce, 'sha256'>, fileText: string | null): FileState {
  if (fileText === null) return 'absent';
  if (inForce.sha256 === null) return 'present';
  return policyDigest(fileText) === inForce.sha256 ? 'same' : 'differs';
}

/** One line saying which policy is in force and how the file compares, for logs, status and policy check. */
export function describePolicy(inForce: Pick<PolicyInForce, 'source' | 'sha256'>, file: FileState): string {
  const fileNote = { same: 'policy.yaml is the same', differs: 'policy.yaml differs from it and is not in force', absent: 'there is no policy.yaml', present: 'policy.yaml is not in force' }[file];
  switch (inForce.source) {
    case 'sealed':
      return `sealed in the vault, sha256 ${inForce.sha256} (${fileNote})`;
    case 'none':
      return `none sealed and no policy.yaml: every same-uid client may do everything`;
    case 'unsealed':
      return `none sealed: policy.yaml is not applied, so every secret is refused`;
    case 'unknown':
      return `not known while the agent has not been unlocked (${fileNote})`;
  }
}
