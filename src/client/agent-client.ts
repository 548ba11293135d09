// The agent over its socket, with the same SecretStore interface as the in-process vault.
// Requests are pipelined on one connection and matched to replies by id; an error reply becomes
// a GlassdomeError with the agent's code. This module is on the hot path of `glassdome get`, so it
// imports only node:net and the protocol codec.

import fs from 'node:fs';
import net from 'node:net';
import { GlassdomeError, isErrorCode } from '../errors.js';
import { LineSplitter, decodeJson, encodeLine } from '../protocol/codec.js';
import { PROTOCOL_VERSION } from '../protocol/limits.js';
import type { NewSecret, SecretInfo, SecretStore } from '../vault/store.js';

/** How long the client waits for any one reply (ms). */
export const REPLY_TIMEOUT_MS = 60_000;

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

interface Pending {
  resolve: (reply: Reply) => void;
  reject: (err: Error) => void;
}

const NO_AGENT_HINT = 'start one with: eval "$(glassdome agent)", then: glassdome unlock';

/** A connection to the agent. */
export class AgentClient implements SecretStore {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly splitter = new LineSplitter();
  private failure: Error | undefined;
  private verified: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly socket: net.Socket,
    readonly socketPath: string,
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err) => this.abort(new GlassdomeError('no_agent', `lost the agent at ${socketPath}: ${err.message}`, NO_AGENT_HINT)));
    socket.on('close', () => this.abort(new GlassdomeError('no_agent', `the agent at ${socketPath} closed the connection`, NO_AGENT_HINT)));
    socket.setTimeout(REPLY_TIMEOUT_MS, () => {
      if (this.pending.size > 0) this.abort(new GlassdomeError('io', `the agent at ${socketPath} did not answer within ${REPLY_TIMEOUT_MS / 1000} s`));
      socket.destroy();
    });
  }

  /**
   * Connects; `no_agent` when nothing answers at the path. With `vault`, a `hello` is pipelined
   * ahead of the first request, and no result is handed out until the agent is shown to serve
   * that vault (`wrong_vault` otherwise): no extra round trip.
   */
  static async connect(socketPath: string, vault?: string): Promise<AgentClient> {
    const client = await AgentClient.open(socketPath);
    if (vault !== undefined) {
      client.verified = client.hello().then((hello) => checkVault(hello, vault, socketPath));
      client.verified.catch(() => undefined);
    }
    return client;
  }

  private static open(socketPath: string): Promise<AgentClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new GlassdomeError('no_agent', `no agent answers at ${socketPath} (${err.code ?? err.message})`, NO_AGENT_HINT));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(new AgentClient(socket, socketPath));
      });
    });
  }

  /**
   * Checks, with SO_PEERCRED, that the process serving this socket runs as our uid: done before
   * a key or a value is sent, so a socket planted by someone else never receives one.
   */
  async verifyPeerUid(): Promise<number> {
    const { peerCredentials } = require('../os/libc.js') as typeof import('../os/libc.js');
    const fd = (this.socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    const uid = process.getuid?.() ?? 0;
    const peer = typeof fd === 'number' ? peerCredentials(fd) : undefined;
    if (!peer || peer.uid !== uid) {
      throw new GlassdomeError('denied', `the process at ${this.socketPath} runs as uid ${peer?.uid ?? 'unknown'}, not ${uid}: nothing was sent`, 'check GLASSDOME_AUTH_SOCK');
    }
    return peer.pid;
  }

  /** Sends one request and resolves with the reply's fields. */
  request(op: string, fields: Record<string, unknown> = {}): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const reply = new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.write(encodeLine({ v: PROTOCOL_VERSION, id, op, ...fields }));
    });
    if (op === 'hello') return reply;
    // The vault check decides first: a wrong vault is the error, whatever this reply says.
    return reply.then(
      (r) => this.verified.then(() => r),
      (err: unknown) =>
        this.verified.then(() => {
          throw err;
        }),
    );
  }

  /** The agent's description of itself. */
  async hello(): Promise<Hello> {
    const reply = await this.request('hello');
    if (typeof reply.pid !== 'number' || typeof reply.vault !== 'string') throw protocolError('hello');
    return reply as unknown as Hello;
  }

  async get(name: string): Promise<Uint8Array> {
    const reply = await this.request('get', { name });
    return base64Field(reply, 'value');
  }

  async list(): Promise<string[]> {
    const reply = await this.request('list');
    if (!Array.isArray(reply.names)) throw protocolError('names');
    return reply.names as string[];
  }

  async set(name: string, value: Uint8Array): Promise<void> {
    await this.verifyPeerUid();
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
    await this.verifyPeerUid();
    const wire = entries.map(({ name, value }) => ({ name, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }));
    await this.request('set_many', { entries: wire });
  }

  /** Ends the connection. */
  close(): void {
    this.socket.end();
  }

  private receive(chunk: Buffer): void {
    for (const frame of this.splitter.push(chunk)) {
      const doc = frame.kind === 'line' ? decodeJson(frame.bytes) : undefined;
      if (typeof doc !== 'object' || doc === null) {
        this.abort(new GlassdomeError('internal', `the agent at ${this.socketPath} sent a malformed reply`));
        return;
      }
      this.settle(doc as Record<string, unknown>);
    }
  }

  private settle(reply: Record<string, unknown>): void {
    const id = reply.id;
    const error = reply.ok === true ? undefined : replyError(reply);
    if (id === null && error) {
      this.abort(error);
      return;
    }
    const pending = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (!pending) return;
    this.pending.delete(id as number);
    if (error) pending.reject(error);
    else pending.resolve(reply);
  }

  private abort(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

function checkVault(hello: Hello, vault: string, socketPath: string): void {
  if (hello.vault === vault) return;
  let same = false;
  try {
    same = fs.realpathSync(hello.vault) === fs.realpathSync(vault);
  } catch {
    same = false;
  }
  if (!same) {
    throw new GlassdomeError('wrong_vault', `the agent at ${socketPath} serves ${hello.vault}, not ${vault}`, 'give this vault its own agent: eval "$(glassdome agent -a /tmp/glassdome-other.sock)"');
  }
}

/** A byte field of a reply, decoded from base64. */
export function base64Field(reply: Reply, field: string): Uint8Array {
  const value = reply[field];
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
