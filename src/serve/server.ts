// The network daemon's HTTPS server: TLS 1.3 (1.2 only when asked), client certificates
// requested and verified against the client CA and the CRLs, and one identity per request — an
// authorized certificate (its CN; its serial and expiry checked again at every request, so a
// keep-alive connection cannot outlive a revocation or the certificate) or a token in
// `Authorization: Bearer`. A presented certificate that fails verification is refused even
// alongside a token. Each request then reaches the same Guard + SecretStore the agent
// serves (policy, rate limits, audit); this file adds only transport and identity. Limits on
// connections, header and request time, sizes and refused attempts are in limits.ts.

import https from 'node:https';
import type http from 'node:http';
import type net from 'node:net';
import type tls from 'node:tls';
import { normalizeSerial } from '../ca/authority.js';
import { GlassdomeError, fail, type ErrorCode } from '../errors.js';
import { remoteClient, type Client, type RemoteIdentity } from '../policy/client.js';
import type { Guard } from '../policy/guard.js';
import { RateLimiter } from '../policy/rate-limit.js';
import { clientKey } from '../policy/client.js';
import type { AgentState } from '../agent/state.js';
import type { SecretStore } from '../vault/store.js';
import { checkName } from '../vault/names.js';
import { VERSION } from '../version.js';
import { sendError, sendErrorOnSocket, sendJson } from './http.js';
import * as L from './limits.js';
import { hostKey } from './address-key.js';
import type { CrlState, RevokedSerials } from './revocation.js';
import { claimedAccessor, type TokenRecord, type TokenStore } from './tokens.js';

/** What the server needs: TLS material, the store behind the Guard, tokens, and where to log. */
export interface ServeOptions {
  host: string;
  port: number;
  key: string;
  cert: string;
  clientCa: string;
  crl: CrlState;
  /** Revoked serials beyond the CRL files (etcd's `revoked/serials/`), checked at every request. */
  revocations?: RevokedSerials;
  allowTls12: boolean;
  guard: Guard;
  state: AgentState;
  vault: SecretStore;
  tokens: TokenStore;
  log: (message: string) => void;
}

/** Token errors that are the client's (401); any other (a store that cannot answer) is the daemon's own error. */
const REFUSED_TOKEN = new Set<ErrorCode>(['denied', 'expired', 'tampered']);

const LOCKED: Record<string, [code: 'locked' | 'expired', message: string]> = {
  expired: ['expired', 'the daemon’s key expired: restart glassdome serve'],
  replaced: ['locked', 'the vault was replaced since the daemon was unlocked'],
};

/** The HTTPS server of `glassdome serve`. */
export class ServeServer {
  readonly server: https.Server;
  private revoked: Set<string>;
  private readonly refusals = new RateLimiter(L.REFUSALS);
  /** Connections refused for a certificate that did not verify, and their refusal (made once). */
  private readonly refusedConnections = new WeakMap<object, Refusal>();
  /** Open connections per remote address (hostKey). */
  private readonly connectionsFrom = new Map<string, number>();

  constructor(private readonly options: ServeOptions) {
    this.revoked = options.crl.serials;
    this.server = https.createServer(
      {
        ...this.secureContext(options.crl),
        requestCert: true,
        rejectUnauthorized: false, // token clients come without a certificate; see identify()
        handshakeTimeout: L.HANDSHAKE_TIMEOUT_MS,
        headersTimeout: L.HEADERS_TIMEOUT_MS,
        requestTimeout: L.REQUEST_TIMEOUT_MS,
        keepAliveTimeout: L.KEEP_ALIVE_TIMEOUT_MS,
        connectionsCheckingInterval: L.TIMEOUT_CHECK_INTERVAL_MS,
        maxHeaderSize: L.MAX_HEADER_BYTES,
        maxRequestsPerSocket: L.MAX_REQUESTS_PER_SOCKET,
      } as https.ServerOptions,
      (req, res) => void this.handle(req, res),
    );
    this.server.maxConnections = L.MAX_REMOTE_CONNECTIONS;
    this.server.on('connection', (socket: net.Socket) => this.admit(socket));
    this.server.on('tlsClientError', () => undefined); // a failed handshake (TLS 1.2, bad hello) only ends that connection
    this.server.on('clientError', (_err, socket) => this.clientError(socket as tls.TLSSocket));
  }

