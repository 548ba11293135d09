// Shared set-up of the stress suite: an unlocked agent on a cheap-KDF vault whose policy lifts the
// rate limits (the suite loads the agent on purpose), and the agent's resident memory.

import fs from 'node:fs';
import { applyPolicy, makeEnv, makeVault, startAgent, unlock, type TestEnv } from './cli.js';

/** A policy that allows everything and lifts the rate limits. */
export const UNLIMITED = 'default_policy: allow\nrate_limits:\n  read: { rate: 100000000, burst: 100000000 }\n  unlock: { rate: 100000, burst: 100000 }\n';

/** A private environment with an unlocked agent. */
export async function loadedAgent(): Promise<{ t: TestEnv; pid: number; socket: string }> {
  const t = makeEnv();
  await makeVault(t);
  await applyPolicy(t, UNLIMITED);
  const { pid, socket } = await startAgent(t.env);
  const u = await unlock(t.env);
  if (u.code !== 0) throw new Error(`unlock failed: ${u.stderr}`);
  return { t, pid, socket };
}

/** The resident set size of a process, in MiB. */
export function rssMib(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}
