// The base of every oclif command: one catch() that turns any error (ours, or oclif's own parse
// errors) into the CLI's one-line style, its exit status and a hint; a helper that runs an
// action and records its status; and core dumps off before any command runs. Commands stay
// thin: parse flags, call an action, done.

import { Command, Errors } from '@oclif/core';
import { GlassdomeError } from '../errors.js';
import { disableCoreDumps } from '../os/libc.js';
import { vaultPaths, type VaultPaths } from '../store/paths.js';
import { renderError } from './render.js';
import { closest } from './suggest.js';

/** The base command of glassdome. */
export abstract class GlassdomeCommand extends Command {
  /** No core file, whatever the command holds (a value, a password, a key), as the lean path. */
  override async init(): Promise<void> {
    disableCoreDumps();
    await super.init();
  }

  /** The vault files this invocation works on ($GLASSDOME_HOME). */
  protected get paths(): VaultPaths {
    return vaultPaths();
  }

  /** Records an action's exit status without throwing (oclif then exits with it). */
  protected done(status: number | void): void {
    if (typeof status === 'number' && status !== 0) process.exitCode = status;
  }

  override async catch(err: Error & { oclif?: { exit?: number } }): Promise<void> {
    if (err instanceof Errors.ExitError) throw err;
    this.parsed = true; // parsing was attempted; its error is what gets reported
    const json = this.argv.includes('--json');
    process.exitCode = await renderError(asUsage(err, this.id, Object.keys(this.ctor.flags ?? {})), json);
  }
}

/** oclif's parse errors (missing argument, unknown flag, ...) become one-line `usage` errors (exit 2). */
function asUsage(err: Error & { oclif?: { exit?: number } }, id: string | undefined, flags: string[]): unknown {
  if (err instanceof GlassdomeError) return err;
  if (err instanceof Errors.CLIError && err.oclif?.exit === 2) {
    const [first = '', second = ''] = err.message.split('\n').map((l) => l.trim());
    let message = first.replace(/^Error: /, '').replace(/\.$/, '');
    if (/^the following errors? occurred:$/i.test(message) && second) message = second;
    else if (/^parsing --\S+$/i.test(message) && second) message = `${message.slice('parsing '.length)}: ${second.charAt(0).toLowerCase()}${second.slice(1)}`;
    else if (message.endsWith(':') && second) message = `${message} ${second.split(/\s+/)[0]}`;
    message = message.charAt(0).toLowerCase() + message.slice(1);
    const command = (id ?? '').replaceAll(':', ' ');
    const typo = /^nonexistent flags?: --([^\s=,]+)/.exec(message)?.[1];
    const guess = typo === undefined ? undefined : closest(typo, flags);
    return new GlassdomeError('usage', message, guess ? `did you mean --${guess}? see: glassdome ${command} --help` : `see: glassdome ${command} --help`.replace('  ', ' '));
  }
  return err;
}
