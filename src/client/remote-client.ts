// `glassdome serve` as a SecretStore, for the CLI on another host, in a container or in a CI job:
// GLASSDOME_SERVER=https://HOST:PORT with GLASSDOME_CLIENT_CERT + GLASSDOME_CLIENT_KEY (mutual
// TLS), or GLASSDOME_TOKEN_FILE (a bootstrap token is exchanged once for a session token, which
// stays in this process's memory only); GLASSDOME_SERVER_CA names the CA the server's certificate
// must chain to. One keep-alive connection serves every request. The API is read-only: set and rm
// are refused. Loaded only when GLASSDOME_SERVER is set (node:https stays off get's usual path).

import fs from 'node:fs';
import https from 'node:https';
import { GlassdomeError, isErrorCode } from '../errors.js';
import type { SecretInfo, SecretStore } from '../vault/store.js';

/** How long the client waits for any one reply (ms). */
export const REMOTE_TIMEOUT_MS = 30_000;
/** The largest reply accepted (bytes): a 1 MiB value is 1.33 MiB of base64. */
export const MAX_REPLY_BYTES = 2 * 1024 * 1024;

const ENV_HINT = 'check GLASSDOME_SERVER, GLASSDOME_CLIENT_CERT/_KEY or GLASSDOME_TOKEN_FILE, and GLASSDOME_SERVER_CA';

/** A reply's JSON fields. */
export type RemoteReply = Record<string, unknown>;

/** The daemon at GLASSDOME_SERVER. */
export class RemoteClient implements SecretStore {
  private token: string | null = null;
  private exchanged: Promise<void> | undefined;

  private constructor(
    readonly url: URL,
    private readonly agent: https.Agent,
    private readonly tokenFile: string | undefined,
  ) {}

