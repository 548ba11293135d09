// `glassdome get NAME`: the value on stdout, then a newline unless -n; with --json an object
// with the value as text (or as base64 when it is not UTF-8). On the hot path: no framework.

import { openStore } from '../cli/session.js';
import { writeJson, writeOut } from '../cli/render.js';
import type { VaultPaths } from '../store/paths.js';
import { checkName } from '../vault/names.js';

/** What `get` was asked. */
export interface GetOptions {
  name: string;
  noNewline: boolean;
  json: boolean;
}

/** Prints one secret. */
export async function getAction(options: GetOptions, paths: VaultPaths): Promise<void> {
  const name = checkName(options.name);
  const session = await openStore(paths);
  let value: Uint8Array;
  try {
    value = await session.store.get(name);
  } finally {
    session.close();
  }
  const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  try {
    if (options.json) {
      const text = bytes.toString('utf8');
      const isText = Buffer.from(text, 'utf8').equals(bytes);
      writeJson(isText ? { name, value: text } : { name, value_base64: bytes.toString('base64') });
    } else {
      writeOut(bytes);
      if (!options.noNewline) writeOut('\n');
    }
  } finally {
    bytes.fill(0);
  }
}
