// A small etcd v3 client over etcd's JSON gRPC gateway (`/v3/kv/range`, `/v3/kv/put`,
// `/v3/kv/deleterange`, `/v3/kv/txn`, `/v3/watch`), served by etcd 3.4 and 3.5 alike, with
// node:http and nothing else (docs/ETCD.md says why not the `etcd3` package). It owns the wire
// form (base64 bytes, int64 as strings), endpoint failover, request timeouts and response size
// bounds, and turns every failure into a GlassdomeError: `unavailable` when no member answers in
// time. It never puts a key's or a value's bytes into an error message.

import http from 'node:http';
import { GlassdomeError } from '../errors.js';
import { prefixEnd } from './layout.js';

export { etcdKey, prefixEnd } from './layout.js';

/** How long one request may take before the next member is tried (ms). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 2000;
/** The largest response body read from etcd (bytes); a larger one fails (page ranges with `limit`). */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
/** The largest single watch message read from etcd (bytes). */
export const MAX_WATCH_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Idle keep-alive connections kept per member. */
const MAX_IDLE_SOCKETS = 8;

/** A key and its value as etcd stores them, with etcd's revisions. */
export interface KeyValue {
  key: Uint8Array;
  value: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
}

/** One condition of a transaction. */
export interface Compare {
  key: Uint8Array;
  target: 'MOD' | 'VERSION' | 'CREATE' | 'VALUE';
  result: 'EQUAL' | 'NOT_EQUAL' | 'GREATER' | 'LESS';
  modRevision?: number;
  version?: number;
  createRevision?: number;
  value?: Uint8Array;
}

/** One operation of a transaction branch. */
export type TxnOp = { put: { key: Uint8Array; value: Uint8Array } } | { delete: { key: Uint8Array; end?: Uint8Array } } | { range: { key: Uint8Array; end?: Uint8Array } };

/** One change delivered by a watch. */
export interface WatchEvent {
  type: 'PUT' | 'DELETE';
  kv: KeyValue;
}

/** The `unavailable` error of this client; `ambiguous` when a write may have been applied although no answer came back. */
export class EtcdUnavailable extends GlassdomeError {
  readonly ambiguous: boolean;
  constructor(message: string, ambiguous: boolean) {
    super('unavailable', message, 'check that the etcd members of --store are running and reachable (etcdctl endpoint health)');
    this.ambiguous = ambiguous;
  }
}

/** True for an error that means "etcd did not answer" (as opposed to a refusal or a bug). */
export function isUnavailable(err: unknown): boolean {
  return err instanceof GlassdomeError && err.code === 'unavailable';
}

type Json = Record<string, unknown>;

/** A failure of one attempt: `sent` when the request may have reached etcd. */
class AttemptError extends Error {
  constructor(
    message: string,
    readonly sent: boolean,
  ) {
    super(message);
  }
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const unb64 = (text: unknown): Uint8Array => (typeof text === 'string' ? new Uint8Array(Buffer.from(text, 'base64')) : new Uint8Array(0));
const int = (v: unknown): number => (v === undefined ? 0 : Number(v));

function kvOf(raw: unknown): KeyValue {
  const kv = raw as Json;
  return { key: unb64(kv.key), value: unb64(kv.value), createRevision: int(kv.create_revision), modRevision: int(kv.mod_revision), version: int(kv.version) };
}

function revisionOf(body: Json): number {
  return int((body.header as Json | undefined)?.revision);
}

function opJson(op: TxnOp): Json {
  if ('put' in op) return { request_put: { key: b64(op.put.key), value: b64(op.put.value) } };
  if ('delete' in op) return { request_delete_range: { key: b64(op.delete.key), ...(op.delete.end ? { range_end: b64(op.delete.end) } : {}) } };
  return { request_range: { key: b64(op.range.key), ...(op.range.end ? { range_end: b64(op.range.end) } : {}) } };
}

function compareJson(c: Compare): Json {
  const out: Json = { key: b64(c.key), target: c.target, result: c.result };
  if (c.target === 'MOD') out.mod_revision = String(c.modRevision ?? 0);
  if (c.target === 'VERSION') out.version = String(c.version ?? 0);
  if (c.target === 'CREATE') out.create_revision = String(c.createRevision ?? 0);
  if (c.target === 'VALUE') out.value = b64(c.value ?? new Uint8Array(0));
  return out;
}

/** The response of one transaction operation, with its key-values decoded. */
function responseOf(raw: unknown): unknown {
  const r = raw as Json;
  const range = r.response_range as Json | undefined;
  if (range) return { range: { kvs: ((range.kvs as unknown[]) ?? []).map(kvOf), more: range.more === true } };
  if (r.response_put) return { put: {} };
  const del = r.response_delete_range as Json | undefined;
  if (del) return { delete: { deleted: int(del.deleted) } };
  return r;
}

/** An etcd v3 client over the JSON gateway of one cluster's members. */
export class EtcdClient {
  private readonly endpoints: URL[];
  private readonly timeoutMs: number;
  private readonly agent = new http.Agent({ keepAlive: true, maxFreeSockets: MAX_IDLE_SOCKETS });
  private current = 0;
  private closed = false;
  private readonly watches = new Set<http.ClientRequest>();

