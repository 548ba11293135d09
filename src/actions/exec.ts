// `glassdome exec [-s NAME]... [--keep-agent] [--mask] -- CMD [ARGS]`: runs CMD with secrets on
// inherited descriptors only. fd 3 carries one JSON object {name: value} (GLASSDOME_SECRETS_FD=3) of
// the -s secrets, of every secret when there is neither -s nor a placeholder, and of none ({}) when
// placeholders name what the child needs. Each `{{glassdome:NAME}}` argument becomes /dev/fd/N, a
// descriptor holding that one value; each `{{glassdome-template:PATH}}` one holding the template at
// PATH with its `{{glassdome:NAME}}` references filled in. The descriptors are sealed memfds of mode
// 0400: in memory, on no file system, readable any number of times and never blocking (a pipe would
// deadlock a child that does not read, and Node's own stdio "pipes" are socketpairs, which
// /dev/fd/N cannot open). No value goes into the child's env or argv.

import fs from 'node:fs';
import type { OpenStore } from '../cli/session.js';
import { placeholders, renderTemplate, substitute, templateNames, type Placeholder } from '../exec/placeholders.js';
import { secretsJson } from '../exec/secrets-json.js';
import { readTemplate } from '../exec/template-file.js';
import { commandMissing } from '../os/command-path.js';
import { disableCoreDumps, sealedMemfd, setBlocking, setNotDumpable } from '../os/libc.js';
import { spawnChild, SpawnError, type Child } from '../os/spawn.js';
import { checkName } from '../vault/names.js';
import { readValues } from '../vault/store.js';

/** The descriptor that carries the JSON object. */
export const SECRETS_FD = 3;

/** Signals glassdome passes on to the child. */
export const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** The variables that lead to glassdome serve, removed from the child's env like GLASSDOME_AUTH_SOCK. */
export const REMOTE_ENV = ['GLASSDOME_SERVER', 'GLASSDOME_CLIENT_CERT', 'GLASSDOME_CLIENT_KEY', 'GLASSDOME_SERVER_CA', 'GLASSDOME_TOKEN_FILE'];

/** What `exec` was asked. */
export interface ExecOptions {
  secrets: string[];
  keepAgent: boolean;
  mask: boolean;
  argv: string[];
}

/**
 * Runs the child; resolves with its exit status (128+N when killed by signal N). `opening` is the
 * vault's source as openStore gives it, opened by the caller: the lean entry opens it (and sends the
 * agent its hello) before this module loads. Its error, if any, is reported after those of the
 * arguments; it is closed once the values are fetched, or on any failure before.
 */
export async function execAction(options: ExecOptions, opening: Promise<OpenStore>): Promise<number> {
  opening.catch(() => undefined); // reported where it is awaited, unless an argument's error comes first
  try {
    return await execWith(options, opening);
  } finally {
    opening.then((s) => s.close(), () => undefined);
  }
}

async function execWith(options: ExecOptions, opening: Promise<OpenStore>): Promise<number> {
  const chosen = options.secrets.map((n) => checkName(n));
  const wanted = placeholders(options.argv);
  const templates = new Map(wanted.filter((p) => p.kind === 'template').map((p) => [p.ref, readTemplate(p.ref)]));
  const fileNames = [...wanted.filter((p) => p.kind === 'secret').map((p) => p.ref), ...[...templates.values()].flatMap((t) => templateNames(t))];
  const fds: number[] = [];
  const buffers: Uint8Array[] = [...templates.values()];
  let values = new Map<string, Uint8Array>();
  try {
    disableCoreDumps(); // the callers did before opening the source; the action does not rely on it
    // A command that is not there reads no secret (the shell's 127, before any value is asked for).
    if (commandMissing(options.argv[0]!)) return startFailure(options.argv[0]!, { code: 'ENOENT', message: 'not found' });
    const fetched = await fetchValues(opening, chosen, fileNames, wanted.length > 0);
    // Non-dumpable only now: while it asked, the agent had to see this process's executable.
    setNotDumpable();
    values = fetched.values;
    const json = secretsJson(fetched.jsonNames, values);
    buffers.push(json);
    fds.push(sealedMemfd('glassdome-secrets', json, writeAll));
    const fdOf = new Map<string, number>();
    for (const p of wanted) {
      fdOf.set(p.key, SECRETS_FD + 1 + fdOf.size);
      fds.push(sealedMemfd(`glassdome-${p.kind}`, descriptorBytes(p, values, templates, buffers), writeAll));
    }
    const argv = substitute(options.argv, fdOf);
    const maskValues = options.mask ? [...values.values()].map((v) => Buffer.from(v)) : [];
    // The sealed descriptors hold the values now; only --mask still needs them here.
    for (const b of buffers) b.fill(0);
    for (const v of values.values()) v.fill(0);
    return await run(argv, fds, options, maskValues);
  } finally {
    for (const fd of fds) fs.closeSync(fd);
    for (const b of buffers) b.fill(0);
    for (const v of values.values()) v.fill(0);
  }
}

