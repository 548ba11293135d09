// The agent's server: accepts connections on the Unix socket, bounds them, admits only peers of
// its own uid, and answers each request with one handler per op after the lock gate. It serves
// any SecretStore-shaped vault (here AgentVault) and never runs the password KDF: an unlock
// carries the master key, which the CLI derived, and is checked by opening the vault.

import net from 'node:net';
import { GlassdomeError } from '../errors.js';
import { encodeLine } from '../protocol/codec.js';
import { MAX_CONNECTIONS, PROTOCOL_VERSION } from '../protocol/limits.js';
import { errorReply, KEYED_OPS, okReply, type Request } from '../protocol/messages.js';
import { loadSecrets } from '../store/vault-files.js';
import { readMasterKeyText } from '../store/vault-text.js';
import type { VaultPaths } from '../store/paths.js';
import { toBase64 } from '../vault/base64.js';
import { wipeMap } from '../vault/payload.js';
import type { SecretStore } from '../vault/store.js';
import { keysFor, wipeKeys } from '../vault/vault.js';
import { vaultIdOf } from '../vault/format.js';
import { VERSION } from '../version.js';
import { AgentVault } from './agent-vault.js';
import { Connection, type Peer } from './connection.js';
import { identifyPeer } from './peer.js';
import { coreLimit, isDumpable } from '../os/libc.js';
import { AgentState, type LockReason, type Session } from './state.js';

/** What the agent tells its operator (stderr under -D; nowhere when detached). */
export type Log = (message: string) => void;

/** How an agent is set up. */
export interface AgentOptions {
  paths: VaultPaths;
  socketPath: string;
  defaultLifetimeMs: number;
  log: Log;
}

/** Delay before answering the n-th failed unlock in a row (ms): 0.25 s doubling to 8 s. */
export function unlockPenaltyMs(failures: number): number {
  return failures <= 0 ? 0 : Math.min(250 * 2 ** (failures - 1), 8000);
}

const LOCK_MESSAGES: Record<LockReason, [string, string]> = {
  never: ['locked', 'the agent is locked'],
  locked: ['locked', 'the agent is locked'],
  expired: ['expired', 'session expired: run glassdome unlock'],
  replaced: ['locked', 'the vault was replaced or removed since it was unlocked'],
};
const UNLOCK_HINT = 'unlock it: glassdome unlock';

