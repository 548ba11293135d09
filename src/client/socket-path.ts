// Where the agent's socket lives: $XDG_RUNTIME_DIR/glassdome/agent.sock, else
// /tmp/glassdome-<uid>/agent.sock (DESIGN.md §agent), and the 107-byte limit of sun_path.

import path from 'node:path';
import { fail } from '../errors.js';

/** The longest socket path the kernel takes (sun_path is 108 bytes with its NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** The default agent socket of this login. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  const dir = runtime && path.isAbsolute(runtime) ? path.join(runtime, 'glassdome') : `/tmp/glassdome-${process.getuid?.() ?? 0}`;
  return path.join(dir, 'agent.sock');
}

/** Checks a socket path fits sun_path; returns it absolute. */
export function checkSocketPath(socketPath: string): string {
  const absolute = path.resolve(socketPath);
  const bytes = Buffer.byteLength(absolute);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    fail('usage', `socket path is ${bytes} bytes, over the ${MAX_SOCKET_PATH_BYTES}-byte limit of unix sockets: ${absolute}`, 'pick a shorter one with -a, e.g. -a /tmp/glassdome.sock');
  }
  return absolute;
}