  /** The client the environment describes; `usage` when it is incomplete. */
  static fromEnv(env: NodeJS.ProcessEnv): RemoteClient {
    let url: URL;
    try {
      url = new URL(env.GLASSDOME_SERVER!);
    } catch {
      throw new GlassdomeError('usage', `GLASSDOME_SERVER=${JSON.stringify(env.GLASSDOME_SERVER)} is not a URL`, 'like https://securityd.lab:8443');
    }
    if (url.protocol !== 'https:') throw new GlassdomeError('usage', 'GLASSDOME_SERVER must be an https:// URL', 'like https://securityd.lab:8443');
    const read = (name: string): Buffer | undefined => {
      const file = env[name];
      if (!file) return undefined;
      try {
        return fs.readFileSync(file);
      } catch (err) {
        throw new GlassdomeError('usage', `cannot read ${name}=${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, ENV_HINT);
      }
    };
    const cert = read('GLASSDOME_CLIENT_CERT');
    const key = read('GLASSDOME_CLIENT_KEY');
    const tokenFile = env.GLASSDOME_TOKEN_FILE || undefined;
    if (!cert !== !key) throw new GlassdomeError('usage', 'GLASSDOME_CLIENT_CERT and GLASSDOME_CLIENT_KEY go together', ENV_HINT);
    if (!cert && !tokenFile) throw new GlassdomeError('usage', 'GLASSDOME_SERVER is set but neither a client certificate nor a token file is', ENV_HINT);
    const ca = read('GLASSDOME_SERVER_CA');
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, minVersion: 'TLSv1.2', ...(ca ? { ca } : {}), ...(cert ? { cert, key } : {}) });
    return new RemoteClient(url, agent, tokenFile);
  }

  async get(name: string): Promise<Uint8Array> {
    const reply = await this.call('GET', `/v1/secrets/${encodeURIComponent(name)}`);
    if (typeof reply.value !== 'string') throw malformed('value');
    return Buffer.from(reply.value, 'base64');
  }

  async list(): Promise<string[]> {
    const reply = await this.call('GET', '/v1/secrets');
    if (!Array.isArray(reply.names)) throw malformed('names');
    return reply.names as string[];
  }

  async infos(): Promise<SecretInfo[]> {
    const reply = await this.call('GET', '/v1/secrets');
    const ok = (e: unknown): e is SecretInfo => typeof e === 'object' && e !== null && typeof (e as SecretInfo).name === 'string' && typeof (e as SecretInfo).created === 'number' && typeof (e as SecretInfo).updated === 'number';
    if (!Array.isArray(reply.secrets) || !reply.secrets.every(ok)) throw malformed('secrets');
    return reply.secrets;
  }

  async set(): Promise<void> {
    throw readOnly('set');
  }

  async setMany(): Promise<void> {
    throw readOnly('import');
  }

  async rm(): Promise<void> {
    throw readOnly('rm');
  }

  /** The daemon's status and who it takes this client for. */
  status(): Promise<RemoteReply> {
    return this.call('GET', '/v1/status');
  }

  /** Ends the keep-alive connection. */
  close(): void {
    this.agent.destroy();
  }

  /** One API call, with the session token when the client uses one. */
  async call(method: string, path: string): Promise<RemoteReply> {
    if (this.tokenFile) {
      this.exchanged ??= this.loadToken();
      await this.exchanged;
    }
    return this.send(method, path, this.token);
  }

  /** Reads the token file; a bootstrap token is exchanged (once) for a session token kept in memory. */
  private async loadToken(): Promise<void> {
    let text: string;
    try {
      text = fs.readFileSync(this.tokenFile!, 'utf8').trim();
    } catch (err) {
      throw new GlassdomeError('usage', `cannot read GLASSDOME_TOKEN_FILE=${this.tokenFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, ENV_HINT);
    }
    if (text.startsWith('gdb_')) {
      const reply = await this.send('POST', '/v1/token/exchange', text);
      if (typeof reply.token !== 'string') throw malformed('token');
      this.token = reply.token;
    } else {
      this.token = text;
    }
  }

  private send(method: string, path: string, token: string | null): Promise<RemoteReply> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        new URL(path, this.url),
        { method, agent: this.agent, timeout: REMOTE_TIMEOUT_MS, headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } },
        (res) => {
          const chunks: Buffer[] = [];
          let total = 0;
          res.on('data', (c: Buffer) => {
            total += c.length;
            if (total > MAX_REPLY_BYTES) req.destroy(new GlassdomeError('too_large', `the server's reply is over ${MAX_REPLY_BYTES} bytes`));
            else chunks.push(c);
          });
          res.on('end', () => {
            const body = Buffer.concat(chunks);
            let doc: unknown;
            try {
              doc = JSON.parse(body.toString('utf8'));
            } catch {
              doc = undefined;
            } finally {
              body.fill(0);
              for (const c of chunks) c.fill(0);
            }
            if (typeof doc !== 'object' || doc === null) return reject(new GlassdomeError('internal', `the server at ${this.url.origin} sent a malformed reply (HTTP ${res.statusCode})`));
            if ((res.statusCode ?? 500) >= 400) return reject(replyError(doc as RemoteReply, res.statusCode ?? 500));
            resolve(doc as RemoteReply);
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new GlassdomeError('io', `the server at ${this.url.origin} did not answer within ${REMOTE_TIMEOUT_MS / 1000} s`)));
      req.on('error', (err) => reject(err instanceof GlassdomeError ? err : transportError(err as NodeJS.ErrnoException, this.url)));
      req.end();
    });
  }
}

function replyError(doc: RemoteReply, status: number): GlassdomeError {
  const e = (doc.error ?? {}) as { code?: unknown; message?: unknown; hint?: unknown };
  const code = isErrorCode(e.code) ? e.code : 'internal';
  return new GlassdomeError(code, typeof e.message === 'string' ? e.message : `the server answered HTTP ${status}`, typeof e.hint === 'string' ? e.hint : undefined);
}

function transportError(err: NodeJS.ErrnoException, url: URL): GlassdomeError {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENOTFOUND' || code === 'ETIMEDOUT') {
    return new GlassdomeError('no_agent', `no glassdome serve answers at ${url.origin} (${code})`, ENV_HINT);
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|ERR_SSL|HOSTNAME|ALTNAME/.test(code) || /certificate|tls|ssl/i.test(err.message)) {
    return new GlassdomeError('denied', `TLS with ${url.origin} failed: ${err.message.toLowerCase()}`, ENV_HINT);
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') return new GlassdomeError('denied', `the server at ${url.origin} closed the connection (${code})`, ENV_HINT);
  return new GlassdomeError('io', `cannot reach ${url.origin}: ${err.message.toLowerCase()}`, ENV_HINT);
}

function malformed(field: string): GlassdomeError {
  return new GlassdomeError('internal', `the server's reply has no valid ${field}`);
}

function readOnly(op: string): GlassdomeError {
  return new GlassdomeError('denied', `${op} is not offered over glassdome serve (its API is read-only)`, 'change secrets on the daemon’s host: unset GLASSDOME_SERVER there');
}
