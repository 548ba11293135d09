// Tokens of `glassdome serve` for workloads without a certificate (seed 002's table): bootstrap
// (5 min, single use) exchanged for a session (8 h, renewable), admin (1 h, renewable). A token
// is `gd<b|s|a>_<accessor>_<43 base64url chars>`: 256 random bits behind a public accessor id.
// $GLASSDOME_HOME/tokens.json (0600) keeps, per token, its facts, the token's keyed hash and a
// MAC over the record, both under a subkey of the master key: reading the file never yields a
// token, and a process that can write it (the vault's own uid) cannot mint, extend or un-use one
// without the master key. Revoking deletes the record (no key needed); the daemon also
// remembers, while it runs, every record it saw vanish and every bootstrap token it consumed,
// so restoring an old copy of the file does not bring them back. Writers (the daemon, the CLI)
// read-modify-write under a lock file. Issue 13 keeps this interface and moves the file to etcd.

import crypto from 'node:crypto';
import path from 'node:path';
import { fail } from '../errors.js';
import { withLock } from '../store/lock.js';
import { readPrivate, sameSignature, signatureOf, writePrivateAtomic, type FileSignature } from '../store/secure-file.js';
import { deriveSubkey, mac } from '../vault/crypto.js';
import { KDF_CONTEXT } from '../vault/vault.js';
import fs from 'node:fs';

/** The kinds of token. */
export const TOKEN_TYPES = ['bootstrap', 'session', 'admin'] as const;
/** One of TOKEN_TYPES. */
export type TokenType = (typeof TOKEN_TYPES)[number];

/** Default lifetimes (ms), after seed 002. */
export const TOKEN_TTL_MS: Record<TokenType, number> = { bootstrap: 5 * 60_000, session: 8 * 3600_000, admin: 3600_000 };
/** Renewing never takes a token past this age (ms). */
export const MAX_TOKEN_AGE_MS = 7 * 24 * 3600_000;
/** The subkey id (under the vault's KDF context) of the token key; ids below 16 are the vault's. */
export const TOKEN_SUBKEY_ID = 16;
/** Random bytes in a token. */
const TOKEN_BYTES = 32;
/** Tokens kept in the file at most (expired ones are pruned first). */
export const MAX_TOKENS = 10_000;

const PREFIX: Record<TokenType, string> = { bootstrap: 'gdb', session: 'gds', admin: 'gda' };
const TOKEN_PATTERN = /^(gd[bsa])_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** A token's record in tokens.json (never the token itself). */
export interface TokenRecord {
  accessor: string;
  client: string;
  type: TokenType;
  created_at: string;
  expires_at: string;
  used: boolean;
  hash: string;
  mac: string;
}

/** Where the tokens of a vault live. */
export function tokenFiles(home: string): { file: string; lock: string } {
  return { file: path.join(home, 'tokens.json'), lock: path.join(home, '.tokens.lock') };
}

/** The token key of a master key (the caller wipes it). */
export function tokenKey(masterKey: Uint8Array): Uint8Array {
  return deriveSubkey(masterKey, TOKEN_SUBKEY_ID, KDF_CONTEXT);
}

/** The token store of one vault; `key` is needed to mint and to check, not to list or revoke. */
export class TokenStore {
  private cache: { signature: FileSignature; records: Map<string, TokenRecord> } | undefined;
  private readonly seen = new Set<string>();
  private readonly gone = new Set<string>();
  private readonly consumed = new Set<string>();

  constructor(
    private readonly home: string,
    private readonly key: Uint8Array | null = null,
  ) {}

  /** Every record, oldest first. */
  list(): TokenRecord[] {
    return [...this.load().values()];
  }

