// The agent over its socket, with the same SecretStore interface as the in-process vault.
// A CLI process asks one or two questions and exits, so the transport is a blocking socket
// driven by plain read(2)/write(2): no node:net, no streams (together ~4 ms of every `get`).
// Before anything is sent, hello included, SO_PEERCRED must show the socket is served by a
// process of our own uid: a socket planted by another user never learns even a secret's name.
// Requests are pipelined and matched to replies by id; an error reply becomes a GlassdomeError
// with the agent's code. This module is on the hot path of `glassdome get`: it imports only
// node:fs, the syscall layer and the protocol codec.

import fs from 'node:fs';
import { GlassdomeError, isErrorCode } from '../errors.js';
import { connectStream, peerCredentials } from '../os/libc.js';
import { Base64Bytes, LineSplitter, decodeRequestLine, encodeLine } from '../protocol/codec.js';
import { MAX_GET_MANY_NAMES, MAX_PENDING_PER_CONNECTION, PROTOCOL_VERSION } from '../protocol/limits.js';
import { fromBase64 } from '../vault/base64.js';
import { getEach, type NewSecret, type SecretInfo, type SecretStore } from '../vault/store.js';

/** How long the client waits for any one reply, or for room to send (ms). */
export const REPLY_TIMEOUT_MS = 60_000;

/**
 * The longest one wait of getMany for the agent's read rate limit may be (ms): a longer one is
 * `rate_limited` at once. At the default limit (500 reads a second, bursts of 1000) a wait is 2 s at most.
 */
export const MAX_RATE_WAIT_MS = 60_000;

/**
 * The longest getMany waits for the read rate limit in all, over every reply of one call (ms): when
 * a reply says the rest would take longer (its `all_after_ms`), or the waits so far and the next
 * would, it is `rate_limited` at once rather than after the waits.
 */
export const MAX_RATE_WAIT_TOTAL_MS = 120_000;

/** Bytes read from the socket at a time. */
const READ_CHUNK_BYTES = 64 * 1024;

/** A successful reply's fields. */
export type Reply = Record<string, unknown>;

/** What the agent says about itself in reply to `hello`. */
export interface Hello {
  agent: string;
  version: string;
  protocol: number;
  pid: number;
  uid: number;
  vault: string;
}

/** The process serving a socket, as the kernel reports it (SO_PEERCRED). */
export interface Peer {
  pid: number;
  uid: number;
}

/** A request written at connect, before the caller asks for it (AgentClient.connect). */
export interface EarlyRequest {
  op: string;
  fields?: Record<string, unknown>;
}

/** What identifies a request written early: its op and fields. */
function requestKey(op: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify([op, fields]);
}

const NO_AGENT_HINT = 'start one with: eval "$(glassdome agent)", then: glassdome unlock';

/** A connection to the agent. */
export class AgentClient implements SecretStore {
  private nextId = 1;
  private readonly splitter = new LineSplitter();
  private readonly replies = new Map<number, Record<string, unknown>>();
  /** Ids of requests written whose replies have not been read yet (at most MAX_PENDING_PER_CONNECTION). */
  private readonly unanswered = new Set<number>();
  private readonly chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  private failure: GlassdomeError | undefined;
  /** The id of a `hello` sent ahead of the first request, and the vault it must name. */
  private pendingHello: { id: number; vault: string } | undefined;
  /** Requests written at connect (`early`), by requestKey, whose replies no request() has taken yet. */
  private readonly asked = new Map<string, number>();
  /** A request line not yet written (the hello), sent ahead of the next one. */
  private unsent: string | undefined;
  private closed = false;
  /** The vault this client means (connect's `vault`): get_many names it, so another vault's agent reads nothing. */
  private meant: string | undefined;
  /** The vault the agent's hello named, once the client found it is the one meant (by another path, maybe). */
  private served: string | undefined;

  private constructor(
    private readonly fd: number,
    readonly socketPath: string,
    /** The kernel's word on who serves the socket: never a pid taken from a reply. */
    readonly peer: Peer,
  ) {}

