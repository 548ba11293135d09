// `glassdome git-credential get|store|erase`: a git credential helper (gitcredentials(7)), used as
// `git config credential.helper '!glassdome git-credential'`. get prints the stored username and
// password (nothing when there is none, so git asks the next helper or the user); store keeps
// what git approved; erase drops what git rejected. The password goes only to git's pipe.

import fs from 'node:fs';
import { readStdin } from '../cli/password.js';
import { openStore } from '../cli/session.js';
import { fail, GlassdomeError } from '../errors.js';
import { answers, credentialSecretName, parseCredential, storedValue } from '../git/credential.js';
import type { VaultPaths } from '../store/paths.js';
import type { SecretStore } from '../vault/store.js';

/** The operations git calls a helper with. */
export const GIT_OPERATIONS = ['get', 'store', 'erase'] as const;

/** The largest request git-credential reads from git, in bytes. */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** Runs one helper operation on git's request from stdin. */
export async function gitCredentialAction(operation: string, paths: VaultPaths): Promise<void> {
  if (!(GIT_OPERATIONS as readonly string[]).includes(operation)) return;
  const raw = readStdin(MAX_REQUEST_BYTES, 'the request');
  const request = parseCredential(raw.toString('utf8'));
  raw.fill(0);
  const name = credentialSecretName(request);
  const session = await openStore(paths);
  try {
    const stored = await lookup(session.store, name);
    if (operation === 'get') {
      if (stored && answers(request, stored)) fs.writeSync(1, storedValue(stored));
    } else if (operation === 'store') {
      if (request.password === undefined) fail('bad_request', 'git sent no password to store');
      await session.store.set(name, Buffer.from(storedValue(request), 'utf8'));
    } else if (stored && (request.username === undefined || request.username === stored.username)) {
      await session.store.rm(name);
    }
  } finally {
    session.close();
  }
}

/** The credential stored under `name`, or null when there is none. */
async function lookup(store: SecretStore, name: string): Promise<ReturnType<typeof parseCredential> | null> {
  let value: Uint8Array;
  try {
    value = await store.get(name);
  } catch (err) {
    if (err instanceof GlassdomeError && err.code === 'not_found') return null;
    throw err;
  }
  const text = Buffer.from(value).toString('utf8');
  value.fill(0);
  return parseCredential(text);
}
