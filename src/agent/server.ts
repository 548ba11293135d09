// The agent's server: accepts connections on the Unix socket, bounds them, admits only peers of
// its own uid, and answers each request with one handler per op after the lock gate. Requests
// reach the vault through the Guard (policy, rate limits, audit). It never runs the password KDF:
// an unlock carries the master key, which the CLI derived, and is checked by opening the vault.
// The policy it enforces is the one sealed in the vault (src/policy/sealed.ts), learnt at unlock
// and from every reload of the vault file; policy.yaml is only compared with it (SIGHUP).

import net from 'node:net';
import { GlassdomeError } from '../errors.js';
import { coreLimit, isDumpable } from '../os/libc.js';
import { scrubYoungGeneration } from '../os/secure-memory.js';
import type { Client } from '../policy/client.js';
import type { Guard } from '../policy/guard.js';
import { encodeLine, SecretBytes } from '../protocol/codec.js';
import { LISTEN_BACKLOG, MAX_CONNECTIONS, PROTOCOL_VERSION } from '../protocol/limits.js';
import { errorReply, KEYED_OPS, okReply, type Request } from '../protocol/messages.js';
import type { VaultPaths } from '../store/paths.js';
import { loadVault, rotateVault } from '../store/vault-files.js';
import { readPrivate } from '../store/secure-file.js';
import { compareFile, describePolicy, policyDigest, policyInForce, UNKNOWN_POLICY, type FileState, type PolicyInForce } from '../policy/sealed.js';
import type { Policy } from '../policy/policy.js';
import { checkVault, readMasterKeyText } from '../store/vault-text.js';
import { secretCopy } from '../vault/bytes.js';
import { vaultIdOf } from '../vault/format.js';
import { wipeMap } from '../vault/payload.js';
import { keysFor, wipeKeys } from '../vault/vault.js';
import { constantTimeEqual } from '../vault/crypto.js';
import { VERSION } from '../version.js';
import { daemonAnchorOnWrite } from '../audit/anchor.js';
import { verifyAuditLog } from '../audit/log.js';
import { AgentVault } from './agent-vault.js';
import { getMany } from './get-many.js';
import { Connection } from './connection.js';
import { identifyPeer } from './peer.js';
import { releaseIdentity } from '../os/identity.js';
import { AgentState, idleDeadline, type LockReason, type Session } from './state.js';
import { processKey, UnlockThrottle } from './unlock-throttle.js';
import { commandOf } from '../os/proc.js';

/** What the agent tells its operator (stderr under -D; nowhere when detached). */
export type Log = (message: string) => void;

/** How an agent is set up. */
export interface AgentOptions {
  paths: VaultPaths;
  socketPath: string;
  defaultLifetimeMs: number;
  /** Drop the key after this long without a keyed request (ms); undefined: only the lifetime. */
  defaultIdleMs?: number | undefined;
  guard: Guard;
  log: Log;
  /** Told of every change of the policy in force (syslog forwarding follows it). */
  onPolicy?: (policy: Policy | null) => void;
}

export { unlockPenaltyMs } from './unlock-throttle.js';

const LOCK_MESSAGES: Record<LockReason, [string, string]> = {
  never: ['locked', 'the agent is locked'],
  locked: ['locked', 'the agent is locked'],
  expired: ['expired', 'session expired: run glassdome unlock'],
  idle: ['expired', 'the key was dropped after its idle time without a request: run glassdome unlock'],
  replaced: ['locked', 'the vault was replaced or removed since it was unlocked'],
};
const UNLOCK_HINT = 'unlock it: glassdome unlock';

/** With an idle limit: `idle_s` and `idle_expires_at` (when the key goes if no request comes). */
function idleFields(session: Session): Record<string, unknown> {
  const at = idleDeadline(session);
  return at === undefined ? {} : { idle_s: Math.round(session.idleMs! / 1000), idle_expires_at: new Date(at).toISOString() };
}

/** The agent: state, vault and socket server. */
export class AgentServer {
  readonly state: AgentState;
  readonly vault: AgentVault;
  private readonly guard: Guard;
  private readonly server: net.Server;
  private readonly connections = new Set<net.Socket>();
  private readonly unlockThrottle = new UnlockThrottle();
  private inForce: PolicyInForce = UNKNOWN_POLICY;
  private sealedText: string | null = null;

