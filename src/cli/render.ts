// How the CLI speaks: errors as `glassdome: <message>` plus `glassdome: hint: <fix>` on stderr
// (and, under --json, an {"error":...} object on stdout), JSON results, and colour only on a
// terminal without NO_COLOR. Shared by the oclif commands and the lean entry, so both print
// byte-identical output. chalk is loaded only when colour is wanted: it costs ~18 ms to import.

import fs from 'node:fs';
import { exitStatus, GlassdomeError, type ErrorCode } from '../errors.js';

/** What to do when the agent is at its connection limit (MAX_CONNECTIONS). */
export const BUSY_HINT = 'other processes of yours hold every connection the agent serves; try again once they finish';

/** Hints for codes whose errors usually arrive without one (e.g. from the agent). */
const DEFAULT_HINTS: Partial<Record<ErrorCode, string>> = {
  locked: 'unlock it: glassdome unlock',
  expired: 'glassdome unlock',
  no_agent: 'start one with: eval "$(glassdome agent)", then: glassdome unlock',
  not_found: 'see the names with: glassdome list',
  invalid_name: 'names start with a letter or digit, then up to 127 of A-Z a-z 0-9 _ . - /',
  bad_key: 'the key does not open the vault the agent serves: if the master key was just rotated, run the command again',
  rate_limited: 'wait a moment and try again',
  busy: BUSY_HINT,
  internal: 'this is a bug in glassdome; rerun with GLASSDOME_DEBUG=1 and report what it prints',
};

/** `text` with each control character (C0, DEL, C1) written as `\xNN`: a name a remote peer or a process chose cannot drive the terminal or start a line. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Whether to colour a stream: a terminal, and NO_COLOR unset or empty (no-color.org). */
export function wantsColour(stream: NodeJS.WriteStream): boolean {
  const noColor = process.env.NO_COLOR;
  if (noColor !== undefined && noColor !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && process.env.TERM !== 'dumb';
}

/** Any thrown value as a GlassdomeError (unknown errors become `internal`). */
export function asGlassdomeError(err: unknown): GlassdomeError {
  if (err instanceof GlassdomeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new GlassdomeError('internal', `unexpected error: ${message.split('\n')[0]!.toLowerCase()}`);
}

/** Prints an error in the CLI's style; returns the exit status it maps to. */
export async function renderError(err: unknown, json: boolean): Promise<number> {
  const e = asGlassdomeError(err);
  const hint = e.hint ?? DEFAULT_HINTS[e.code];
  if (process.env.GLASSDOME_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  if (json) writeJson({ error: { code: e.code, message: e.message, ...(hint ? { hint } : {}) } });
  let prefix = 'glassdome:';
  let hintLabel = 'hint:';
  if (wantsColour(process.stderr)) {
    const { Chalk } = require('chalk') as typeof import('chalk');
    const chalk = new Chalk({ level: 1 });
    prefix = chalk.red(prefix);
    hintLabel = chalk.yellow(hintLabel);
  }
  let text = `${prefix} ${e.message}\n`;
  if (hint) text += `${prefix} ${hintLabel} ${hint}\n`;
  process.stderr.write(text);
  return exitStatus(e.code);
}

/** Prints a JSON result (two-space indentation, one trailing newline) on stdout. */
export function writeJson(value: unknown): void {
  writeOut(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Writes to stdout with write(2), without creating process.stdout: for a pipe, that stream is a
 * net.Socket, and loading node:net costs ~4 ms of a `glassdome get`. A non-blocking stdout that
 * is full (EAGAIN) gets the rest through the stream, which Node flushes before exiting.
 */
export function writeOut(data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  let off = 0;
  try {
    while (off < bytes.length) off += fs.writeSync(1, bytes, off, bytes.length - off);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    process.stdout.write(Buffer.from(bytes.subarray(off)));
  }
}
