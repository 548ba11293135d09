// Starting a detached agent from the CLI: a new session (setsid), cwd /, stdio on /dev/null, and
// a pipe on fd 3 on which the child says "ready" once its socket accepts connections, or why it
// could not start. The CLI then prints the shell code and exits; the agent lives on.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { GlassdomeError, isErrorCode } from '../errors.js';

/** How long to wait for a starting agent to report (ms). */
const START_TIMEOUT_MS = 15_000;

/** Starts an agent in the background; resolves with its pid once it listens. */
export function launchAgent(options: { home: string; socketPath: string; lifetimeMs: number; defaultLocation: boolean; privateDir: boolean }): Promise<number> {
  // dist/agent/main.js, from dist/agent (unbundled) or dist/cli (inside the lean bundle) alike.
  const main = path.join(__dirname, '..', 'agent', 'main.js');
  // A 2 MiB young generation (V8's default grows to 16 MiB): measured with 10,000 secrets,
  // 84 MiB instead of 111 MiB after three unlocks, at the same throughput (npm run bench).
  const args = ['--max-semi-space-size=2', main, '--home', options.home, '--socket', options.socketPath, '--lifetime-ms', String(options.lifetimeMs)];
  if (options.defaultLocation) args.push('--default-location');
  if (options.privateDir) args.push('--private-dir');
  const child = spawn(process.execPath, args, { detached: true, cwd: '/', stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
  const channel = child.stdio[3]!;
  return new Promise<number>((resolve, reject) => {
    let said = '';
    const timer = setTimeout(() => finish(new GlassdomeError('internal', 'the agent did not start within 15 s')), START_TIMEOUT_MS);
    const finish = (result: number | GlassdomeError): void => {
      clearTimeout(timer);
      channel.destroy();
      child.unref();
      if (typeof result === 'number') resolve(result);
      else reject(result);
    };
    channel.on('data', (chunk: Buffer) => {
      said += chunk.toString('utf8');
    });
    channel.on('close', () => {
      const line = said.trim();
      if (line === 'ready' && child.pid) return finish(child.pid);
      if (line.startsWith('error ')) {
        try {
          const e = JSON.parse(line.slice(6)) as { code: unknown; message: string; hint?: string };
          return finish(new GlassdomeError(isErrorCode(e.code) ? e.code : 'internal', e.message, e.hint));
        } catch {
          // fall through
        }
      }
      finish(new GlassdomeError('internal', `the agent exited before it was ready${line ? `: ${line.slice(0, 200)}` : ''}`));
    });
    child.on('error', (err) => finish(new GlassdomeError('internal', `cannot start the agent: ${err.message}`)));
  });
}
