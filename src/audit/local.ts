// Auditing from the CLI itself, for what happens without the agent: the keyring session's reads
// and writes, unlocks and locks, init and passwd. The client is this process, described like any
// agent peer. Lines are MACed when the CLI holds the vault's keys, and its vault writes refresh the
// audit anchor. Only reads fail closed; for the rest a line that cannot be written is a warning.

import { describeProcess, type Client } from '../policy/client.js';
import { Guard } from '../policy/guard.js';
import type { VaultPaths } from '../store/paths.js';
import type { WriteHooks } from '../store/vault-files.js';
import type { VaultKeys } from '../vault/vault.js';
import { anchorOnWrite } from './anchor.js';
import { AuditLog, ROTATE_BYTES, type NewEvent } from './log.js';

let self: Client | undefined;

/** This process as an audit client. */
export function selfClient(): Client {
  self ??= describeProcess(process.pid, process.getuid?.() ?? 0);
  return self;
}

/** The audit log as this process writes it: MACed under `keys` when it holds them. */
function localLog(paths: VaultPaths, keys?: VaultKeys): AuditLog {
  return new AuditLog(paths.audit, ROTATE_BYTES, () => (keys?.auditKey.some((b) => b !== 0) ? keys.auditKey : undefined)); // wiped keys MAC nothing
}

/** A guard that audits (and does not enforce policy: no process of the user can be kept from the keyring item). */
export function localGuard(paths: VaultPaths, keys?: VaultKeys): Guard {
  return new Guard(null, localLog(paths, keys), false);
}

/** The hooks of a vault write by this process: the audit anchor is refreshed (a break is warned about and audited). */
export function localWriteHooks(paths: VaultPaths, keys: VaultKeys): WriteHooks {
  return { anchor: anchorOnWrite(localLog(paths, keys), selfClient(), (why) => process.stderr.write(`glassdome: warning: the audit log was tampered with: ${why}\n`)) };
}

/** Records one CLI event (MACed when `keys` are given); a failure is printed as a warning and does not stop the command. */
export async function recordLocal(paths: VaultPaths, event: Omit<NewEvent, 'client'>, keys?: VaultKeys): Promise<void> {
  try {
    await localGuard(paths, keys).record(selfClient(), event);
  } catch (err) {
    process.stderr.write(`glassdome: warning: ${(err as Error).message}\n`);
  }
}
