// `glassdome set NAME [--file PATH] [--raw] [--force]`: the value from a file, from stdin when it is
// not a terminal, or from a hidden prompt asked twice. Values are bytes: a single-line value on
// stdin loses its one trailing newline (`echo "$PW" | glassdome set x`); a multi-line one (a key, a
// certificate, a my.cnf) and anything read with --file or --raw is stored byte for byte. On a
// terminal, replacing an existing secret asks first (--force does not); scripts are never asked.

import fs from 'node:fs';
import { canPrompt, promptTwice, readStdin, stripOneNewline } from '../cli/password.js';
import { openStore } from '../cli/session.js';
import { fail, GlassdomeError } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import type { SecretStore } from '../vault/store.js';
import { checkName, checkValueSize, MAX_VALUE_BYTES } from '../vault/names.js';

/** What `set` was asked. */
export interface SetOptions {
  name: string;
  file?: string;
  raw?: boolean;
  force?: boolean;
}

const NEWLINE = 0x0a;

/** The value as stored from stdin: one trailing newline stripped when it is the only line break. */
export function stdinValue(bytes: Buffer): Buffer {
  const stripped = stripOneNewline(bytes);
  return stripped.includes(NEWLINE) ? bytes : stripped;
}

/** Stores one secret. */
export async function setAction(options: SetOptions, paths: VaultPaths): Promise<void> {
  const name = checkName(options.name);
  const terminal = process.stdin.isTTY === true;
  const session = await openStore(paths);
  let value: Buffer | undefined;
  try {
    if (terminal && !options.force) await guardOverwrite(session.store, name);
    value = await readValue(name, options, terminal);
    checkValueSize(value.length);
    if (value.length === 0) fail('empty_value', 'the value is empty; nothing was stored', `pipe it in: printf %s VALUE | glassdome set ${name}`);
    await session.store.set(name, value);
  } finally {
    value?.fill(0);
    session.close();
  }
}

async function readValue(name: string, options: SetOptions, terminal: boolean): Promise<Buffer> {
  if (options.file !== undefined) return readValueFile(options.file);
  if (!terminal) {
    const bytes = readStdin(MAX_VALUE_BYTES + 2, 'the value');
    return options.raw ? bytes : stdinValue(bytes);
  }
  if (options.raw) fail('usage', '--raw reads stdin, which is a terminal here', `glassdome set ${name} --raw < FILE, or --file FILE`);
  if (!canPrompt()) fail('usage', 'no terminal to ask for the value on', `pipe it in: printf %s VALUE | glassdome set ${name}`);
  return promptTwice(`Value for ${name}`, 'Repeat it');
}

/** The bytes of a file, exactly (at most MAX_VALUE_BYTES). */
function readValueFile(file: string): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(code === 'ENOENT' ? 'not_found' : 'io', `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'error')}`, 'give the path of a file holding just the value');
  }
  try {
    if (!fs.fstatSync(fd).isFile()) fail('usage', `${file} is not a regular file`, `read a stream with: glassdome set NAME --raw < ${file}`);
    const size = fs.fstatSync(fd).size;
    checkValueSize(size);
    const value = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const n = fs.readSync(fd, value, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    return value.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/** On a terminal: asks before replacing an existing secret; refuses when the answer is no. */
async function guardOverwrite(store: SecretStore, name: string): Promise<void> {
  if (!(await store.list()).includes(name)) return;
  const refuse = (): never => {
    throw new GlassdomeError('exists', `secret ${JSON.stringify(name)} exists; nothing was stored`, `replace it with: glassdome set ${name} --force`);
  };
  if (!canPrompt()) refuse();
  const { confirm } = require('@inquirer/prompts') as typeof import('@inquirer/prompts');
  const yes = await confirm({ message: `Secret ${name} exists. Replace it?`, default: false }, { output: process.stderr, clearPromptOnDone: false });
  if (!yes) refuse();
}