  /** Mints a token; returns it (shown once) with its record. */
  async create(client: string, type: TokenType, ttlMs: number = TOKEN_TTL_MS[type]): Promise<{ token: string; record: TokenRecord }> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/.test(client)) fail('usage', `${JSON.stringify(client)} is not a usable client name`, 'use letters, digits, _ . @ - (at most 64), like job-123');
    return this.update((records) => this.mint(records, client, type, ttlMs));
  }

  /** Deletes a token by accessor; false when there is none. */
  async revoke(accessor: string): Promise<boolean> {
    return this.update((records) => records.delete(accessor));
  }

  /** The record of a valid token of one of `types`: `denied` for an unknown, forged or revoked one, `expired` after its time. */
  check(token: string, types: readonly TokenType[], now = Date.now()): TokenRecord {
    const record = this.find(this.load(), token);
    if (!types.includes(record.type)) {
      fail('denied', record.type === 'bootstrap' ? 'a bootstrap token only buys a session token' : `a ${record.type} token cannot be used here`, record.type === 'bootstrap' ? 'exchange it first: POST /v1/token/exchange' : undefined);
    }
    if (record.type === 'bootstrap' && (record.used || this.consumed.has(record.accessor))) fail('denied', `bootstrap token ${record.accessor} was already used`, 'a bootstrap token is single use: create another with glassdome token create');
    if (Date.parse(record.expires_at) <= now) fail('expired', `token ${record.accessor} expired at ${record.expires_at}`, record.type === 'bootstrap' ? 'create another: glassdome token create' : 'renew before it expires, or start again from a bootstrap token');
    return record;
  }

  /** Uses a bootstrap token (once) and mints the session token it buys. */
  async exchange(bootstrap: string): Promise<{ token: string; record: TokenRecord }> {
    return this.update((records) => {
      this.cache = undefined;
      const used = this.check(bootstrap, ['bootstrap']);
      const marked = this.seal({ ...used, used: true });
      records.set(used.accessor, marked);
      this.consumed.add(used.accessor);
      return this.mint(records, used.client, 'session', TOKEN_TTL_MS.session);
    });
  }

  /** Extends a session or admin token by its type's lifetime (never past MAX_TOKEN_AGE_MS). */
  async renew(token: string): Promise<TokenRecord> {
    return this.update((records) => {
      this.cache = undefined;
      const current = this.check(token, ['session', 'admin']);
      const now = Date.now();
      const until = Math.min(now + TOKEN_TTL_MS[current.type], Date.parse(current.created_at) + MAX_TOKEN_AGE_MS);
      const renewed = this.seal({ ...current, expires_at: new Date(Math.max(until, Date.parse(current.expires_at))).toISOString() });
      records.set(current.accessor, renewed);
      return renewed;
    });
  }

  private mint(records: Map<string, TokenRecord>, client: string, type: TokenType, ttlMs: number): { token: string; record: TokenRecord } {
    const now = Date.now();
    for (const [accessor, r] of records) if (Date.parse(r.expires_at) <= now) records.delete(accessor);
    if (records.size >= MAX_TOKENS) fail('busy', `tokens.json holds ${MAX_TOKENS} live tokens`, 'revoke some: glassdome token list; glassdome token revoke ACCESSOR');
    const accessor = crypto.randomBytes(8).toString('hex');
    const token = `${PREFIX[type]}_${accessor}_${crypto.randomBytes(TOKEN_BYTES).toString('base64url')}`;
    const record = this.seal({ accessor, client, type, created_at: new Date(now).toISOString(), expires_at: new Date(now + ttlMs).toISOString(), used: false, hash: this.hashOf(token), mac: '' });
    records.set(accessor, record);
    return { token, record };
  }

  private find(records: Map<string, TokenRecord>, token: string): TokenRecord {
    const m = TOKEN_PATTERN.exec(token.trim());
    if (!m) fail('denied', 'that is not a glassdome token', 'tokens look like gdb_…, gds_… or gda_…');
    const record = records.get(m[2]!);
    if (!record || this.gone.has(record.accessor) || PREFIX[record.type] !== m[1]) fail('denied', `token ${m[2]} is unknown or revoked`);
    const expected = Buffer.from(record.hash, 'hex');
    const actual = Buffer.from(this.hashOf(token.trim()), 'hex');
    if (expected.length !== actual.length || !crypto.timingSafeEqual(expected, actual)) fail('denied', `token ${m[2]} is unknown or revoked`);
    if (!crypto.timingSafeEqual(Buffer.from(this.macOf(record), 'hex'), Buffer.from(record.mac.padEnd(64, '0').slice(0, 64), 'hex'))) {
      fail('tampered', `the record of token ${record.accessor} in tokens.json was altered`, 'revoke it: glassdome token revoke ' + record.accessor);
    }
    return record;
  }

  private hashOf(token: string): string {
    return Buffer.from(mac(this.needKey(), Buffer.from(`glassdome token\0${token}`, 'utf8'))).toString('hex');
  }

  private macOf(r: TokenRecord): string {
    const body = JSON.stringify([r.accessor, r.client, r.type, r.created_at, r.expires_at, r.used, r.hash]);
    return Buffer.from(mac(this.needKey(), Buffer.from(`glassdome token record\0${body}`, 'utf8'))).toString('hex');
  }

  private seal(r: TokenRecord): TokenRecord {
    return { ...r, mac: this.macOf(r) };
  }

  private needKey(): Uint8Array {
    return this.key ?? fail('locked', 'minting or checking tokens needs the master key');
  }

  /** The records, re-read when tokens.json changed (one stat a call). */
  private load(): Map<string, TokenRecord> {
    const { file } = tokenFiles(this.home);
    let st: fs.BigIntStats | undefined;
    try {
      st = fs.statSync(file, { bigint: true });
    } catch {
      st = undefined;
    }
    if (st && this.cache && sameSignature(signatureOf(st), this.cache.signature)) return this.cache.records;
    const read = readPrivate(file);
    const records = new Map<string, TokenRecord>();
    if (read) {
      let doc: { version?: unknown; tokens?: unknown };
      try {
        doc = JSON.parse(read.text) as typeof doc;
      } catch {
        return fail('corrupt', `${file} is not JSON`, 'remove it (every token is then revoked)');
      }
      if (doc.version !== 1 || !Array.isArray(doc.tokens)) fail('corrupt', `${file} is not a version 1 token file`);
      for (const r of doc.tokens as TokenRecord[]) if (r && typeof r.accessor === 'string') records.set(r.accessor, r);
      this.cache = { signature: read.signature, records };
    } else {
      this.cache = undefined;
    }
    for (const accessor of this.seen) if (!records.has(accessor)) this.gone.add(accessor);
    for (const accessor of records.keys()) this.seen.add(accessor);
    return records;
  }

  private async update<T>(change: (records: Map<string, TokenRecord>) => T): Promise<T> {
    const { file, lock } = tokenFiles(this.home);
    return withLock(lock, () => {
      this.cache = undefined;
      const records = new Map(this.load());
      const result = change(records);
      writePrivateAtomic(file, `${JSON.stringify({ version: 1, tokens: [...records.values()] }, null, 1)}\n`);
      this.cache = undefined;
      this.load();
      return result;
    });
  }
}
