// Getting a socket path ready for the agent: its directory created 0700 (or, for a path given
// with -a, checked to be safe from other users), an existing socket probed, a stale one removed,
// anything else at the path refused. The socket itself is created under umask 0177 (mode 0600).

import fs from 'node:fs';
import path from 'node:path';
import { AgentClient, type Hello } from '../client/agent-client.js';
import { fail, GlassdomeError } from '../errors.js';
import { checkPrivate, ioError } from '../store/secure-file.js';

/** The way out when the socket's directory cannot be made (an XDG_RUNTIME_DIR kept from another user after su, say). */
export const SOCKET_DIR_HINT = 'point XDG_RUNTIME_DIR (or, without it, TMPDIR) at a directory of yours, or pick a socket path: glassdome agent -a PATH';

/** What an agent of our uid says about itself, and the pid the kernel reports for its socket. */
export type PeerHello = Hello & { peerPid: number };

/**
 * The agent answering at a socket path, or null when nothing does; `denied` when the socket is
 * served by another uid (checked before hello is sent).
 */
export async function askHello(socketPath: string): Promise<PeerHello | null> {
  let client: AgentClient;
  try {
    client = await AgentClient.connect(socketPath);
  } catch (err) {
    if (err instanceof GlassdomeError && err.code === 'denied') throw err; // served by another uid
    return null;
  }
  try {
    return { ...(await client.hello()), peerPid: client.peer.pid };
  } catch (err) {
    if (err instanceof GlassdomeError && err.code === 'denied') throw err;
    return null;
  } finally {
    client.close();
  }
}

/**
 * Makes `socketPath` ready to listen on. `ownDir`: the directory is glassdome's own (the default
 * location) and must be 0700; otherwise it must merely be safe from other users.
 */
export async function prepareSocketPath(socketPath: string, ownDir: boolean): Promise<void> {
  const dir = path.dirname(socketPath);
  const uid = process.getuid?.() ?? 0;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const io = ioError(err, `cannot create the socket directory ${dir}`);
    throw new GlassdomeError(io.code, io.message, SOCKET_DIR_HINT);
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) fail('insecure_file', `${dir} is not a directory`);
  if (ownDir) {
    checkPrivate(dir, st, 'directory');
  } else {
    const sticky = (st.mode & 0o1000) !== 0;
    const othersWrite = (st.mode & 0o022) !== 0;
    if (!(st.uid === uid && !othersWrite) && !(st.uid === 0 && sticky)) {
      fail('insecure_file', `${dir} can be changed by other users, who could replace the socket`, `pick a directory only you can write, or chmod go-w ${dir}`);
    }
  }
  let existing: fs.Stats | undefined;
  try {
    existing = fs.lstatSync(socketPath);
  } catch {
    existing = undefined;
  }
  if (!existing) return;
  if (!existing.isSocket()) fail('exists', `${socketPath} exists and is not a socket`, 'remove it or pick another path with -a');
  if (await askHello(socketPath)) {
    fail('exists', `an agent already answers at ${socketPath}`, 'stop it first: glassdome agent -k');
  }
  if (existing.uid !== uid) fail('insecure_file', `${socketPath} is a stale socket owned by uid ${existing.uid}`, `remove it: rm ${socketPath}`);
  fs.unlinkSync(socketPath);
}

/** Checks the socket the agent just created: ours, a socket, mode 0600. */
export function checkSocket(socketPath: string): void {
  const st = fs.lstatSync(socketPath);
  if (!st.isSocket()) fail('internal', `${socketPath} is not a socket after listen`);
  fs.chmodSync(socketPath, 0o600);
  checkPrivate(socketPath, fs.lstatSync(socketPath), 'file');
}
