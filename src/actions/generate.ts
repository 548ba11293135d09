// `glassdome generate NAME`: a new random value from the CSPRNG, stored without being shown
// (printed only with --print). Each character is drawn uniformly from the set: random bytes
// beyond the largest multiple of the set's size are thrown away (no modulo bias).

import crypto from 'node:crypto';
import { writeOut } from '../cli/render.js';
import { openStore } from '../cli/session.js';
import { fail, GlassdomeError } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { checkName } from '../vault/names.js';

/** The default length of a generated value, in characters. */
export const DEFAULT_GENERATE_LENGTH = 32;
/** The longest value generate makes, in characters. */
export const MAX_GENERATE_LENGTH = 4096;
/** The default character set: letters and digits. */
export const DEFAULT_CHARS = 'A-Za-z0-9';

/** What `generate` was asked. */
export interface GenerateOptions {
  name: string;
  length: number;
  chars: string;
  print: boolean;
  force: boolean;
}

/** Expands a set like "A-Za-z0-9_-" into its distinct printable ASCII characters. */
export function expandChars(spec: string): string {
  const out = new Set<string>();
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i]!;
    if (spec[i + 1] === '-' && i + 2 < spec.length) {
      const to = spec.charCodeAt(i + 2);
      if (to < c.charCodeAt(0)) fail('usage', `the range ${c}-${spec[i + 2]} in --chars runs backwards`);
      for (let code = c.charCodeAt(0); code <= to; code++) out.add(String.fromCharCode(code));
      i += 2;
    } else {
      out.add(c);
    }
  }
  const chars = [...out].join('');
  if (!/^[\x21-\x7e]+$/.test(chars)) fail('usage', '--chars takes printable ASCII characters (no spaces), ranges like a-z allowed');
  if (chars.length < 2) fail('usage', '--chars needs at least two different characters');
  return chars;
}

/** `length` characters drawn uniformly from `chars` (at most 94), as bytes the caller wipes. */
export function randomChars(length: number, chars: string): Uint8Array {
  const out = new Uint8Array(length);
  const limit = 256 - (256 % chars.length); // bytes >= limit would favour the first characters
  let filled = 0;
  while (filled < length) {
    const pool = crypto.randomBytes(length * 2);
    for (let i = 0; i < pool.length && filled < length; i++) {
      if (pool[i]! < limit) out[filled++] = chars.charCodeAt(pool[i]! % chars.length);
    }
    pool.fill(0);
  }
  return out;
}

/** Generates and stores a value; prints it only when asked. */
export async function generateAction(options: GenerateOptions, paths: VaultPaths): Promise<void> {
  const name = checkName(options.name);
  if (!Number.isSafeInteger(options.length) || options.length < 1 || options.length > MAX_GENERATE_LENGTH) {
    fail('usage', `--length must be 1 to ${MAX_GENERATE_LENGTH}`);
  }
  const chars = expandChars(options.chars);
  const value = randomChars(options.length, chars);
  const session = await openStore(paths);
  try {
    if (!options.force && (await exists(session.store, name))) {
      fail('exists', `a secret named ${JSON.stringify(name)} exists`, `replace it: glassdome generate ${name} --force`);
    }
    await session.store.set(name, value);
    if (options.print) {
      writeOut(value); // bytes, never a JS string
      writeOut('\n');
    }
  } finally {
    value.fill(0);
    session.close();
  }
}

/** Whether a name is in the store (a `not_found` get says no; the value is wiped at once). */
export async function exists(store: { get(name: string): Promise<Uint8Array> }, name: string): Promise<boolean> {
  try {
    (await store.get(name)).fill(0);
    return true;
  } catch (err) {
    if (err instanceof GlassdomeError && err.code === 'not_found') return false;
    throw err;
  }
}