  /** A client of the members at `endpoints` (`http://HOST:PORT`), tried in turn when one fails. */
  constructor(endpoints: string[], options: { requestTimeoutMs?: number } = {}) {
    if (endpoints.length === 0) throw new GlassdomeError('usage', 'no etcd endpoint given');
    this.endpoints = endpoints.map((e) => {
      const url = new URL(e);
      if (url.protocol !== 'http:') throw new GlassdomeError('usage', `etcd endpoint ${e} is not http://HOST:PORT`);
      return url;
    });
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** The member requests go to first (`http://HOST:PORT`). */
  get endpoint(): string {
    return this.endpoints[this.current]!.origin;
  }

  /** Reads one key, every key under a prefix, or the keys from `key` up to `end` (exclusive), at the current (linearizable) or a given revision. */
  async range(key: Uint8Array, options: { prefix?: boolean; end?: Uint8Array; revision?: number; serializable?: boolean; limit?: number } = {}): Promise<{ kvs: KeyValue[]; revision: number; more: boolean }> {
    const body: Json = { key: b64(key) };
    if (options.prefix) body.range_end = b64(prefixEnd(key));
    if (options.end) body.range_end = b64(options.end);
    if (options.revision) body.revision = String(options.revision);
    if (options.serializable) body.serializable = true;
    if (options.limit) body.limit = String(options.limit);
    const res = await this.call('/v3/kv/range', body, true);
    return { kvs: ((res.kvs as unknown[]) ?? []).map(kvOf), revision: revisionOf(res), more: res.more === true };
  }

  /** Writes one key. */
  async put(key: Uint8Array, value: Uint8Array): Promise<{ revision: number }> {
    return { revision: revisionOf(await this.call('/v3/kv/put', { key: b64(key), value: b64(value) }, false)) };
  }

  /** Deletes one key, or every key under a prefix. */
  async delete(key: Uint8Array, options: { prefix?: boolean } = {}): Promise<{ deleted: number; revision: number }> {
    const body: Json = { key: b64(key) };
    if (options.prefix) body.range_end = b64(prefixEnd(key));
    const res = await this.call('/v3/kv/deleterange', body, false);
    return { deleted: int(res.deleted), revision: revisionOf(res) };
  }

  /** Runs `success` when every comparison holds, else `failure`, as one atomic step. */
  async txn(compare: Compare[], success: TxnOp[], failure: TxnOp[] = []): Promise<{ succeeded: boolean; revision: number; responses: unknown[] }> {
    const res = await this.call('/v3/kv/txn', { compare: compare.map(compareJson), success: success.map(opJson), failure: failure.map(opJson) }, false);
    return { succeeded: res.succeeded === true, revision: revisionOf(res), responses: ((res.responses as unknown[]) ?? []).map(responseOf) };
  }

  /**
   * Streams the changes to a key (or a prefix) from `startRevision` on, as etcd orders them; a
   * broken stream calls `onError` once and ends (the caller watches again from where it was).
   * The stream asks for a member with a leader (`hasleader`), so one cut off from its cluster
   * ends it instead of going quiet.
   */
  watch(key: Uint8Array, options: { prefix?: boolean; startRevision?: number }, onEvents: (events: WatchEvent[], revision: number) => void, onError: (err: Error) => void): { cancel(): void } {
    const endpoint = this.endpoints[this.current]!;
    const create: Json = { key: b64(key), ...(options.prefix ? { range_end: b64(prefixEnd(key)) } : {}), ...(options.startRevision ? { start_revision: String(options.startRevision) } : {}) };
    const text = JSON.stringify({ create_request: create });
    let done = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      this.watches.delete(req);
      req.destroy();
      if (err) onError(err);
    };
    const req = http.request({ host: endpoint.hostname, port: endpoint.port, path: '/v3/watch', method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'grpc-metadata-hasleader': 'true' } });
    this.watches.add(req);
    const connectTimer = setTimeout(() => {
      this.failover(endpoint);
      finish(new EtcdUnavailable(`etcd at ${endpoint.origin} did not answer a watch within ${this.timeoutMs} ms`, false));
    }, this.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      this.failover(endpoint);
      finish(new EtcdUnavailable(`etcd watch at ${endpoint.origin} failed (${err.code ?? err.message})`, false));
    });
    req.on('response', (res) => {
      clearTimeout(connectTimer);
      if (res.statusCode !== 200) {
        res.resume();
        this.failover(endpoint);
        return finish(new EtcdUnavailable(`etcd at ${endpoint.origin} refused a watch (HTTP ${res.statusCode})`, false));
      }
      let pending = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        pending += chunk;
        let nl: number;
        while (!done && (nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (line.trim() !== '') this.watchLine(line, endpoint, onEvents, finish);
        }
        if (pending.length > MAX_WATCH_MESSAGE_BYTES) finish(new GlassdomeError('too_large', `an etcd watch message from ${endpoint.origin} is over ${MAX_WATCH_MESSAGE_BYTES} bytes`));
      });
      res.on('end', () => finish(new EtcdUnavailable(`etcd at ${endpoint.origin} ended the watch`, false)));
      res.on('error', () => finish(new EtcdUnavailable(`etcd watch at ${endpoint.origin} broke off`, false)));
    });
    req.end(text);
    return { cancel: () => finish(null) };
  }

  /** Ends every watch and closes idle connections. */
  close(): void {
    this.closed = true;
    for (const req of this.watches) req.destroy();
    this.watches.clear();
    this.agent.destroy();
  }

  private watchLine(line: string, endpoint: URL, onEvents: (events: WatchEvent[], revision: number) => void, finish: (err: Error | null) => void): void {
    let msg: Json;
    try {
      msg = JSON.parse(line) as Json;
    } catch {
      return finish(new GlassdomeError('corrupt', `etcd at ${endpoint.origin} sent a watch message that is not JSON`));
    }
    if (msg.error) {
      this.failover(endpoint);
      return finish(new EtcdUnavailable(`etcd at ${endpoint.origin} ended the watch: ${String((msg.error as Json).message ?? 'error')}`, false));
    }
    const result = (msg.result ?? {}) as Json;
    if (result.canceled === true || int(result.compact_revision) > 0) {
      const compacted = int(result.compact_revision);
      if (compacted === 0) this.failover(endpoint); // "no leader": try a member that has one
      return finish(compacted > 0 ? new WatchCompacted(compacted) : new EtcdUnavailable(`etcd at ${endpoint.origin} cancelled the watch: ${String(result.cancel_reason ?? 'no reason given')}`, false));
    }
    const events = ((result.events as Json[] | undefined) ?? []).map((e): WatchEvent => ({ type: e.type === 'DELETE' ? 'DELETE' : 'PUT', kv: kvOf(e.kv) }));
    if (events.length > 0 || result.created !== true) onEvents(events, revisionOf(result));
  }

  /** Moves on to the next member when `failed` is still the current one. */
  private failover(failed: URL): void {
    if (this.endpoints[this.current] === failed) this.current = (this.current + 1) % this.endpoints.length;
  }

  /**
   * POSTs to each member in turn until one answers. A read is retried on the next member after
   * any failure; a write only when it surely never reached etcd (connection refused), otherwise
   * it fails with `ambiguous` set, and the caller checks what etcd holds.
   */
  private async call(path: string, body: Json, idempotent: boolean): Promise<Json> {
    if (this.closed) throw new GlassdomeError('internal', 'etcd client used after close');
    const text = JSON.stringify(body);
    const tried: string[] = [];
    let ambiguous = false;
    for (let n = 0; n < this.endpoints.length; n++) {
      const endpoint = this.endpoints[this.current]!;
      try {
        return await this.post(endpoint, path, text);
      } catch (err) {
        if (!(err instanceof AttemptError)) throw err;
        tried.push(`${endpoint.origin}: ${err.message}`);
        this.failover(endpoint);
        if (err.sent && !idempotent) {
          ambiguous = true;
          break;
        }
      }
    }
    const what = ambiguous ? 'etcd did not confirm a write (it may or may not have been applied)' : 'no etcd member answered';
    throw new EtcdUnavailable(`${what}: ${tried.join('; ')}`, ambiguous);
  }

  /** One POST to one member: the parsed JSON body, an AttemptError when the member did not answer properly, a GlassdomeError for a refusal. */
  private post(endpoint: URL, path: string, text: string): Promise<Json> {
    return new Promise((resolve, reject) => {
      let sent = false;
      const req = http.request({ host: endpoint.hostname, port: endpoint.port, path, method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } });
      const timer = setTimeout(() => {
        req.destroy();
        reject(new AttemptError(`no answer within ${this.timeoutMs} ms`, sent));
      }, this.timeoutMs);
      req.on('socket', (socket) => {
        if (!socket.connecting) sent = true;
        else socket.once('connect', () => (sent = true));
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new AttemptError(err.code ?? 'connection failed', sent && err.code !== 'ECONNREFUSED'));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            clearTimeout(timer);
            req.destroy();
            reject(new GlassdomeError('too_large', `an etcd response from ${endpoint.origin} is over ${MAX_RESPONSE_BYTES} bytes`));
          } else chunks.push(chunk);
        });
        res.on('error', () => undefined);
        res.on('end', () => {
          clearTimeout(timer);
          let parsed: Json;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
          } catch {
            return reject(new AttemptError(`HTTP ${res.statusCode} without a JSON body`, true));
          }
          if (res.statusCode === 200 && parsed.error === undefined) return resolve(parsed);
          reject(gatewayError(parsed, res.statusCode ?? 0));
        });
      });
      req.end(text);
    });
  }
}

/** gRPC status codes etcd answers when it cannot serve right now (no leader, timeout, overload). */
const RETRY_GRPC_CODES = new Set([4, 8, 14]);

/** An error body of the gateway as an AttemptError (etcd cannot serve now: try the next member) or a GlassdomeError. */
function gatewayError(body: Json, status: number): Error {
  const code = int(body.code);
  const message = String(body.message ?? body.error ?? `HTTP ${status}`);
  if (/request is too large|larger than max/.test(message)) return new GlassdomeError('too_large', 'etcd refused a request over its size limit (--max-request-bytes, 1.5 MiB by default)');
  if (RETRY_GRPC_CODES.has(code) || status === 503 || status === 504) return new AttemptError(message, true);
  if (code === 11 && /compacted/.test(message)) return new GlassdomeError('unavailable', `etcd: ${message}`, 'the revision asked for was compacted; read again');
  return new GlassdomeError('internal', `etcd refused a request: ${message}`);
}

/** A watch whose start revision etcd has compacted away: the caller reads everything again. */
export class WatchCompacted extends GlassdomeError {
  constructor(readonly compactRevision: number) {
    super('unavailable', `the etcd watch fell behind compaction (compacted at revision ${compactRevision})`);
  }
}