  constructor(private readonly options: AgentOptions) {
    this.guard = options.guard;
    this.state = new AgentState((reason, session) => this.onLock(reason, session));
    this.vault = new AgentVault(options.paths, this.state);
    this.vault.hooks = { onPolicy: (text) => this.installPolicy(text), anchor: daemonAnchorOnWrite(this.guard.audit, this.options.log) };
    this.server = net.createServer((socket) => this.accept(socket));
  }

  /** The policy in force and what it came from. */
  get policy(): PolicyInForce {
    return this.inForce;
  }

  /**
   * SIGHUP: policy.yaml changes nothing once a policy is sealed; the difference is logged and
   * audited. With nothing sealed, the file's presence is looked at again (present: refuse all).
   */
  reloadSignal(): void {
    if (this.inForce.source === 'none' || this.inForce.source === 'unsealed') this.installPolicy(null, true);
    const file = this.fileState();
    const text = `SIGHUP: policy in force: ${describePolicy(this.inForce, file)}`;
    this.options.log(text);
    const result = file === 'differs' || (file === 'absent' && this.inForce.source === 'sealed') ? 'ignored' : 'success';
    this.record(null, { event_type: 'admin_action', action: 'policy_reload', resource: 'policy.yaml', result, reason: text.replace(/^SIGHUP: /, '') });
  }

  /** Installs the policy sealed in the payload just loaded or written (null: none sealed). */
  private installPolicy(sealed: string | null, force = false): void {
    if (!force && this.inForce.source === 'sealed' && sealed !== null && sealed === this.sealedText) return;
    const next = policyInForce(sealed, sealed === null ? this.fileText() : null);
    const changed = next.source !== this.inForce.source || next.sha256 !== this.inForce.sha256;
    this.sealedText = sealed;
    this.inForce = next;
    this.guard.setPolicy(next.policy, next.blocked);
    this.options.onPolicy?.(next.policy);
    if (changed) this.options.log(`policy in force: ${describePolicy(next, this.fileState())}`);
  }

  /**
   * policy.yaml's text, null when absent; an unreadable file counts as present (fail closed).
   * Opened without blocking: a FIFO planted there must not stall the agent.
   */
  private fileText(): string | null {
    try {
      return readPrivate(this.options.paths.policy)?.text ?? null;
    } catch (err) {
      return `unreadable: ${(err as Error).message}`;
    }
  }

  private fileState(): FileState {
    return compareFile(this.inForce, this.fileText());
  }

