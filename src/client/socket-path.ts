// Where the agent's socket lives: $XDG_RUNTIME_DIR/glassdome/agent.sock, else
// ${TMPDIR:-/tmp}/glassdome-<uid>/agent.sock (DESIGN.md §agent; $TMPDIR honoured as ssh-agent
// does), and the 107-byte limit of sun_path.

import path from 'node:path';
import { fail } from '../errors.js';

/** The longest socket path the kernel takes (sun_path is 108 bytes with its NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** The socket's file name inside its directory. */
export const SOCKET_NAME = 'agent.sock';

/** The default directory of the agent's socket for this login. */
export function defaultSocketDir(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && path.isAbsolute(runtime)) return path.join(runtime, 'glassdome');
  const tmp = env.TMPDIR && path.isAbsolute(env.TMPDIR) ? env.TMPDIR : '/tmp';
  return path.join(tmp, `glassdome-${process.getuid?.() ?? 0}`);
}

/** The default agent socket of this login. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(defaultSocketDir(env), SOCKET_NAME);
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
