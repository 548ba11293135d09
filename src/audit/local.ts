// Auditing from the CLI itself, for what happens without the agent: the keyring session's reads
// and writes, unlocks and locks, init and passwd. The client is this process, described like any
// agent peer. Only reads fail closed; for the rest a line that cannot be written is a warning.

import { describeProcess, type Client } from '../policy/client.js';
import { Guard } from '../policy/guard.js';
import type { VaultPaths } from '../store/paths.js';
import { AuditLog, type NewEvent } from './log.js';

let self: Client | undefined;

/** This process as an audit client. */
export function selfClient(): Client {
  self ??= describeProcess(process.pid, process.getuid?.() ?? 0);
  return self;
}

/** A guard that audits (and does not enforce policy: no process of the user can be kept from the keyring item). */
export function localGuard(paths: VaultPaths): Guard {
  return new Guard(null, new AuditLog(paths.audit), false);
}

/** Records one CLI event; a failure is printed as a warning and does not stop the command. */
export async function recordLocal(paths: VaultPaths, event: Omit<NewEvent, 'client'>): Promise<void> {
  try {
    await localGuard(paths).record(selfClient(), event);
  } catch (err) {
    process.stderr.write(`glassdome: warning: ${(err as Error).message}\n`);
  }
}