  /**
   * Starts listening on a socket path the caller prepared (directory checked, stale socket gone),
   * or on an inherited listening descriptor (systemd socket activation).
   */
  listen(fd?: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(fd === undefined ? { path: this.options.socketPath, backlog: LISTEN_BACKLOG } : { fd }, () => {
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

  /** Records an event; a failure to write is logged (callers that hand out secrets fail closed elsewhere). */
  record(client: Client | null, event: Parameters<Guard['record']>[1]): void {
    this.guard.record(client, event).catch((err: Error) => this.options.log(err.message));
  }

  private accept(socket: net.Socket): void {
    socket.on('error', () => socket.destroy());
    if (this.connections.size >= MAX_CONNECTIONS) {
      socket.end(encodeLine(errorReply(null, 'busy', `the agent serves at most ${MAX_CONNECTIONS} connections at once`)));
      return;
    }
    let client: Client;
    try {
      client = identifyPeer(socket);
    } catch (err) {
      this.options.log(`cannot identify a peer: ${(err as Error).message}`);
      socket.destroy();
      return;
    }
    const uid = process.getuid?.() ?? 0;
    if (client.uid !== uid) {
      this.options.log(`refused pid ${client.pid} uid ${client.uid} (${client.exe ?? 'unknown exe'}): not uid ${uid}`);
      this.record(client, { event_type: 'peer_denied', action: 'connect', resource: null, result: 'denied', reason: `uid ${client.uid} is not the agent's uid ${uid}` });
      socket.end(encodeLine(errorReply(null, 'denied', `uid ${client.uid} may not use the agent of uid ${uid}`)));
      if (client.identity) releaseIdentity(client.identity);
      return;
    }
    this.connections.add(socket);
    socket.on('close', () => {
      this.connections.delete(socket);
      if (client.identity) releaseIdentity(client.identity);
    });
    new Connection(socket, client, (request, c) => this.answer(request, c), (c, reason) => this.options.log(`bad frame from pid ${c.pid}: ${reason}`));
  }

  /** The reply to a request (never rejects). A get takes no async step but its audit line. */
  private answer(request: Request, client: Client): Promise<Record<string, unknown>> {
    try {
      if (KEYED_OPS.has(request.op)) {
        if (!this.state.current()) {
          checkVault(this.options.paths); // "no vault" (run init) says more than "locked" (run unlock)
          const [code, message] = LOCK_MESSAGES[this.state.lockReason];
          return Promise.resolve(errorReply(request.id, code, message, UNLOCK_HINT));
        }
        this.vault.refresh(); // a policy sealed by another process is in force before this request is decided
        this.state.touch();
      }
      const done = request.op === 'get' ? this.get(request.name, client) : this.handle(request, client);
      return done.then(
        (fields) => okReply(request.id, fields),
        (err: unknown) => this.failure(request, err),
      );
    } catch (err) {
      return Promise.resolve(this.failure(request, err));
    }
  }

  private failure(request: Request, err: unknown): Record<string, unknown> {
    if (err instanceof GlassdomeError) return errorReply(request.id, err.code, err.message, err.hint);
    this.options.log(`internal error in ${request.op}: ${(err as Error).stack ?? String(err)}`);
    return errorReply(request.id, 'internal', 'internal error in the agent');
  }

  /** A value, handed to the reply's encoder, which writes its base64 into the line and wipes it. */
  private get(name: string, client: Client): Promise<Record<string, unknown>> {
    return this.guard.store(client, this.vault).get(name).then((value) => ({ value: new SecretBytes(value) }));
  }

  private async handle(request: Request, client: Client): Promise<Record<string, unknown>> {
    const store = this.guard.store(client, this.vault);
    switch (request.op) {
      case 'hello':
        return { agent: 'glassdome', version: VERSION, protocol: PROTOCOL_VERSION, pid: process.pid, uid: process.getuid?.() ?? 0, vault: this.options.paths.home };
      case 'status':
        return this.status();
      case 'unlock':
        return request.key === null ? this.reportedFailure(client) : this.unlock(request.key, request.lifetime, client, request.idle);
      case 'lock':
        await this.guard.authorize(client, 'admin', 'lock', null);
        this.record(client, { event_type: 'admin_action', action: 'lock', resource: null, result: 'success' });
        await this.anchor('lock'); // the lines of this session, the lock line included, are anchored before the key goes
        this.state.lock('locked');
        return {};
      case 'get':
        return this.get(request.name, client);
      case 'list': {
        if (!request.details) return { names: await store.list() };
        const infos = await store.infos();
        const iso = (ms: number): string => new Date(ms).toISOString();
        return { names: infos.map((e) => e.name), entries: infos.map((e) => ({ name: e.name, created: iso(e.created), updated: iso(e.updated) })) };
      }
      case 'set':
        await store.set(request.name, request.value);
        return {};
      case 'rm':
        await store.rm(request.name);
        return {};
      case 'set_many':
        try {
          await store.setMany(request.entries);
        } finally {
          for (const e of request.entries) e.value.fill(0);
        }
        return { count: request.entries.length };
      case 'policy_show':
        return { source: this.inForce.source, sha256: this.inForce.sha256, text: this.sealedText, file: this.fileState() };
      case 'policy_apply':
        return this.applyPolicy(request.text, client);
      case 'audit_verify': {
        // Reads the whole log in the event loop: an admin's occasional check, not a hot path.
        const report = verifyAuditLog(this.guard.audit.path, { key: this.state.auditKey!, anchor: this.vault.anchor });
        return { lines: report.lines, files: report.files, keyed: report.keyed, unkeyed: report.unkeyed, legacy: report.legacy, last_seq: report.lastSeq, anchored_at: report.anchoredAt, anchor_lines: this.vault.anchor?.lines ?? null, broken: report.broken };
      }
      case 'rotate':
        return this.rotate(request, client);
      case 'get_many':
        return getMany(this.guard, client, this.vault, request, this.options.paths.home);
    }
  }

  /**
   * Seals a policy into the vault: an admin action under the policy in force (with nothing sealed
   * yet, any client of the agent's uid may, as it could change everything anyway).
   */
  private async applyPolicy(text: string, client: Client): Promise<Record<string, unknown>> {
    if (this.inForce.source === 'sealed') await this.guard.authorize(client, 'admin', 'policy_apply', null);
    const { parsePolicy } = require('../policy/policy.js') as typeof import('../policy/policy.js');
    parsePolicy(text); // policy_invalid, naming the line
    const sha256 = policyDigest(text);
    await this.guard.record(client, { event_type: 'admin_action', action: 'policy_apply', resource: 'policy', result: 'attempt', reason: `sha256 ${sha256}` }, this.guard.identityCheck(client, 'policy_apply', 'policy'));
    await this.vault.applyPolicy(text);
    this.record(client, { event_type: 'admin_action', action: 'policy_apply', resource: 'policy', result: 'success', reason: `sha256 ${sha256}` });
    return { sha256 };
  }

  private status(): Record<string, unknown> {
    const memory = this.state.memoryLock;
    const hardening = { dumpable: isDumpable(), core_limit: Number(coreLimit()[1]), keys_mlocked: memory.locked };
    const session = this.state.info;
    const secretCount = session ? this.vault.count() : 0; // first: it reloads a changed vault, and so its policy
    const policy = { source: this.inForce.source, sha256: this.inForce.sha256, file: this.fileState() };
    const base = { pid: process.pid, socket: this.options.socketPath, vault: this.options.paths.home, hardening, policy };
    if (!session) return { ...base, state: 'locked', reason: this.state.lockReason };
    return {
      ...base,
      state: 'unlocked',
      vault_id: session.vaultId,
      unlocked_at: new Date(session.unlockedAt).toISOString(),
      expires_at: new Date(session.expiresAt).toISOString(),
      ...idleFields(session),
      secret_count: secretCount,
    };
  }

  /**
   * Unlocks are serialized and rate-limited per client process; each failure in a row of that
   * process doubles its wait before its next answer. Every attempt is audited.
   */
  private unlock(key: Uint8Array, lifetimeS: number | undefined, client: Client, idleS?: number): Promise<Record<string, unknown>> {
    const copy = secretCopy(key); // the request's buffer is wiped when this call returns
    return this.serialized(client, 'master key', async () => {
      const vaultId = vaultIdOf(readMasterKeyText(this.options.paths));
      const candidate = keysFor(vaultId, secretCopy(copy));
      let opened: ReturnType<typeof loadVault>;
      try {
        opened = loadVault(this.options.paths, candidate);
      } catch (err) {
        if (err instanceof GlassdomeError && err.code === 'tampered') {
          this.failed(client, 'the key does not open the vault');
          throw new GlassdomeError('bad_key', 'that key does not open this vault (a wrong key, or a damaged or tampered secrets.encrypted)');
        }
        throw err;
      } finally {
        wipeKeys(candidate);
      }
      this.unlockThrottle.succeeded(processKey(client));
      const lifetimeMs = lifetimeS !== undefined ? lifetimeS * 1000 : this.options.defaultLifetimeMs;
      const idleMs = idleS !== undefined ? idleS * 1000 : this.options.defaultIdleMs;
      const session = this.state.unlock(vaultId, copy, lifetimeMs, Date.now(), idleMs);
      copy.fill(0);
      let count: number;
      try {
        count = this.vault.adoptUnlock(opened.payload, opened.signature);
      } finally {
        wipeMap(opened.payload.map);
      }
      this.options.log(`unlocked by pid ${client.pid} until ${new Date(session.expiresAt).toISOString()}`);
      this.record(client, { event_type: 'auth_success', action: 'unlock', resource: null, result: 'success', reason: `until ${new Date(session.expiresAt).toISOString()}` });
      return { vault_id: vaultId, expires_at: new Date(session.expiresAt).toISOString(), ...idleFields(session), secret_count: count };
    }).finally(() => copy.fill(0));
  }

  /**
   * A rotation: the client (which ran the KDF) sends the current master key as proof, a new one,
   * and the new master_key.enc sealing it. The files are committed under the vault lock, and the
   * agent takes the new key inside that same lock, keeping its session's deadline.
   */
  private async rotate(request: Extract<Request, { op: 'rotate' }>, client: Client): Promise<Record<string, unknown>> {
    await this.guard.authorize(client, 'admin', 'rotate_key', null);
    const keys = this.state.current()!;
    if (!constantTimeEqual(request.oldKey, keys.masterKey)) {
      this.failed(client, 'rotate: old_key is not the key the agent holds');
      throw new GlassdomeError('bad_key', 'old_key is not the master key this agent holds', 'run glassdome unlock, then glassdome rotate');
    }
    const oldKeys = keysFor(keys.vaultId, Uint8Array.from(keys.masterKey));
    const newKeys = keysFor(keys.vaultId, Uint8Array.from(request.key));
    try {
      await rotateVault(this.options.paths, { oldKeys, newKeys, masterKeyText: request.masterKey, replaces: request.replaces }, () => {
        this.state.rekey(newKeys.masterKey);
        try {
          const opened = loadVault(this.options.paths, this.state.current()!);
          try {
            this.vault.adoptUnlock(opened.payload, opened.signature);
          } finally {
            wipeMap(opened.payload.map);
          }
        } catch (err) {
          this.state.lock('locked'); // never serve with keys and a cache out of step
          throw err;
        }
      });
    } finally {
      wipeKeys(oldKeys);
      wipeKeys(newKeys);
    }
    this.options.log(`master key rotated by pid ${client.pid}`);
    this.record(client, { event_type: 'admin_action', action: 'rotate_key', resource: null, result: 'success', reason: 'new master key; every secret re-sealed' });
    return { vault_id: keys.vaultId, expires_at: new Date(this.state.info!.expiresAt).toISOString(), secret_count: this.vault.count() };
  }

  /** A client reports a password that did not open master_key.enc (the KDF runs in the client). */
  private async reportedFailure(client: Client): Promise<Record<string, unknown>> {
    return this.serialized(client, 'password, checked by the client', async () => {
      this.failed(client, 'wrong password (reported by the client)');
      throw new GlassdomeError('bad_password', 'wrong password', 'try again; the password is the one given to glassdome init or passwd');
    });
  }

  private serialized<T>(client: Client, method: string, run: () => Promise<T>): Promise<T> {
    const key = processKey(client);
    return this.unlockThrottle.run(key, async () => {
      await this.guard.limit(this.guard.unlocks, client, 'unlock', null, key);
      this.record(client, { event_type: 'auth_attempt', action: 'unlock', resource: null, result: 'attempt', reason: method });
      await this.unlockThrottle.penalty(key);
      return run();
    });
  }

  private failed(client: Client, reason: string): void {
    const inARow = this.unlockThrottle.failed(processKey(client));
    const command = commandOf(client.pid) ?? client.exe ?? 'unknown command';
    this.options.log(`failed unlock from pid ${client.pid} (${command}): ${reason}; ${inARow} in a row from that process`);
    this.record(client, { event_type: 'auth_failure', action: 'unlock', resource: null, result: 'failure', reason: `${reason}; from ${command}` });
  }

  /** Seals the audit log's head into the vault (best effort: a failure is logged, the lock or unlock goes on). */
  private async anchor(when: string): Promise<void> {
    if (!this.state.current()) return;
    try {
      await this.vault.reanchor();
    } catch (err) {
      this.options.log(`could not anchor the audit log at ${when}: ${(err as Error).message}`);
    }
  }

  /** The log no longer holds the line the vault anchored: the anchor stays, and this is said and audited. */
  private onLock(reason: LockReason, session: Session): void {
    this.vault.clear();
    scrubYoungGeneration();
    if (reason === 'expired' || reason === 'idle') this.record(null, { event_type: 'session_expired', action: 'expire', resource: null, result: 'success', reason: `${reason === 'idle' ? 'idle; ' : ''}unlocked at ${new Date(session.unlockedAt).toISOString()}` });
    this.options.log(`${reason === 'expired' ? 'key expired' : reason === 'idle' ? 'key dropped after its idle time' : reason === 'replaced' ? 'vault replaced; key dropped' : 'locked'} (unlocked at ${new Date(session.unlockedAt).toISOString()})`);
  }
}
