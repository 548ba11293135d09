// `glassdome agent`: reuse the live agent of this login or start one detached, then print the
// shell code that exports GLASSDOME_AUTH_SOCK and GLASSDOME_AGENT_PID (sh, csh or fish, guessed
// from $SHELL as ssh-agent does). -k stops the agent; -D runs it in the foreground, logging to stderr.
// Reuse order: the agent at GLASSDOME_AUTH_SOCK (ours, this vault), then the default socket, or a
// private directory when the default one is not safe to use (src/agent/location.ts).

import { askHello } from '../agent/listen.js';
import { chooseLocation, type SocketLocation } from '../agent/location.js';
import { checkSocketPath, defaultSocketPath } from '../client/socket-path.js';
import { isRunning } from '../os/proc.js';
import { fail, GlassdomeError } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { DEFAULT_LIFETIME_MS } from '../cli/duration.js';

/** A shell dialect for the exported variables. */
export type Shell = 'sh' | 'csh' | 'fish';

/** What `agent` was asked. */
export interface AgentCommandOptions {
  shell: Shell | undefined;
  kill: boolean;
  foreground: boolean;
  lifetimeS: number | undefined;
  socket: string | undefined;
}

/** The shell from $SHELL: csh for csh/tcsh, fish for fish, sh for the rest. */
export function guessShell(shellPath: string | undefined): Shell {
  const name = (shellPath ?? '').split('/').pop() ?? '';
  if (name === 'csh' || name === 'tcsh') return 'csh';
  if (name === 'fish') return 'fish';
  return 'sh';
}

/** Shell code exporting the agent's socket and pid. */
export function exportCode(shell: Shell, socketPath: string, pid: number): string {
  const sock = quote(shell, socketPath);
  switch (shell) {
    case 'csh':
      return `setenv GLASSDOME_AUTH_SOCK ${sock};\nsetenv GLASSDOME_AGENT_PID ${pid};\n`;
    case 'fish':
      return `set -gx GLASSDOME_AUTH_SOCK ${sock};\nset -gx GLASSDOME_AGENT_PID ${pid};\n`;
    default:
      return `GLASSDOME_AUTH_SOCK=${sock}; export GLASSDOME_AUTH_SOCK;\nGLASSDOME_AGENT_PID=${pid}; export GLASSDOME_AGENT_PID;\n`;
  }
}

/** Shell code removing the two variables. */
export function unsetCode(shell: Shell): string {
  switch (shell) {
    case 'csh':
      return 'unsetenv GLASSDOME_AUTH_SOCK;\nunsetenv GLASSDOME_AGENT_PID;\n';
    case 'fish':
      return 'set -e GLASSDOME_AUTH_SOCK;\nset -e GLASSDOME_AGENT_PID;\n';
    default:
      return 'unset GLASSDOME_AUTH_SOCK;\nunset GLASSDOME_AGENT_PID;\n';
  }
}

function quote(shell: Shell, value: string): string {
  if (/^[A-Za-z0-9_./:@%+-]+$/.test(value)) return value;
  if (shell === 'fish') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Runs the agent command; resolves with the exit status (never, under -D, until signalled). */
export async function agentAction(options: AgentCommandOptions, paths: VaultPaths): Promise<number> {
  const shell = options.shell ?? guessShell(process.env.SHELL);
  if (options.kill) return killAgent(shell, options.socket);
  const note = (line: string): void => void process.stderr.write(`glassdome: ${line}\n`);
  if (options.socket === undefined && !options.foreground) {
    // The agent this shell already uses (say, one in a private directory) is reused first.
    const current = await exportedAgent(paths, note);
    if (current) {
      process.stdout.write(exportCode(shell, current.socketPath, current.pid));
      return 0;
    }
  }
  const location: SocketLocation =
    options.socket === undefined ? await chooseLocation(paths.home, note) : { socketPath: options.socket, privateDir: false, running: null };
  const socketPath = checkSocketPath(location.socketPath);
  const defaultLocation = options.socket === undefined;
  const lifetimeMs = options.lifetimeS !== undefined ? options.lifetimeS * 1000 : DEFAULT_LIFETIME_MS;
  if (options.foreground) {
    const { runAgent } = require('../agent/daemon.js') as typeof import('../agent/daemon.js');
    await runAgent({ paths, socketPath, defaultLocation, privateDir: location.privateDir, lifetimeMs, log: (line) => process.stderr.write(`glassdome agent: ${line}\n`) });
    process.stdout.write(exportCode(shell, socketPath, process.pid));
    return new Promise<number>(() => undefined);
  }
  let pid = location.running?.pid ?? (await reusable(socketPath, paths));
  if (pid === null) {
    try {
      const { launchAgent } = require('../agent/launch.js') as typeof import('../agent/launch.js');
      pid = await launchAgent({ home: paths.home, socketPath, lifetimeMs, defaultLocation, privateDir: location.privateDir });
    } catch (err) {
      // Another shell may have started one at the same moment: use it.
      if (!(err instanceof GlassdomeError && err.code === 'exists')) throw err;
      pid = await reusable(socketPath, paths);
      if (pid === null) throw err;
    }
  }
  process.stdout.write(exportCode(shell, socketPath, pid));
  return 0;
}

/**
 * The live agent at GLASSDOME_AUTH_SOCK when it runs as our uid and serves this vault; null
 * otherwise (a socket of another uid is named on stderr and ignored, so a new agent replaces it).
 */
async function exportedAgent(paths: VaultPaths, note: (line: string) => void): Promise<{ socketPath: string; pid: number } | null> {
  const socketPath = process.env.GLASSDOME_AUTH_SOCK;
  if (!socketPath) return null;
  try {
    const hello = await askHello(socketPath);
    return hello && hello.vault === paths.home ? { socketPath, pid: hello.pid } : null;
  } catch (err) {
    if (!(err instanceof GlassdomeError)) throw err;
    note(`ignoring GLASSDOME_AUTH_SOCK: ${err.message}`);
    return null;
  }
}

async function reusable(socketPath: string, paths: VaultPaths): Promise<number | null> {
  const hello = await askHello(socketPath);
  if (!hello) return null;
  if (hello.vault !== paths.home) {
    fail('wrong_vault', `the agent at ${socketPath} serves ${hello.vault}, not ${paths.home}`, 'give this vault its own agent: eval "$(glassdome agent -a /tmp/glassdome-other.sock)"');
  }
  return hello.pid;
}

/**
 * Stops the agent: the pid signalled is the one the kernel reports for the socket (SO_PEERCRED,
 * after checking it runs as our uid), never one from a reply; when the agent's own word differs
 * (a socket held by another process, such as systemd's socket activation) nothing is signalled.
 */
async function killAgent(shell: Shell, socket: string | undefined): Promise<number> {
  const socketPath = socket ?? process.env.GLASSDOME_AUTH_SOCK ?? defaultSocketPath();
  const hello = await askHello(socketPath);
  if (!hello) fail('no_agent', `no agent answers at ${socketPath}`, 'nothing to stop');
  const pid = hello.peerPid;
  if (hello.pid !== pid) {
    fail('denied', `the socket ${socketPath} is held by pid ${pid}, but the agent there says it is pid ${hello.pid}: nothing was signalled`, 'stop it the way it was started (a socket-activated agent: with systemctl --user stop)');
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (isRunning(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (isRunning(pid)) fail('busy', `agent pid ${pid} did not stop within 5 s`, `kill -9 ${pid}`);
  process.stdout.write(unsetCode(shell));
  process.stderr.write(`glassdome: agent pid ${pid} stopped\n`);
  return 0;
}