  /** Listens; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.options.host, port: this.options.port, backlog: 1024 }, () => {
        this.server.off('error', reject);
        this.server.on('error', (err) => this.options.log(`server error: ${err.message}`));
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  /** New CRLs: new connections are checked by TLS, open ones by serial at their next request. */
  setCrl(crl: CrlState): void {
    this.server.setSecureContext(this.secureContext(crl));
    this.revoked = crl.serials;
  }

  /** Stops accepting and closes every connection. */
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private secureContext(crl: CrlState): tls.SecureContextOptions {
    const o = this.options;
    return { key: o.key, cert: o.cert, ca: o.clientCa, ...(crl.pems.length > 0 ? { crl: crl.pems } : {}), minVersion: o.allowTls12 ? 'TLSv1.2' : 'TLSv1.3' };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const address = addressOf(req.socket);
    let client: Client | null = null;
    try {
      const url = new URL(req.url ?? '/', 'https://glassdome');
      if (url.pathname === '/v1/health' && req.method === 'GET') {
        sendJson(res, 200, { status: this.options.state.current() ? 'ok' : this.options.state.lockReason === 'expired' ? 'expired' : 'locked', version: VERSION });
        return;
      }
      // Who asks first: a body (up to 1 MiB) is read only for a client that proved who it is.
      const who = await this.identify(req, address);
      client = who.client;
      const body = await this.readBody(req, req.method === 'PUT' ? L.MAX_WRITE_BODY_BYTES : L.MAX_BODY_BYTES);
      try {
        await this.route(req.method ?? 'GET', url.pathname, who, res, body);
      } finally {
        body.fill(0);
      }
    } catch (err) {
      const e = err instanceof GlassdomeError ? err : new GlassdomeError('internal', 'internal error in glassdome serve');
      if (!(err instanceof GlassdomeError)) this.options.log(`internal error: ${(err as Error).stack ?? String(err)}`);
      const refused = isRefusal(e) ? e : undefined;
      const retryAfter = refused?.retryAfter ?? (e.code === 'rate_limited' && client ? this.options.guard.reads.retryAfter(clientKey(client)) : undefined);
      const refusal = refused ? { status: refused.status, close: refused.close } : {};
      sendError(res, e, { ...refusal, ...(retryAfter !== undefined ? { retryAfter } : {}) });
    }
  }