  /**
   * Connects; `no_agent` when nothing answers at the path, `denied` when the socket is served by
   * another uid (nothing is sent then). With `vault`, a `hello` is pipelined ahead of the first
   * request, and no result is handed out until the agent is shown to serve that vault
   * (`wrong_vault` otherwise): no extra round trip. With `early`, the hello and those requests
   * are written at once, for a caller with work to do before it asks: the agent answers meanwhile,
   * and a later request() for one of them takes its reply instead of asking again. `timeoutMs`
   * bounds each wait for a reply (or for room to send).
   */
  static async connect(socketPath: string, vault?: string, early?: readonly EarlyRequest[], timeoutMs = REPLY_TIMEOUT_MS): Promise<AgentClient> {
    const client = AgentClient.open(socketPath, timeoutMs);
    if (vault !== undefined) {
      // Written together with the first request: one write, and one read for the agent.
      const id = client.nextId++;
      client.unsent = encodeLine({ v: PROTOCOL_VERSION, id, op: 'hello' });
      client.pendingHello = { id, vault };
      client.meant = vault;
    }
    if (early) {
      try {
        if (early.length === 0) client.write('');
        for (const { op, fields } of early) client.asked.set(requestKey(op, fields), client.send(op, fields ?? {}));
      } catch {
        // recorded: the first request reports it
      }
    }
    return client;
  }

