// exec --mask: the child's stdout and stderr come to glassdome through pipes and pass through a
// Masker (src/exec/mask.ts) on their way out. Loaded only with --mask: node:child_process and
// node:stream cost every other `glassdome exec` ~5 ms (src/os/spawn.ts starts those children).

import { spawn, type StdioOptions } from 'node:child_process';
import os from 'node:os';
import { Masker } from './mask.js';
import { FORWARDED_SIGNALS } from '../actions/exec.js';

/**
 * Runs the child with `fds` as its descriptors 3, 4, ... and its output masked; resolves with its
 * exit status (128+N when killed by signal N, `startFailure`'s status when it cannot start).
 */
export async function runMasked(argv: string[], fds: number[], env: NodeJS.ProcessEnv, maskValues: Buffer[], startFailure: (command: string, err: NodeJS.ErrnoException) => number): Promise<number> {
  const stdio: StdioOptions = ['inherit', 'pipe', 'pipe', ...fds];
  const child = spawn(argv[0]!, argv.slice(1), { stdio, env });
  // The child holds its own copies now (the caller closes its own once this returns).
  const forwarders = FORWARDED_SIGNALS.map((signal) => {
    const forward = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    process.on(signal, forward);
    return () => process.off(signal, forward);
  });
  const drained: Promise<unknown>[] = [];
  for (const [source, sink] of [
    [child.stdout!, process.stdout],
    [child.stderr!, process.stderr],
  ] as const) {
    const masker = new Masker(maskValues);
    source.pipe(masker).pipe(sink, { end: false });
    drained.push(new Promise((resolve) => masker.on('end', resolve)));
  }
  try {
    const status = await new Promise<number>((resolve) => {
      child.once('error', (err: NodeJS.ErrnoException) => resolve(startFailure(argv[0]!, err)));
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
    });
    await Promise.all(drained);
    return status;
  } finally {
    for (const off of forwarders) off();
    for (const v of maskValues) v.fill(0);
  }
}
