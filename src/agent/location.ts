// Where `glassdome agent` (without -a) finds or puts its socket. The default directory is used
// only when it is ours, a directory and mode 0700 (or absent: the agent creates it). Anything
// else there may be another user's trap (a directory made first, a socket of their own), so it is
// skipped, with a note on stderr, and the agent gets a fresh private directory beside it, made
// with mkdtemp as ssh-agent does; a later `glassdome agent` finds that agent again by scanning
// for such directories of ours, so a planted directory never costs more than a note.

import fs from 'node:fs';
import path from 'node:path';
import { GlassdomeError } from '../errors.js';
import { defaultSocketDir, SOCKET_NAME } from '../client/socket-path.js';
import { askHello, type PeerHello } from './listen.js';

/**
 * At most this many private directories of ours are probed for a live agent of this vault (other
 * users' directories with the same prefix are passed over before counting, so they cannot use up
 * the probes).
 */
export const MAX_PRIVATE_DIRS_PROBED = 32;

/** Why a default socket directory must not be used, or null when it is fine (or absent). */
export function unusableDirReason(dir: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return `it cannot be examined (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory()) return 'it is not a directory';
  if (st.uid !== uid) return `it is owned by uid ${st.uid}, not by you (uid ${uid})`;
  const mode = st.mode & 0o777;
  if (mode !== 0o700) return `its mode is ${mode.toString(8).padStart(4, '0')}, not 0700`;
  return null;
}

/** Where an agent listens: its socket, whether its directory is a private fallback, and the agent already there. */
export interface SocketLocation {
  socketPath: string;
  privateDir: boolean;
  running: PeerHello | null;
}

/**
 * The default socket when its directory is usable; otherwise a note on stderr (`note`) and a
 * private directory: one of ours where an agent of this vault already answers, else a new one.
 */
export async function chooseLocation(home: string, note: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<SocketLocation> {
  const dir = defaultSocketDir(env);
  const why = unusableDirReason(dir);
  if (why === null) return { socketPath: path.join(dir, SOCKET_NAME), privateDir: false, running: null };
  note(`not using ${dir}: ${why}; the agent uses a private directory instead`);
  const found = await findPrivateAgent(dir, home);
  if (found) return { socketPath: found.socketPath, privateDir: true, running: found.hello };
  return { socketPath: makePrivateSocketDir(dir), privateDir: true, running: null };
}

/** A live agent of ours serving `home` in one of the private directories made beside `skipped`. */
async function findPrivateAgent(skipped: string, home: string): Promise<{ socketPath: string; hello: PeerHello } | null> {
  for (const socketPath of privateSocketPaths(skipped)) {
    let hello: PeerHello | null;
    try {
      hello = await askHello(socketPath);
    } catch (err) {
      if (err instanceof GlassdomeError) continue;
      throw err;
    }
    if (hello && hello.vault === home) return { socketPath, hello };
  }
  return null;
}

/** The sockets of the private directories of ours made beside `skipped` (at most MAX_PRIVATE_DIRS_PROBED). */
export function privateSocketPaths(skipped: string): string[] {
  const base = path.dirname(skipped);
  const prefix = `${path.basename(skipped)}-`;
  let names: string[];
  try {
    names = fs.readdirSync(base).filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
  // Other users' directories with the prefix are passed over before counting: they cannot use up the probes.
  const ours = names.map((n) => path.join(base, n)).filter((dir) => fs.existsSync(dir) && unusableDirReason(dir) === null);
  return ours.slice(0, MAX_PRIVATE_DIRS_PROBED).map((dir) => path.join(dir, SOCKET_NAME));
}

/** Makes a fresh private directory (mkdtemp, 0700) beside `skipped`; returns the socket path in it. */
function makePrivateSocketDir(skipped: string): string {
  try {
    return path.join(fs.mkdtempSync(`${skipped}-`), SOCKET_NAME);
  } catch (err) {
    throw new GlassdomeError('io', `cannot create a private socket directory beside ${skipped}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
