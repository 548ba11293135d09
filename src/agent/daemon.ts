// Running the agent process: harden it (umask 077, PR_SET_DUMPABLE 0, RLIMIT_CORE 0, mlocked key
// buffers), prepare the socket, serve. The policy in force is the one sealed in the vault, learnt at
// unlock (policy.yaml is never enforced); SIGHUP compares policy.yaml with it and reports the
// difference; SIGTERM or SIGINT wipe the key, remove the socket and exit. Errors a client causes never reach here; anything unexpected is
// logged, not fatal.

import fs from 'node:fs';
import path from 'node:path';
import { AuditLog } from '../audit/log.js';
import { syslogForwarder } from '../audit/syslog.js';
import { disableCoreDumps, setNotDumpable } from '../os/libc.js';
import { Guard } from '../policy/guard.js';
import type { Policy } from '../policy/policy.js';
import type { VaultPaths } from '../store/paths.js';
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
  log: Log;
}

/** Hardens this process, then listens. Resolves once the socket accepts connections. */
export async function runAgent(options: DaemonOptions): Promise<AgentServer> {
  const { log } = options;
  process.umask(0o077);
  setNotDumpable();
  disableCoreDumps();
  let server: AgentServer | undefined = undefined;
  const audit = new AuditLog(options.paths.audit, undefined, () => server?.state.auditKey); // lines are MACed while unlocked
  const guard = new Guard(null, audit); // no policy is known before the first unlock, and none is needed: nothing keyed is served
  await prepareSocketPath(options.socketPath, options.defaultLocation);
  server = new AgentServer({ paths: options.paths, socketPath: options.socketPath, defaultLifetimeMs: options.lifetimeMs, guard, log, onPolicy: (policy) => forwardTo(audit, policy, log) });
  const memory = server.state.memoryLock;
  if (!memory.locked) log(`warning: key memory not locked (${memory.error}); raise RLIMIT_MEMLOCK (ulimit -l) to keep keys out of swap`);
  const previous = process.umask(0o177);
  try {
    await server.listen();
  } finally {
    process.umask(previous);
  }
  checkSocket(options.socketPath);

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

function removeSocket(socketPath: string, privateDir: boolean): void {
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
