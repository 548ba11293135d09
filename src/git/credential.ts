// The gitcredentials(7) side of `glassdome git-credential`: parsing git's `key=value` lines,
// naming the secret a credential lives in (git/<protocol>/<host>[/<path>]), and the stored
// value (`username=...` and `password=...` lines, the helper format itself). Pure.

import { fail } from '../errors.js';

/** The attributes git sends or reads back (others, like capability[], are ignored). */
export interface GitCredential {
  protocol?: string;
  host?: string;
  path?: string;
  username?: string;
  password?: string;
}

/** The prefix of every secret git-credential stores. */
export const GIT_SECRET_PREFIX = 'git/';

const KEYS = ['protocol', 'host', 'path', 'username', 'password'] as const;
const UNSAFE_NAME_CHARS = /[^A-Za-z0-9_.\-/]/g;
const MAX_NAME_LENGTH = 128;

/** Parses git's request: `key=value` lines up to a blank line or the end. */
export function parseCredential(text: string): GitCredential {
  const out: GitCredential = {};
  for (const line of text.split('\n')) {
    const clean = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (clean === '') break;
    const eq = clean.indexOf('=');
    if (eq <= 0) fail('bad_request', 'git sent a line that is not key=value', 'see gitcredentials(7)');
    const key = clean.slice(0, eq);
    if ((KEYS as readonly string[]).includes(key)) out[key as (typeof KEYS)[number]] = clean.slice(eq + 1);
  }
  return out;
}

/** The secret name for a credential: git/<protocol>/<host>[/<path>], unsafe characters as `_`. */
export function credentialSecretName(c: GitCredential): string {
  if (!c.protocol || !c.host) fail('bad_request', 'git sent no protocol or host', 'see gitcredentials(7)');
  const parts = [c.protocol, c.host, ...(c.path ? [c.path] : [])].map((p) => p.replace(UNSAFE_NAME_CHARS, '_'));
  const name = GIT_SECRET_PREFIX + parts.join('/');
  if (name.length > MAX_NAME_LENGTH) fail('bad_request', 'the credential’s host and path are too long for a secret name');
  return name;
}

/** The value stored for a credential: its username and password lines. */
export function storedValue(c: GitCredential): string {
  return `${c.username !== undefined ? `username=${c.username}\n` : ''}password=${c.password ?? ''}\n`;
}

/** Whether a stored credential answers a request (same username, when the request names one). */
export function answers(request: GitCredential, stored: GitCredential): boolean {
  return stored.password !== undefined && (request.username === undefined || request.username === stored.username);
}