  private static open(socketPath: string, timeoutMs: number): AgentClient {
    let fd: number;
    try {
      fd = connectStream(socketPath, timeoutMs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new GlassdomeError('no_agent', `no agent answers at ${socketPath} (${code})`, NO_AGENT_HINT);
    }
    let peer: Peer;
    try {
      peer = peerCredentials(fd);
    } catch (err) {
      fs.closeSync(fd);
      throw new GlassdomeError('no_agent', `cannot tell who serves ${socketPath}: ${(err as Error).message}`, NO_AGENT_HINT);
    }
    const uid = process.getuid?.() ?? 0;
    if (peer.uid !== uid) {
      fs.closeSync(fd);
      throw new GlassdomeError(
        'denied',
        `the socket ${socketPath} is served by uid ${peer.uid} (pid ${peer.pid}), not by your uid ${uid}: nothing was sent to it`,
        'another user may have planted it; unset GLASSDOME_AUTH_SOCK and run: eval "$(glassdome agent)"',
      );
    }
    return new AgentClient(fd, socketPath, { pid: peer.pid, uid: peer.uid });
  }

  /** The pid of the process serving the socket, as the kernel reports it (its uid is ours). */
  async verifyPeerUid(): Promise<number> {
    return this.peer.pid;
  }

  /**
   * Sends one request and resolves with the reply's fields. The request is written at once and its
   * reply read on a later microtask, so requests made together (exec's gets, in a Promise.all)
   * are all on the wire before the first reply is awaited: one round trip, not one each.
   */
  async request(op: string, fields: Record<string, unknown> = {}): Promise<Reply> {
    if (this.failure) throw this.failure;
    const id = this.takeAsked(op, fields) ?? this.send(op, fields);
    await undefined;
    this.checkVaultOnce();
    // A wrong vault, found while reading an earlier reply, is every later request's error too.
    if (this.failure) throw this.failure;
    return this.receiveReply(id);
  }

  /**
   * Reads the reply to the `hello` sent at connect and checks its vault, once. It decides first:
   * a wrong vault is the error of every request, whatever their replies say.
   */
  private checkVaultOnce(): void {
    const pending = this.pendingHello;
    if (!pending) return;
    this.pendingHello = undefined;
    try {
      this.served = checkVault(this.helloReply(this.receiveReply(pending.id)), pending.vault, this.socketPath);
    } catch (err) {
      throw this.fail(err as GlassdomeError);
    }
  }

  /** The agent's description of itself. */
  async hello(): Promise<Hello> {
    return this.helloReply(await this.request('hello'));
  }

  async get(name: string): Promise<Uint8Array> {
    const reply = await this.request('get', { name });
    return base64Field(reply, 'value');
  }

  /**
   * get_many, asked again for the rest while a reply says there is more: the values are views into
   * one buffer per reply, which the caller wipes through them. When the agent's read bucket ran dry,
   * waits as long as its `retry_after_ms` says (told through `onWait`), so the limit is kept, never
   * lifted; a wait longer than MAX_RATE_WAIT_MS, or waits longer than MAX_RATE_WAIT_TOTAL_MS in
   * all, are `rate_limited` instead.
   */
  async getMany(names?: readonly string[], onWait?: (ms: number) => void): Promise<Map<string, Uint8Array>> {
    const values = new Map<string, Uint8Array>();
    let rest = names && [...new Set(names)];
    let last: string | undefined;
    let waited = 0;
    try {
      while (rest === undefined || rest.length > 0) {
        const fields = { ...(rest ? { names: rest.slice(0, MAX_GET_MANY_NAMES) } : last === undefined ? {} : { after: last }), ...(this.meant === undefined ? {} : { vault: this.meant }) };
        const reply = await this.request('get_many', fields).catch((err: unknown) => {
          // An agent started before get_many existed (still running after an upgrade): one get a name.
          if (values.size === 0 && err instanceof GlassdomeError && err.code === 'unknown_op') return null;
          // The vault meant, reached by another link (the agent looks up no client's path): named as the agent names it.
          if (err instanceof GlassdomeError && err.code === 'wrong_vault' && this.served !== undefined && this.meant !== this.served) {
            this.meant = this.served;
            return this.request('get_many', { ...fields, vault: this.served });
          }
          throw err;
        });
        if (reply === null) return await getEach(this, rest);
        const served = valuesOf(reply);
        for (const [name, value] of served) values.set((last = name), value);
        if (rest && [...served.keys()].some((name, i) => name !== rest![i])) throw protocolError('names');
        rest = rest?.slice(served.size);
        if (!rest && reply.more !== true) break;
        const wait = typeof reply.retry_after_ms === 'number' ? reply.retry_after_ms : 0;
        if (served.size === 0 && !(wait > 0)) throw protocolError('names'); // no value and no wait: no progress
        if (wait > MAX_RATE_WAIT_MS) throw rateWaitError(wait, values.size);
        const all = waited + Math.max(wait, typeof reply.all_after_ms === 'number' ? reply.all_after_ms : 0);
        if (all > MAX_RATE_WAIT_TOTAL_MS) throw rateTotalError(all, values.size);
        if (wait > 0) {
          waited += wait;
          onWait?.(wait);
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
      }
      return values;
    } catch (err) {
      for (const value of values.values()) value.fill(0);
      throw err;
    }
  }

  async list(): Promise<string[]> {
    const reply = await this.request('list');
    if (!Array.isArray(reply.names)) throw protocolError('names');
    return reply.names as string[];
  }

  async set(name: string, value: Uint8Array): Promise<void> {
    await this.request('set', { name, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') });
  }

  async rm(name: string): Promise<void> {
    await this.request('rm', { name });
  }

  async infos(): Promise<SecretInfo[]> {
    const reply = await this.request('list', { details: true });
    if (!Array.isArray(reply.entries)) throw protocolError('entries');
    return (reply.entries as Array<{ name: string; created: string; updated: string }>).map((e) => ({ name: e.name, created: Date.parse(e.created), updated: Date.parse(e.updated) }));
  }

  async setMany(entries: readonly NewSecret[]): Promise<void> {
    const wire = entries.map(({ name, value }) => ({ name, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }));
    await this.request('set_many', { entries: wire });
  }

  /** Ends the connection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.chunk.fill(0);
    // Replies read but never taken (an early request, after a wrong vault): their values, wiped.
    for (const reply of this.replies.values()) for (const field of REPLY_SECRET_FIELDS) if (reply[field] instanceof Base64Bytes) reply[field].ascii.fill(0);
    this.replies.clear();
    try {
      fs.closeSync(this.fd);
    } catch {
      // already gone
    }
  }

  private helloReply(reply: Reply): Hello {
    if (typeof reply.pid !== 'number' || typeof reply.vault !== 'string') throw protocolError('hello');
    return reply as unknown as Hello;
  }

  /**
   * The id of a request written early with these op and fields, taken once. Its key is built only
   * while early requests wait: a set's fields hold its value, which no other string should copy.
   */
  private takeAsked(op: string, fields: Record<string, unknown>): number | undefined {
    if (this.asked.size === 0) return undefined;
    const key = requestKey(op, fields);
    const id = this.asked.get(key);
    this.asked.delete(key);
    return id;
  }

  /**
   * Writes one request line; returns its id. At most MAX_PENDING_PER_CONNECTION requests are on
   * the wire unanswered: past that, replies are read (and kept) first. Unbounded, a client writing
   * many requests before reading (exec's gets) and an agent that stops reading once 8 MiB of its
   * replies wait would each wait for the other until the timeout.
   */
  private send(op: string, fields: Record<string, unknown>): number {
    while (this.unanswered.size >= MAX_PENDING_PER_CONNECTION) this.readMore();
    const id = this.nextId++;
    this.write(encodeLine({ v: PROTOCOL_VERSION, id, op, ...fields }));
    this.unanswered.add(id);
    return id;
  }

  /** Writes `text`, after the hello if that is still unsent. */
  private write(text: string): void {
    const line = Buffer.from((this.unsent ?? '') + text);
    this.unsent = undefined;
    try {
      for (let off = 0; off < line.length; ) off += fs.writeSync(this.fd, line, off, line.length - off);
    } catch (err) {
      throw this.fail(ioFailure(err, this.socketPath, 'send to'));
    } finally {
      line.fill(0);
    }
  }

  /** Reads until the reply with `id` has come; an error reply throws. */
  private receiveReply(id: number): Reply {
    for (;;) {
      const reply = this.replies.get(id);
      if (reply) {
        this.replies.delete(id);
        if (reply.ok === true) return reply;
        throw replyError(reply);
      }
      if (this.failure) throw this.failure;
      this.readMore();
    }
  }

  private readMore(): void {
    let n: number;
    try {
      n = fs.readSync(this.fd, this.chunk, 0, this.chunk.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EINTR') return;
      throw this.fail(ioFailure(err, this.socketPath, 'read from'));
    }
    if (n === 0) throw this.fail(new GlassdomeError('no_agent', `the agent at ${this.socketPath} closed the connection`, NO_AGENT_HINT));
    // A complete line comes out of the splitter as a view of what it is given, and the read buffer
    // is wiped and reused: give it its own copy (an unfinished line the splitter copies itself).
    const data = Buffer.from(this.chunk.subarray(0, n));
    this.chunk.fill(0, 0, n);
    for (const frame of this.splitter.push(data)) {
      // A value is cut out as bytes, never a string (src/protocol/codec.ts).
      const doc = frame.kind === 'line' ? decodeRequestLine(frame.bytes, REPLY_SECRET_FIELDS) : undefined;
      if (frame.kind === 'line') frame.bytes.fill(0);
      if (typeof doc !== 'object' || doc === null) throw this.fail(new GlassdomeError('internal', `the agent at ${this.socketPath} sent a malformed reply`));
      const reply = doc as Record<string, unknown>;
      if (typeof reply.id === 'number') {
        this.replies.set(reply.id, reply);
        this.unanswered.delete(reply.id);
      }
      else if (reply.ok !== true) throw this.fail(replyError(reply)); // busy, denied at accept: for every request
    }
    if (this.splitter.buffered === 0) data.fill(0);
  }

  private fail(err: GlassdomeError): GlassdomeError {
    this.failure ??= err;
    return this.failure;
  }
}

/** A socket read or write that failed: a timeout, or the agent gone. */
function ioFailure(err: unknown, socketPath: string, verb: string): GlassdomeError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return new GlassdomeError('io', `the agent at ${socketPath} did not answer within ${REPLY_TIMEOUT_MS / 1000} s`);
  return new GlassdomeError('no_agent', `lost the agent at ${socketPath}: cannot ${verb} it (${code ?? (err as Error).message})`, NO_AGENT_HINT);
}

/** Throws `wrong_vault` unless the agent serves `vault` (as given, or once links are resolved); returns the agent's text for it. */
function checkVault(hello: Hello, vault: string, socketPath: string): string {
  if (hello.vault === vault) return vault;
  let same = false;
  try {
    same = fs.realpathSync(hello.vault) === fs.realpathSync(vault);
  } catch {
    same = false;
  }
  if (!same) {
    throw new GlassdomeError('wrong_vault', `the agent at ${socketPath} serves ${hello.vault}, not ${vault}`, 'give this vault its own agent: eval "$(glassdome agent -a /tmp/glassdome-other.sock)"');
  }
  return hello.vault;
}

/** The reply fields that carry secret bytes. */
const REPLY_SECRET_FIELDS = ['value', 'values'];

/** A get_many reply's values by name: views into the one buffer its `values` decodes to. */
function valuesOf(reply: Reply): Map<string, Uint8Array> {
  const { names, lengths } = reply;
  const bytes = base64Field(reply, 'values');
  const sizes = Array.isArray(lengths) ? (lengths as unknown[]) : [];
  const total = sizes.reduce<number>((sum, n) => sum + (Number.isSafeInteger(n) && (n as number) >= 0 ? (n as number) : NaN), 0);
  if (!Array.isArray(names) || names.length !== sizes.length || total !== bytes.length || !names.every((n) => typeof n === 'string')) {
    bytes.fill(0);
    throw protocolError('names, lengths and values');
  }
  const out = new Map<string, Uint8Array>();
  let offset = 0;
  names.forEach((name: string, i) => {
    out.set(name, bytes.subarray(offset, offset + (sizes[i] as number)));
    offset += sizes[i] as number;
  });
  return out;
}

const RATE_WAIT_HINT = 'name the secrets the command needs (exec -s NAME), or raise rate_limits.read in the sealed policy (docs/POLICY.md)';

/** A wait for the read rate limit longer than MAX_RATE_WAIT_MS. */
function rateWaitError(waitMs: number, read: number): GlassdomeError {
  return new GlassdomeError(
    'rate_limited',
    `the agent's read rate limit holds the rest of these secrets back ${Math.ceil(waitMs / 1000)} s, longer than the ${MAX_RATE_WAIT_MS / 1000} s glassdome waits (${read} read so far)`,
    RATE_WAIT_HINT,
  );
}

/** Waits for the read rate limit longer than MAX_RATE_WAIT_TOTAL_MS in all. */
function rateTotalError(totalMs: number, read: number): GlassdomeError {
  return new GlassdomeError(
    'rate_limited',
    `the agent's read rate limit would hold these secrets back ${Math.ceil(totalMs / 1000)} s in all, longer than the ${MAX_RATE_WAIT_TOTAL_MS / 1000} s glassdome waits (${read} read so far)`,
    RATE_WAIT_HINT,
  );
}

/** A byte field of a reply, decoded from base64. */
export function base64Field(reply: Reply, field: string): Uint8Array {
  const value = reply[field];
  if (value instanceof Base64Bytes) {
    const bytes = fromBase64(value.ascii);
    value.ascii.fill(0);
    if (!bytes) throw protocolError(field);
    return bytes;
  }
  if (typeof value !== 'string') throw protocolError(field);
  return Buffer.from(value, 'base64');
}

function replyError(reply: Record<string, unknown>): GlassdomeError {
  const error = (reply.error ?? {}) as { code?: unknown; message?: unknown; hint?: unknown };
  const code = isErrorCode(error.code) ? error.code : 'internal';
  const message = typeof error.message === 'string' ? error.message : 'the agent reported an error';
  return new GlassdomeError(code, message, typeof error.hint === 'string' ? error.hint : undefined);
}

function protocolError(field: string): GlassdomeError {
  return new GlassdomeError('internal', `the agent's reply has no valid ${field}`);
}