  /** Who is asking: the token in Authorization, else an authorized and unrevoked certificate. */
  private async identify(req: http.IncomingMessage, address: string): Promise<{ client: Client; token: string | null; record: TokenRecord | null }> {
    const socket = req.socket as tls.TLSSocket;
    const cert = socket.getPeerCertificate();
    const hasCert = cert !== null && typeof cert === 'object' && Object.keys(cert).length > 0;
    const cn = hasCert ? (Array.isArray(cert.subject?.CN) ? null : (cert.subject?.CN ?? null)) : null;
    if (hasCert) {
      const serial = serialOf(cert);
      const lapsed = !(Date.parse(cert.valid_to) > Date.now()); // a keep-alive connection can outlive its certificate
      if (!socket.authorized) throw this.unverified(socket);
      const why = this.revoked.has(serial) || this.options.revocations?.has(serial) ? 'CERT_REVOKED' : lapsed ? 'CERT_HAS_EXPIRED' : cn === null ? 'no single CN' : null;
      if (why) this.refuse(address, anonymous(cn ?? '(no cn)'), `certificate ${serial} refused: ${reasonOf(why)}`, 403, true);
    }
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer ([!-~]{1,256})$/.exec(auth);
      if (!m) this.refuse(address, anonymous(cn ?? '(token)'), 'the Authorization header is not "Bearer TOKEN"', 401);
      const token = m[1]!;
      let record: TokenRecord;
      try {
        record = await this.options.tokens.check(token, ['bootstrap', 'session', 'admin']);
      } catch (err) {
        this.refuseToken(address, { cn: '(token)', accessor: claimedAccessor(token) }, err, 401);
      }
      return { client: remoteClient({ address, cn: record.client, sha256: null, accessor: record.accessor }), token, record };
    }
    if (!hasCert) this.refuse(address, anonymous('(none)'), 'no client certificate and no token', 401, false, 'denied', 'present a certificate of the client CA, or a token in Authorization: Bearer');
    const sha256 = cert.fingerprint256.replace(/:/g, '').toLowerCase();
    return { client: remoteClient({ address, cn: cn!, sha256, accessor: null }), token: null, record: null };
  }

  private async route(method: string, path: string, who: { client: Client; token: string | null; record: TokenRecord | null }, res: http.ServerResponse, body: Buffer): Promise<void> {
    const { client, token, record } = who;
    const remote = client.remote!;
    const denied = (message: string, hint?: string): never => this.refuse(remote.address, remote, message, 403, false, 'denied', hint);
    if (method === 'POST' && path === '/v1/token/exchange') {
      if (!token || record?.type !== 'bootstrap') denied('exchange takes a bootstrap token in Authorization: Bearer');
      const { token: session, record: r } = await this.options.tokens.exchange(token!).catch((err: unknown) => this.refuseToken(remote.address, remote, err, 403));
      await this.options.guard.record(client, { event_type: 'auth_success', action: 'token_exchange', resource: null, result: 'success', reason: `session ${r.accessor} until ${r.expires_at}` });
      sendJson(res, 200, { token: session, accessor: r.accessor, type: r.type, client: r.client, expires_at: r.expires_at });
      return;
    }
    if (method === 'POST' && path === '/v1/token/renew') {
      if (!token) denied('renew takes a session or admin token in Authorization: Bearer');
      const r = await this.options.tokens.renew(token!).catch((err: unknown) => this.refuseToken(remote.address, remote, err, 403));
      await this.options.guard.record(client, { event_type: 'auth_success', action: 'token_renew', resource: null, result: 'success', reason: `until ${r.expires_at}` });
      sendJson(res, 200, { accessor: r.accessor, type: r.type, expires_at: r.expires_at });
      return;
    }
    if (record?.type === 'bootstrap') denied('a bootstrap token only buys a session token', 'exchange it first: POST /v1/token/exchange');
    if ((method === 'PUT' || method === 'DELETE') && path.startsWith('/v1/secrets/')) {
      const name = secretNameOf(path);
      const store = this.unlockedStore(client);
      if (method === 'PUT') await store.set(name, body);
      else await store.rm(name);
      sendJson(res, 200, { name });
      return;
    }
    if (method !== 'GET') fail('bad_request', `${method} ${path} is not part of the API`, 'see docs/API.md');
    if (path === '/v1/status') {
      sendJson(res, 200, this.status(client, record));
      return;
    }
    const store = this.unlockedStore(client);
    if (path === '/v1/secrets') {
      const secrets = await store.infos();
      sendJson(res, 200, { names: secrets.map((e) => e.name), secrets });
      return;
    }
    if (path.startsWith('/v1/secrets/')) {
      const name = secretNameOf(path);
      const value = await store.get(name);
      const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      try {
        sendJson(res, 200, { name, value: bytes.toString('base64') });
      } finally {
        bytes.fill(0);
      }
      return;
    }
    fail('unknown_op', `${path} is not part of the API`, 'see docs/API.md');
  }

  private status(client: Client, record: TokenRecord | null): Record<string, unknown> {
    const session = this.options.state.info;
    const remote = client.remote!;
    return {
      state: session ? 'unlocked' : 'locked',
      vault_id: session?.vaultId ?? null,
      unlocked_at: session ? new Date(session.unlockedAt).toISOString() : null,
      expires_at: session ? new Date(session.expiresAt).toISOString() : null,
      client: { cn: remote.cn, via: record ? 'token' : 'certificate', ...(record ? { accessor: record.accessor, token_expires_at: record.expires_at } : {}) },
      pid: process.pid,
      version: VERSION,
    };
  }

  private unlockedStore(client: Client): SecretStore {
    if (!this.options.state.current()) {
      const [code, message] = LOCKED[this.options.state.lockReason] ?? ['locked', 'the daemon holds no key'];
      fail(code, message, 'restart it: glassdome serve … (the password unlocks it)');
    }
    return this.options.guard.store(client, this.options.vault);
  }

  /**
   * The refusal of a connection whose certificate did not verify, made (and audited) once per
   * connection: by identify() at its request, or by clientError() when the connection fails first.
   */
  private unverified(socket: tls.TLSSocket): Refusal {
    const known = this.refusedConnections.get(socket);
    if (known) return known;
    const cert = socket.getPeerCertificate();
    const cn = typeof cert.subject?.CN === 'string' ? clip(cert.subject.CN, MAX_UNVERIFIED_CN) : '(no cn)';
    let refusal: Refusal;
    try {
      this.refuse(addressOf(socket), anonymous(cn), `certificate ${serialOf(cert)} refused: ${reasonOf(String(socket.authorizationError))}`, 403, true);
    } catch (err) {
      refusal = err as Refusal;
    }
    this.refusedConnections.set(socket, refusal!);
    return refusal!;
  }

  /**
   * A connection whose HTTP stream failed. After a certificate that fails its signature check (one
   * made with another key under the CA's name), Node's OpenSSL leaves that error queued and reports
   * it at a later read of the connection, often before the request is parsed: the refusal is then
   * made here, audited and answered as identify() would, rather than the connection dropping unaudited.
   */
  private clientError(socket: tls.TLSSocket): void {
    try {
      this.answerFailed(socket);
    } catch (err) {
      this.options.log(`internal error on a failed connection: ${(err as Error).message}`); // an event handler must not throw: that would end the daemon
      socket.destroy();
    }
  }

  /** clientError's work: the refusal of an unverified certificate answered and the connection ended, else the connection destroyed. */
  private answerFailed(socket: tls.TLSSocket): void {
    const answered = this.refusedConnections.has(socket);
    const cert = socket.authorized === false && typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : null;
    if (!answered && cert && Object.keys(cert).length > 0 && socket.writable) {
      const refusal = this.unverified(socket);
      sendErrorOnSocket(socket, refusal, { status: refusal.status, ...(refusal.retryAfter !== undefined ? { retryAfter: refusal.retryAfter } : {}) });
      socket.setTimeout(L.HEADERS_TIMEOUT_MS, () => socket.destroy()); // ended once the answer is out (destroying now would drop it); a peer that never closes is cut off
      return;
    }
    socket.destroy();
  }

  /** Counts a new connection against its address (an IPv6 one by its /64: hostKey); past MAX_CONNECTIONS_PER_ADDRESS it is closed at once, so one host cannot take every connection. */
  private admit(socket: net.Socket): void {
    const host = hostKey(socket.remoteAddress ?? '?');
    const open = (this.connectionsFrom.get(host) ?? 0) + 1;
    if (open > L.MAX_CONNECTIONS_PER_ADDRESS) {
      socket.destroy();
      return;
    }
    this.connectionsFrom.set(host, open);
    socket.once('close', () => {
      const left = (this.connectionsFrom.get(host) ?? 1) - 1;
      if (left > 0) this.connectionsFrom.set(host, left);
      else this.connectionsFrom.delete(host);
    });
  }

  /** Audits a refused request (sparingly: a refusal bucket per address) and throws its error. */
  private refuse(address: string, who: Who, message: string, status: number, close = false, code: 'denied' | 'expired' = 'denied', hint?: string): never {
    const host = hostKey(address.slice(0, address.lastIndexOf(':')));
    if (this.refusals.take(host)) {
      const client = remoteClient({ address, ...who, sha256: null });
      this.options.guard.record(client, { event_type: 'peer_denied', action: 'connect', resource: null, result: 'denied', reason: message }).catch((err: Error) => this.options.log(err.message));
      throw new Refusal(code, message, hint, status, close);
    }
    const wait = this.refusals.retryAfter(host);
    throw new Refusal('rate_limited', `too many refused requests from ${host}; retry in ${wait} s`, undefined, 429, true, wait);
  }

  /** Refuses (and audits, as refuse does) a token the store would not take; rethrows any other error (a store that cannot answer). */
  private refuseToken(address: string, who: Who, err: unknown, status: number): never {
    if (err instanceof GlassdomeError && REFUSED_TOKEN.has(err.code)) this.refuse(address, who, err.message, err.code === 'expired' ? 401 : status, false, err.code === 'expired' ? 'expired' : 'denied', err.hint);
    throw err;
  }

  /** Reads a body of at most `limit` bytes (only PUT takes one: a value); a larger one is refused. */
  private readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
    const declared = Number(req.headers['content-length'] ?? 0);
    const tooLarge = (): Refusal => new Refusal('too_large', `the request body is over ${limit} bytes`, undefined, 413, true);
    if (declared > limit) return Promise.reject(tooLarge());
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let total = 0;
      req.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > limit) {
          for (const c of chunks) c.fill(0);
          chunk.fill(0);
          reject(tooLarge());
          req.destroy();
        } else chunks.push(chunk);
      });
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        for (const c of chunks) c.fill(0);
        resolve(body);
      });
      req.on('error', reject);
    });
  }
}