/** What one placeholder's descriptor holds: a value, or a rendered template (kept for wiping). */
function descriptorBytes(p: Placeholder, values: Map<string, Uint8Array>, templates: Map<string, Uint8Array>, buffers: Uint8Array[]): Uint8Array {
  if (p.kind === 'secret') return values.get(p.ref)!;
  const rendered = renderTemplate(templates.get(p.ref)!, values);
  buffers.push(rendered);
  return rendered;
}

/**
 * Every value exec needs, fetched before the child starts (a missing name: exit 3, no child).
 * The JSON carries the names chosen with -s; without -s, none when placeholders say what the
 * child needs (least privilege), else every secret.
 */
async function fetchValues(opening: Promise<OpenStore>, chosen: string[], fileNames: string[], hasPlaceholders: boolean): Promise<{ values: Map<string, Uint8Array>; jsonNames: string[] }> {
  const session = await opening;
  try {
    if (chosen.length === 0 && !hasPlaceholders) {
      // Every secret this process may read (from the agent: the get_many the lean entry sent at connect).
      const values = await readValues(session.store, undefined, rateWaitNotice());
      return { values, jsonNames: [...values.keys()] };
    }
    const jsonNames = [...new Set(chosen)];
    return { values: await readValues(session.store, [...new Set([...jsonNames, ...fileNames])], rateWaitNotice()), jsonNames };
  } finally {
    session.close();
  }
}

/**
 * Says once, on stderr, why exec waits: it asked for more secrets than the agent's read burst, and
 * the agent's rate limit hands out the rest at its pace (the limit slows a drain of the vault).
 */
function rateWaitNotice(): (ms: number) => void {
  let told = false;
  return (ms) => {
    if (told) return;
    told = true;
    process.stderr.write(`glassdome: waiting ${(ms / 1000).toFixed(1)} s for the agent's read rate limit: more secrets than its burst (name the ones the command needs with -s NAME)\n`);
  };
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
    for (const name of REMOTE_ENV) delete env[name]; // the child gets no way to the daemon either
  }
  if (options.mask) {
    inheritBlockingStdio([0]);
    return (require('../exec/masked-run.js') as typeof import('../exec/masked-run.js')).runMasked(argv, fds, env, maskValues, startFailure);
  }
  inheritBlockingStdio([0, 1, 2]);
  // Caught from before the child starts: a signal that comes while it starts is not glassdome's
  // death but the child's, once the event loop runs the handler (by then the pid is known).
  // Child.kill sends nothing once the child is reaped, so its pid is never another's.
  let child: Child | undefined;
  const forwarders = FORWARDED_SIGNALS.map((signal) => {
    const forward = (): void => child?.kill(signal);
    process.on(signal, forward);
    return () => process.off(signal, forward);
  });
  try {
    try {
      child = spawnChild(argv, Object.entries(env).map(([k, v]) => `${k}=${v}`), fds);
    } catch (err) {
      if (err instanceof SpawnError) return startFailure(argv[0]!, err);
      throw err;
    }
    // The child holds its own copies now.
    for (const fd of fds.splice(0)) fs.closeSync(fd);
    return await child.exited;
  } finally {
    for (const off of forwarders) off();
  }
}

/**
 * Gives the child its inherited stdio in blocking mode, as a shell would. Node makes a pipe
 * non-blocking when it opens process.stdout or process.stderr, and the mode is shared with the
 * child (Ansible then refuses to run). The exec path does not open them (that would also load
 * node:net); whatever did before this point is undone here.
 */
function inheritBlockingStdio(fds: number[]): void {
  for (const fd of fds) setBlocking(fd);
}

/** Like a shell: 127 when the command is not found, 126 when it cannot be executed. */
function startFailure(command: string, err: { code?: string; message: string }): number {
  const notFound = err.code === 'ENOENT';
  const why = notFound ? 'command not found' : err.code === 'EACCES' ? 'permission denied' : (err.code ?? err.message);
  process.stderr.write(`glassdome: ${command}: ${why}\n`);
  if (notFound) process.stderr.write(`glassdome: hint: check the name and PATH\n`);
  return notFound ? 127 : 126;
}
