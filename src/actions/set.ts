// `glassdome set NAME`: the value from stdin when it is not a terminal (one trailing newline
// stripped), else from a hidden prompt asked twice. Stored through the agent or the keyring session.

import { canPrompt, promptTwice, readStdin, stripOneNewline } from '../cli/password.js';
import { openStore } from '../cli/session.js';
import { fail } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { checkName, checkValueSize, MAX_VALUE_BYTES } from '../vault/names.js';

/** Stores one secret. */
export async function setAction(options: { name: string }, paths: VaultPaths): Promise<void> {
  const name = checkName(options.name);
  let value: Buffer;
  if (process.stdin.isTTY) {
    if (!canPrompt()) fail('usage', 'no terminal to ask for the value on', `pipe it in: printf %s VALUE | glassdome set ${name}`);
    value = await promptTwice(`Value for ${name}`, 'Repeat it');
  } else {
    value = stripOneNewline(readStdin(MAX_VALUE_BYTES + 2, 'the value'));
  }
  try {
    checkValueSize(value.length);
    if (value.length === 0) fail('empty_value', 'the value is empty; nothing was stored', `pipe it in: printf %s VALUE | glassdome set ${name}`);
    const session = await openStore(paths);
    try {
      await session.store.set(name, value);
    } finally {
      session.close();
    }
  } finally {
    value.fill(0);
  }
}
