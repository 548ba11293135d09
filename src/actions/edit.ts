// `glassdome edit NAME`: the value in $VISUAL/$EDITOR, as pass does it: a file in a fresh 0700
// directory on a tmpfs ($XDG_RUNTIME_DIR, else /dev/shm), so the plaintext never reaches a disk;
// overwritten with zeros and removed afterwards, whatever happens. A missing secret starts empty.
// Saving an unchanged or empty file stores nothing. A single-line value loses its one trailing
// newline (editors add one); a multi-line value is stored as written.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { openStore } from '../cli/session.js';
import { fail, GlassdomeError } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { checkName, checkValueSize } from '../vault/names.js';

/** statfs f_type of a tmpfs (linux/magic.h TMPFS_MAGIC). */
const TMPFS_MAGIC = 0x01021994;
/** The editor when neither VISUAL nor EDITOR is set. */
const DEFAULT_EDITOR = 'vi';

/** A private directory on a tmpfs for the plaintext, or `io` naming the places tried. */
export function privateTmpfsDir(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [env.XDG_RUNTIME_DIR, '/dev/shm'].filter((d): d is string => !!d);
  for (const base of candidates) {
    try {
      if (fs.statfsSync(base).type !== TMPFS_MAGIC) continue;
      return fs.mkdtempSync(path.join(base, 'glassdome-edit-')); // mkdtemp makes it 0700
    } catch {
      continue;
    }
  }
  return fail('io', `no tmpfs to hold the plaintext while editing (tried ${candidates.join(', ')})`, 'set XDG_RUNTIME_DIR to a tmpfs directory (or mount /dev/shm)');
}

/** Overwrites a file with zeros, then removes it and its directory. */
export function wipeAndRemove(dir: string, file: string): void {
  try {
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r+');
    try {
      fs.writeSync(fd, Buffer.alloc(size), 0, size, 0);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // gone already, or the editor replaced it: removal below still applies
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Edits one secret in the user's editor. */
export async function editAction(options: { name: string }, paths: VaultPaths): Promise<void> {
  const name = checkName(options.name);
  if (!process.env.VISUAL && !process.env.EDITOR && !process.stdin.isTTY) {
    // vi with no terminal waits for ever (a script, a cron job): refuse before reading anything.
    fail('usage', `no editor to run: VISUAL and EDITOR are unset, and there is no terminal for ${DEFAULT_EDITOR}`, `set one (EDITOR=nano glassdome edit ${name}), or store the value with: glassdome set ${name}`);
  }
  const session = await openStore(paths);
  try {
    let current: Uint8Array;
    try {
      current = await session.store.get(name);
    } catch (err) {
      if (!(err instanceof GlassdomeError && err.code === 'not_found')) throw err;
      current = new Uint8Array(0);
    }
    const dir = privateTmpfsDir();
    const file = path.join(dir, name.replace(/\//g, '_'));
    let edited: Buffer | undefined;
    try {
      fs.writeFileSync(file, current, { mode: 0o600, flag: 'wx' });
      const editor = process.env.VISUAL || process.env.EDITOR || DEFAULT_EDITOR;
      const run = spawnSync('/bin/sh', ['-c', `${editor} "$1"`, 'sh', file], { stdio: 'inherit' });
      if (run.error || run.status !== 0) fail('io', `the editor (${editor}) exited with ${run.error ? run.error.message : `status ${run.status ?? run.signal}`}; nothing was stored`);
      edited = fs.readFileSync(file);
      const value = singleLine(edited);
      if (value.length === 0) fail('empty_value', 'the file is empty; nothing was stored', `remove the secret instead: glassdome rm ${name}`);
      checkValueSize(value.length);
      if (Buffer.from(current.buffer, current.byteOffset, current.byteLength).equals(value)) {
        process.stderr.write(`glassdome: ${name} unchanged\n`);
        return;
      }
      await session.store.set(name, value);
    } finally {
      current.fill(0);
      edited?.fill(0);
      wipeAndRemove(dir, file);
    }
  } finally {
    session.close();
  }
}

/** A value of one line loses its one trailing newline; anything longer stays as written. */
function singleLine(bytes: Buffer): Buffer {
  const first = bytes.indexOf(10);
  if (first !== -1 && first === bytes.length - 1) return bytes.subarray(0, first - (first > 0 && bytes[first - 1] === 13 ? 1 : 0));
  return bytes;
}
