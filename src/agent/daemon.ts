// Running the agent process: harden it (umask 077, PR_SET_DUMPABLE 0, RLIMIT_CORE 0, mlocked key
// buffers), prepare the socket (or take the one systemd passes on socket activation: LISTEN_PID/
// LISTEN_FDS, fd 3), serve. The policy in force is the one sealed in the vault, learnt at unlock
// (policy.yaml is never enforced); SIGHUP compares policy.yaml with it and reports the difference;
// SIGTERM or SIGINT wipe the key, remove the socket and exit. Errors a client causes never reach
// here; anything unexpected is
// logged, not fatal.

import fs from 'node:fs';
import path from 'node:path';
import { AuditLog } from '../audit/log.js';
import { syslogForwarder } from '../audit/syslog.js';
import { GlassdomeError } from '../errors.js';
import { disableCoreDumps, keepLargeAllocationsMapped, setNotDumpable } from '../os/libc.js';
import { Guard } from '../policy/guard.js';
import type { Policy } from '../policy/policy.js';
import type { VaultPaths } from '../store/paths.js';
import { checkPrivate } from '../store/secure-file.js';
import { checkSocket, prepareSocketPath } from './listen.js';
import { AgentServer, type Log } from './server.js';

/** How to run one agent. */
export interface DaemonOptions {
  paths: VaultPaths;
  socketPath: string;
  /** True when the socket is at the default location, whose directory must be 0700. */
  defaultLocation: boolean;
  /** True when the socket's directory is a private one made for this agent (removed at exit). */
  privateDir?: boolean;
  lifetimeMs: number;
  /** Drop the key after this long without a request (ms), unless an unlock says otherwise. */
  idleMs?: number | undefined;
  log: Log;
}

/** Hardens this process, then listens. Resolves once the socket accepts connections. */
export async function runAgent(options: DaemonOptions): Promise<AgentServer> {
  const { log } = options;
  process.umask(0o077);
  setNotDumpable();
  disableCoreDumps();
  keepLargeAllocationsMapped(); // resident memory after an unlock of a large vault (npm run bench)
  let server: AgentServer | undefined = undefined;
  const audit = new AuditLog(options.paths.audit, undefined, () => server?.state.auditKey); // lines are MACed while unlocked
  const guard = new Guard(null, audit); // no policy is known before the first unlock, and none is needed: nothing keyed is served
  const activated = activatedSocket();
  if (activated === undefined) await prepareSocketPath(options.socketPath, options.defaultLocation);
  else checkActivatedPath(options.socketPath);
  server = new AgentServer({ paths: options.paths, socketPath: options.socketPath, defaultLifetimeMs: options.lifetimeMs, defaultIdleMs: options.idleMs, guard, log, onPolicy: (policy) => forwardTo(audit, policy, log) });
  const memory = server.state.memoryLock;
  if (!memory.locked) log(`warning: key memory not locked (${memory.error}); raise RLIMIT_MEMLOCK (ulimit -l) to keep keys out of swap`);
  const previous = process.umask(0o177);
  try {
    await server.listen(activated);
  } finally {
    process.umask(previous);
  }
  checkSocket(options.socketPath);
  // systemd owns an activated socket: it stays in place for the next start.
  const removeSocket = activated === undefined ? removeSocketFile : () => undefined;

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: wiping the key and exiting`);
    void server.close().finally(() => {
      removeSocket(options.socketPath, options.privateDir === true);
      process.exit(0);
    });
    // close() waits for connections; exit regardless after a moment.
    setTimeout(() => {
      removeSocket(options.socketPath, options.privateDir === true);
      process.exit(0);
    }, 1000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => server.reloadSignal());
  process.on('uncaughtException', (err) => log(`unexpected error (agent keeps running): ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => log(`unexpected rejection (agent keeps running): ${String(err)}`));
  log(`listening on ${options.socketPath} (pid ${process.pid}; vault ${options.paths.home}; default lifetime ${Math.round(options.lifetimeMs / 1000)} s)`);
  return server;
}

/** Points the audit log's forwarding at the policy's syslog socket (or nowhere). */
function forwardTo(audit: AuditLog, policy: Policy | null, log: Log): void {
  audit.forward = policy?.syslog ? syslogForwarder(policy.syslog, log) : undefined;
}

/** The listening descriptor systemd passed (sd_listen_fds), or undefined; the variables are removed. */
export function activatedSocket(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const mine = env.LISTEN_PID === String(process.pid);
  const count = Number(env.LISTEN_FDS);
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (!mine || !Number.isInteger(count) || count < 1) return undefined;
  if (count > 1) throw new GlassdomeError('usage', `systemd passed ${count} sockets; the agent serves one`, 'give glassdome.socket a single ListenStream=');
  return SD_LISTEN_FDS_START;
}

/** The first descriptor systemd passes (sd-daemon.h SD_LISTEN_FDS_START). */
const SD_LISTEN_FDS_START = 3;

/** An activated socket's path must be in a private directory, like the default location. */
function checkActivatedPath(socketPath: string): void {
  const dir = path.dirname(socketPath);
  checkPrivate(dir, fs.statSync(dir), 'directory');
}

function removeSocketFile(socketPath: string, privateDir: boolean): void {
  try {
    fs.unlinkSync(socketPath);
  } catch {
    // already gone (closing the server unlinks it)
  }
  try {
    if (privateDir) fs.rmdirSync(path.dirname(socketPath));
  } catch {
    // gone already, or not empty: leave it
  }
}
