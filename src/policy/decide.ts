// The decision: may this client do this action on this secret? Rules first (in file order), then
// the client's roles, then the default. Every answer names what decided it. Pure.

import type { Client } from './client.js';
import type { Action, Matcher, Policy } from './policy.js';

/** An answer, and what gave it ("rule platform-access", "role agent", "default deny", ...). */
export interface Decision {
  allow: boolean;
  by: string;
}

/** Whether a local client matches a matcher (every field given must hold). */
export function matches(m: Matcher, c: Client): boolean {
  if (m.cn) return false; // certificate CNs identify remote clients only
  if (m.uid !== undefined && m.uid !== c.uid) return false;
  if (m.user && !(c.user !== null && m.user.test(c.user))) return false;
  if (m.exe && !(c.exe !== null && m.exe.test(c.exe))) return false;
  if (m.cwd && !(c.cwd !== null && m.cwd.test(c.cwd))) return false;
  if (m.parent && !parentMatches(m.parent, c.parents)) return false;
  if (m.exeSha256 && c.exeSha256?.() !== m.exeSha256) return false;
  return true;
}

/** `parent: GLOB`: some ancestor matches; `parent: "!GLOB"`: none does (the negated glob holds for every one). */
function parentMatches(glob: { source: string; test: (s: string) => boolean }, parents: string[]): boolean {
  return glob.source.startsWith('!') ? parents.every((p) => glob.test(p)) : parents.some((p) => glob.test(p));
}

/** Decides `action` on `secret` (null for admin actions) for `client`. */
export function decide(policy: Policy | null, client: Client, action: Action, secret: string | null): Decision {
  if (!policy) return { allow: true, by: 'no policy' };
  for (const rule of policy.rules) {
    if (!rule.actions.has(action)) continue;
    if (secret !== null && !rule.secrets.some((g) => g.test(secret))) continue;
    if (rule.clients.some((m) => matches(m, client))) return { allow: true, by: `rule ${rule.name}` };
  }
  for (const entry of policy.clientRoles) {
    if (!matches(entry.client, client)) continue;
    for (const role of entry.roles) {
      for (const p of role.permissions) {
        if (!p.actions.has(action)) continue;
        if (secret === null ? p.secrets === null : p.secrets !== null && p.secrets.test(secret)) return { allow: true, by: `role ${role.name}` };
      }
    }
  }
  return policy.defaultAllow ? { allow: true, by: 'default allow' } : { allow: false, by: 'default deny' };
}
