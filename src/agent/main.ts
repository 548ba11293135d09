// Entry point of a detached agent, spawned by `glassdome agent` (see launch.ts). It skips the CLI
// framework, which would cost start-up time and resident memory for the agent's whole life.
// Arguments: --home DIR --socket PATH --lifetime-ms N [--default-location] [--private-dir]. It reports readiness
// on fd 3 ("ready" or "error {json}") and then serves until signalled.

import fs from 'node:fs';
import { GlassdomeError } from '../errors.js';
import { vaultPaths } from '../store/paths.js';
import { runAgent } from './daemon.js';

const READY_FD = 3;

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? process.argv[i + 1] : undefined;
  if (value === undefined) throw new GlassdomeError('usage', `agent entry needs ${name}`);
  return value;
}

function report(line: string): void {
  try {
    fs.writeSync(READY_FD, `${line}\n`);
    fs.closeSync(READY_FD);
  } catch {
    // the launcher is gone; nothing to tell
  }
}

async function main(): Promise<void> {
  await runAgent({
    paths: vaultPaths(arg('--home')),
    socketPath: arg('--socket'),
    defaultLocation: process.argv.includes('--default-location'),
    privateDir: process.argv.includes('--private-dir'),
    lifetimeMs: Number(arg('--lifetime-ms')),
    log: () => undefined,
  });
  report('ready');
}

main().catch((err: unknown) => {
  const e = err instanceof GlassdomeError ? err : new GlassdomeError('internal', (err as Error).message);
  report(`error ${JSON.stringify({ code: e.code, message: e.message, hint: e.hint })}`);
  process.exit(1);
});
