// Ending the sessions of a vault that is being replaced (restore, init --force): every agent of
// this uid serving it that can be found is told to lock, so it wipes the old key (and MACs no
// audit line under it into the new vault's log), and the keyring session of the fallback is
// removed. Agents are looked for at GLASSDOME_AUTH_SOCK, at the default socket (and the private
// directories beside it) and, through /proc, wherever a running agent of this uid listens
// (src/os/agent-sockets.ts). One that cannot be found (another namespace) or does not answer is
// not locked: the output says so where it can.

import fs from 'node:fs';
import path from 'node:path';
import { AgentClient } from '../client/agent-client.js';
import { defaultSocketDir, SOCKET_NAME } from '../client/socket-path.js';
import { GlassdomeError } from '../errors.js';
import { agentSockets } from '../os/agent-sockets.js';
import type { VaultPaths } from '../store/paths.js';
import { privateSocketPaths } from '../agent/location.js';

/** How long each agent found is given to answer (ms): one that does not is named, not waited for. */
export const AGENT_PROBE_TIMEOUT_MS = 2_000;

/** Locks every agent of this vault found and ends the keyring session; returns what it did, one line each, naming `password` for the next unlock. */
export async function endSessions(paths: VaultPaths, password: string, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const said: string[] = [];
  const found = agentSockets();
  const locked = new Set<number>();
  // An agent whose command line names another home is not asked (nor waited for, if it is stopped).
  const scanned = 'sockets' in found ? found.sockets.filter((s) => s.home === null || sameVault(s.home, paths.home)) : [];
  for (const socketPath of new Set([...knownSockets(env), ...scanned.map((s) => s.socketPath)])) {
    const line = await lockAgentAt(socketPath, paths.home, password, locked);
    if (line) said.push(line);
  }
  if ('problem' in found) {
    said.push(`no other agent of this vault could be looked for: ${found.problem}; one started with -a elsewhere still holds the old key until it is locked (GLASSDOME_AUTH_SOCK=ITS_SOCKET glassdome lock) or stopped`);
  }
  const { endSession } = require('../keyring/session.js') as typeof import('../keyring/session.js');
  const { readCache } = require('../keyring/session-cache.js') as typeof import('../keyring/session-cache.js');
  const cache = readCache(paths);
  if (cache !== null) {
    endSession(paths, cache === 'malformed' ? [] : [cache.vaultId]);
    said.push('the keyring session ended: run glassdome unlock');
  }
  return said;
}

/** GLASSDOME_AUTH_SOCK, the default socket, and those of the private directories made beside its directory. */
function knownSockets(env: NodeJS.ProcessEnv): string[] {
  const dir = defaultSocketDir(env);
  return [...(env.GLASSDOME_AUTH_SOCK ? [env.GLASSDOME_AUTH_SOCK] : []), path.join(dir, SOCKET_NAME), ...privateSocketPaths(dir)];
}

/**
 * Locks the agent at `socketPath` when it is one of ours serving `home` and not locked yet (by
 * pid, in `locked`); the line saying so, or why it could not be, or null (no agent of this vault).
 * A refused lock (the policy) is thrown: nothing is replaced then.
 */
async function lockAgentAt(socketPath: string, home: string, password: string, locked: Set<number>): Promise<string | null> {
  let client: AgentClient;
  try {
    client = await AgentClient.connect(socketPath, undefined, undefined, AGENT_PROBE_TIMEOUT_MS);
  } catch {
    return null; // nothing there, or served by another uid (never an agent of ours)
  }
  const pid = client.peer.pid;
  try {
    if (locked.has(pid)) return null;
    let vault: string;
    try {
      vault = (await client.hello()).vault;
    } catch (err) {
      if (err instanceof GlassdomeError && err.code === 'io') return `the agent pid ${pid} at ${socketPath} did not answer: if it serves this vault it still holds the old key; stop it: kill ${pid}`;
      return null;
    }
    if (!sameVault(vault, home)) return null;
    await client.request('lock'); // whatever it held was the replaced vault's key
    locked.add(pid);
    return `agent pid ${pid} was locked: unlock it with ${password}`;
  } finally {
    client.close();
  }
}

/** Whether two vault paths name one directory (the same text, or once links are resolved). */
function sameVault(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return fs.realpathSync(a) === fs.realpathSync(b);
  } catch {
    return false;
  }
}