/** The agent: state, vault and socket server. */
export class AgentServer {
  readonly state: AgentState;
  readonly vault: AgentVault;
  /** The store requests are served from (the vault, or a policy/audit wrapper around it). */
  store: SecretStore;
  private readonly server: net.Server;
  private readonly connections = new Set<net.Socket>();
  private failedUnlocks = 0;
  private unlockQueue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: AgentOptions) {
    this.state = new AgentState((reason, session) => this.onLock(reason, session));
    this.vault = new AgentVault(options.paths, this.state);
    this.store = this.vault;
    this.server = net.createServer({ pauseOnConnect: false }, (socket) => this.accept(socket));
  }

  /** Starts listening on a socket path the caller prepared (directory checked, stale socket gone). */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.socketPath, () => {
        this.server.off('error', reject);
        this.server.on('error', (err) => this.options.log(`server error: ${err.message}`));
        resolve();
      });
    });
  }

  /** Stops accepting, closes every connection and wipes the key. */
  async close(): Promise<void> {
    this.state.lock('locked');
    for (const socket of this.connections) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    if (this.connections.size >= MAX_CONNECTIONS) {
      socket.end(encodeLine(errorReply(null, 'busy', `the agent serves at most ${MAX_CONNECTIONS} connections at once`)));
      socket.on('error', () => socket.destroy());
      return;
    }
    let peer: Peer;
    try {
      peer = identifyPeer(socket);
    } catch (err) {
      this.options.log(`cannot identify a peer: ${(err as Error).message}`);
      socket.destroy();
      return;
    }
    const uid = process.getuid?.() ?? 0;
    if (peer.uid !== uid) {
      this.options.log(`refused pid ${peer.pid} uid ${peer.uid} (${peer.exe ?? 'unknown exe'}): not uid ${uid}`);
      socket.on('error', () => socket.destroy());
      socket.end(encodeLine(errorReply(null, 'denied', `uid ${peer.uid} may not use the agent of uid ${uid}`)));
      return;
    }
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    new Connection(socket, peer, (request, p) => this.answer(request, p), (p, reason) =>
      this.options.log(`bad frame from pid ${p.pid}: ${reason}`),
    );
  }

  private async answer(request: Request, peer: Peer): Promise<Record<string, unknown>> {
    try {
      if (KEYED_OPS.has(request.op) && !this.state.current()) {
        const [code, message] = LOCK_MESSAGES[this.state.lockReason];
        return errorReply(request.id, code, message, UNLOCK_HINT);
      }
      return okReply(request.id, await this.handle(request, peer));
    } catch (err) {
      if (err instanceof GlassdomeError) return errorReply(request.id, err.code, err.message, err.hint);
      this.options.log(`internal error in ${request.op}: ${(err as Error).stack ?? String(err)}`);
      return errorReply(request.id, 'internal', 'internal error in the agent');
    }
  }

  private async handle(request: Request, peer: Peer): Promise<Record<string, unknown>> {
    switch (request.op) {
      case 'hello':
        return { agent: 'glassdome', version: VERSION, protocol: PROTOCOL_VERSION, pid: process.pid, uid: process.getuid?.() ?? 0, vault: this.options.paths.home };
      case 'status':
        return this.status();
      case 'unlock':
        return this.unlock(request.key, request.lifetime, peer);
      case 'lock':
        this.state.lock('locked');
        return {};
      case 'get': {
        const value = await this.store.get(request.name);
        try {
          return { value: toBase64(value) };
        } finally {
          value.fill(0);
        }
      }
      case 'list':
        return { names: await this.store.list() };
      case 'set':
        await this.store.set(request.name, request.value);
        return {};
      case 'rm':
        await this.store.rm(request.name);
        return {};
    }
  }

  private status(): Record<string, unknown> {
    const memory = this.state.memoryLock;
    const hardening = { dumpable: isDumpable(), core_limit: Number(coreLimit()[1]), keys_mlocked: memory.locked };
    const base = { pid: process.pid, socket: this.options.socketPath, vault: this.options.paths.home, hardening };
    const session = this.state.info;
    if (!session) return { ...base, state: 'locked', reason: this.state.lockReason };
    return {
      ...base,
      state: 'unlocked',
      vault_id: session.vaultId,
      unlocked_at: new Date(session.unlockedAt).toISOString(),
      expires_at: new Date(session.expiresAt).toISOString(),
      secret_count: this.vault.count(),
    };
  }

  /** Unlocks are serialized, and each failure in a row doubles the wait before the next answer. */
  private unlock(key: Uint8Array, lifetimeS: number | undefined, peer: Peer): Promise<Record<string, unknown>> {
    const attempt = this.unlockQueue.then(async () => {
      const penalty = unlockPenaltyMs(this.failedUnlocks);
      if (penalty > 0) await new Promise((r) => setTimeout(r, penalty));
      const vaultId = vaultIdOf(readMasterKeyText(this.options.paths));
      const candidate = keysFor(vaultId, Uint8Array.from(key));
      try {
        wipeMap(loadSecrets(this.options.paths, candidate).map);
      } catch (err) {
        if (err instanceof GlassdomeError && err.code === 'tampered') {
          this.failedUnlocks++;
          this.options.log(`failed unlock from pid ${peer.pid} (${peer.exe ?? 'unknown exe'}); ${this.failedUnlocks} in a row`);
          throw new GlassdomeError('bad_key', 'that key does not open this vault');
        }
        throw err;
      } finally {
        wipeKeys(candidate);
      }
      this.failedUnlocks = 0;
      const lifetimeMs = lifetimeS !== undefined ? lifetimeS * 1000 : this.options.defaultLifetimeMs;
      const session = this.state.unlock(vaultId, key, lifetimeMs);
      const count = this.vault.adoptUnlock();
      this.options.log(`unlocked by pid ${peer.pid} until ${new Date(session.expiresAt).toISOString()}`);
      return { vault_id: vaultId, expires_at: new Date(session.expiresAt).toISOString(), secret_count: count };
    });
    this.unlockQueue = attempt.catch(() => undefined);
    return attempt;
  }

  private onLock(reason: LockReason, session: Session): void {
    this.vault.clear();
    this.options.log(`${reason === 'expired' ? 'key expired' : reason === 'replaced' ? 'vault replaced; key dropped' : 'locked'} (unlocked at ${new Date(session.unlockedAt).toISOString()})`);
  }
}