/** Who a refusal names in its audit line: the CN (or a placeholder) and a token's accessor. */
type Who = Pick<RemoteIdentity, 'cn' | 'accessor'>;

/** A refused client known by no token. */
function anonymous(cn: string): Who {
  return { cn, accessor: null };
}

/** The characters of an unverified certificate's CN kept in its audit line (the CA issues at most 64). */
const MAX_UNVERIFIED_CN = 64;

/** `text` cut to `max` characters, marked when cut. */
function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** How a refusal names its cause: OpenSSL's code in words (`CERT_HAS_EXPIRED`: cert has expired), `revoked` for a revocation. */
function reasonOf(why: string): string {
  return why === 'CERT_REVOKED' ? 'revoked' : why.toLowerCase().replace(/_/g, ' ');
}

/** A certificate's serial as refusals and revocation checks name it: normalized, or (a serial no CA of glassdome issues: over 32 bytes, negative) cut to MAX_UNVERIFIED_CN characters as OpenSSL gave it. */
function serialOf(cert: tls.PeerCertificate): string {
  try {
    return normalizeSerial(cert.serialNumber);
  } catch {
    return clip(String(cert.serialNumber), MAX_UNVERIFIED_CN);
  }
}

/** ADDR:PORT of a connection's peer. */
function addressOf(socket: net.Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

/** The secret name of a `/v1/secrets/{name}` path (percent-decoded, checked). */
function secretNameOf(path: string): string {
  let name: string;
  try {
    name = decodeURIComponent(path.slice('/v1/secrets/'.length));
  } catch {
    return fail('invalid_name', 'the secret name in the path is not valid percent-encoding');
  }
  return checkName(name);
}

/** Whether an error is a Refusal (by its fields: GlassdomeError's `instanceof` goes by brand, so subclasses share it). */
function isRefusal(e: GlassdomeError): e is Refusal {
  return typeof (e as Partial<Refusal>).status === 'number';
}

/** A refusal with its HTTP status, whether the connection is closed after it, and (a 429) the seconds its Retry-After says. */
class Refusal extends GlassdomeError {
  constructor(
    code: 'denied' | 'expired' | 'rate_limited' | 'too_large',
    message: string,
    hint: string | undefined,
    readonly status: number,
    readonly close: boolean,
    readonly retryAfter?: number,
  ) {
    super(code, message, hint);
  }
}
