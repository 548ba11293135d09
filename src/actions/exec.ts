// `glassdome exec [-s NAME]... [--keep-agent] [--mask] -- CMD [ARGS]`: runs CMD with secrets on
// inherited descriptors only. fd 3 carries one JSON object {name: value} (GLASSDOME_SECRETS_FD=3);
// each `{{glassdome:NAME}}` argument becomes /dev/fd/N, a descriptor holding that one value. The
// descriptors are sealed memfds: in memory, on no file system, readable any number of times and
// never blocking (a pipe would deadlock a child that does not read, and Node's own stdio "pipes"
// are socketpairs, which /dev/fd/N cannot open). No value goes into the child's env or argv.

import { spawn, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { openStore } from '../cli/session.js';
import { fail } from '../errors.js';
import { Masker } from '../exec/mask.js';
import { placeholderNames, substitute } from '../exec/placeholders.js';
import { disableCoreDumps, sealedMemfd, setNotDumpable } from '../os/libc.js';
import type { VaultPaths } from '../store/paths.js';
import { checkName } from '../vault/names.js';

/** The descriptor that carries the JSON object. */
export const SECRETS_FD = 3;

/** Signals glassdome passes on to the child. */
export const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** What `exec` was asked. */
export interface ExecOptions {
  secrets: string[];
  keepAgent: boolean;
  mask: boolean;
  argv: string[];
}

/** Runs the child; resolves with its exit status (128+N when killed by signal N). */
export async function execAction(options: ExecOptions, paths: VaultPaths): Promise<number> {
  const chosen = options.secrets.map((n) => checkName(n));
  const fileNames = placeholderNames(options.argv);
  disableCoreDumps();
  const { values, jsonNames } = await fetchValues(paths, chosen, fileNames);
  // Non-dumpable only now: while it asked, the agent had to see this process's executable.
  setNotDumpable();
  const fds: number[] = [];
  let json: Buffer | undefined;
  try {
    json = secretsJson(jsonNames, values);
    fds.push(sealedMemfd('glassdome-secrets', json, writeAll));
    const fdOf = new Map<string, number>();
    for (const name of fileNames) {
      fdOf.set(name, SECRETS_FD + 1 + fdOf.size);
      fds.push(sealedMemfd(`glassdome-${name}`, values.get(name)!, writeAll));
    }
    const argv = substitute(options.argv, fdOf);
    const maskValues = options.mask ? [...values.values()].map((v) => Buffer.from(v)) : [];
    // The sealed descriptors hold the values now; only --mask still needs them here.
    json.fill(0);
    for (const v of values.values()) v.fill(0);
    return await run(argv, fds, options, maskValues);
  } finally {
    for (const fd of fds) fs.closeSync(fd);
    json?.fill(0);
    for (const v of values.values()) v.fill(0);
  }
}

/**
 * Every value exec needs, fetched before the child starts (a missing name: exit 3, no child).
 * The JSON carries the names chosen with -s, or all of them when none was.
 */
async function fetchValues(paths: VaultPaths, chosen: string[], fileNames: string[]): Promise<{ values: Map<string, Uint8Array>; jsonNames: string[] }> {
  const session = await openStore(paths);
  try {
    const jsonNames = chosen.length > 0 ? [...new Set(chosen)] : await session.store.list();
    const names = [...new Set([...jsonNames, ...fileNames])];
    const fetched = await Promise.all(names.map((n) => session.store.get(n)));
    return { values: new Map(names.map((n, i) => [n, fetched[i]!])), jsonNames };
  } finally {
    session.close();
  }
}

/** The JSON object for fd 3. Values must be UTF-8 text; a binary one can go through a placeholder. */
function secretsJson(names: string[], values: Map<string, Uint8Array>): Buffer {
  const object: Record<string, string> = {};
  for (const name of names) {
    const bytes = Buffer.from(values.get(name)!);
    const text = bytes.toString('utf8');
    const isText = Buffer.from(text, 'utf8').equals(bytes);
    bytes.fill(0);
    if (!isText) {
      fail('not_text', `secret ${JSON.stringify(name)} is not UTF-8 text, so it cannot go into the JSON on fd ${SECRETS_FD}`, `pass it as a file instead: {{glassdome:${name}}}, and choose the others with -s`);
    }
    object[name] = text;
  }
  return Buffer.from(JSON.stringify(object), 'utf8');
}

function writeAll(fd: number, data: Uint8Array): void {
  let written = 0;
  while (written < data.length) written += fs.writeSync(fd, data, written, data.length - written, written);
}

async function run(argv: string[], fds: number[], options: ExecOptions, maskValues: Buffer[]): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env, GLASSDOME_SECRETS_FD: String(SECRETS_FD) };
  if (!options.keepAgent) {
    delete env.GLASSDOME_AUTH_SOCK;
    delete env.GLASSDOME_AGENT_PID;
  }
  const out = options.mask ? 'pipe' : 'inherit';
  const stdio: StdioOptions = ['inherit', out, out, ...fds];
  const child = spawn(argv[0]!, argv.slice(1), { stdio, env });
  // The child holds its own copies now.
  for (const fd of fds.splice(0)) fs.closeSync(fd);

  const forwarders = FORWARDED_SIGNALS.map((signal) => {
    const forward = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    process.on(signal, forward);
    return () => process.off(signal, forward);
  });
  const drained: Promise<unknown>[] = [];
  if (options.mask) {
    for (const [source, sink] of [
      [child.stdout!, process.stdout],
      [child.stderr!, process.stderr],
    ] as const) {
      const masker = new Masker(maskValues);
      source.pipe(masker).pipe(sink, { end: false });
      drained.push(new Promise((resolve) => masker.on('end', resolve)));
    }
  }
  try {
    const status = await new Promise<number>((resolve) => {
      child.once('error', (err: NodeJS.ErrnoException) => resolve(startFailure(argv[0]!, err)));
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
    });
    await Promise.all(drained);
    return status;
  } finally {
    for (const off of forwarders) off();
    for (const v of maskValues) v.fill(0);
  }
}

/** Like a shell: 127 when the command is not found, 126 when it cannot be executed. */
function startFailure(command: string, err: NodeJS.ErrnoException): number {
  const notFound = err.code === 'ENOENT';
  const why = notFound ? 'command not found' : err.code === 'EACCES' ? 'permission denied' : (err.code ?? err.message);
  process.stderr.write(`glassdome: ${command}: ${why}\n`);
  if (notFound) process.stderr.write(`glassdome: hint: check the name and PATH\n`);
  return notFound ? 127 : 126;
}
