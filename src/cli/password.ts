// Reading passwords and values from the user: a hidden prompt drawn on stderr when there is a
// terminal, or all of stdin (one trailing newline stripped) for scripts. Without a terminal and
// without --password-stdin a command refuses and names the flag. Returns bytes the caller wipes.

import fs from 'node:fs';
import { fail } from '../errors.js';

/** Whether a hidden prompt can be shown: stdin and stderr are terminals. */
export function canPrompt(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

/** Reads all of stdin (at most `limit` bytes, else `too_large`) as bytes. */
export function readStdin(limit: number, what: string): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  const chunk = Buffer.allocUnsafe(65536);
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(0, chunk, 0, chunk.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        continue;
      }
      if (code === 'EOF') break;
      throw err;
    }
    if (n === 0) break;
    total += n;
    if (total > limit) {
      chunk.fill(0);
      for (const c of chunks) c.fill(0);
      fail('too_large', `${what} on stdin is over the limit of ${limit} bytes`);
    }
    chunks.push(Buffer.from(chunk.subarray(0, n)));
  }
  chunk.fill(0);
  const all = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  return all;
}

/** Strips one trailing newline (a "\n", or a "\r\n"). */
export function stripOneNewline(bytes: Buffer): Buffer {
  if (bytes.length > 0 && bytes[bytes.length - 1] === 10) {
    const cut = bytes.length > 1 && bytes[bytes.length - 2] === 13 ? 2 : 1;
    return bytes.subarray(0, bytes.length - cut);
  }
  return bytes;
}

/** The longest password accepted, in bytes. */
export const MAX_PASSWORD_BYTES = 4096;

/** Shows a hidden prompt on stderr and returns the answer as bytes. */
export async function promptPassword(message: string): Promise<Buffer> {
  const password = (require('@inquirer/password') as typeof import('@inquirer/password')).default;
  const answer = await password({ message, mask: false }, { output: process.stderr, clearPromptOnDone: false });
  return Buffer.from(answer, 'utf8');
}

/** Asks twice and insists both answers match. */
export async function promptTwice(message: string, again: string): Promise<Buffer> {
  const first = await promptPassword(message);
  const second = await promptPassword(again);
  const same = first.equals(second);
  second.fill(0);
  if (!same) {
    first.fill(0);
    fail('usage', 'the two entries do not match; nothing was changed');
  }
  return first;
}

/** A password from stdin (`--password-stdin`) or a hidden prompt; refuses with neither. */
export async function readPassword(options: { stdin: boolean; message: string; confirm?: string }): Promise<Buffer> {
  let pw: Buffer;
  if (options.stdin) {
    pw = stripOneNewline(readStdin(MAX_PASSWORD_BYTES + 2, 'the password'));
  } else if (canPrompt()) {
    pw = options.confirm ? await promptTwice(options.message, options.confirm) : await promptPassword(options.message);
  } else {
    return fail('usage', 'no terminal to ask for the password on', 'pass it on stdin with --password-stdin');
  }
  if (pw.length === 0) fail('usage', 'the password is empty');
  return pw;
}
