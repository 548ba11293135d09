// Tokens of `glassdome serve` for workloads without a certificate (seed 002's table): bootstrap
// (5 min, single use) exchanged for a session (8 h, renewable), admin (1 h, renewable). A token
// is `gd<b|s|a>_<accessor>_<43 base64url chars>`: 256 random bits behind a public accessor id.
// A store keeps, per token, its facts, the token's keyed hash and a MAC over the record, both
// under a subkey of the master key: reading the store never yields a token, and whoever can
// write it without the master key cannot mint, extend or un-use one. This module owns the
// record format and its checks (TokenSealer) and the TokenStore interface; the stores are
// FileTokenStore ($GLASSDOME_HOME/tokens.json, tokens-file.ts) and EtcdTokenStore (tokens-etcd.ts).

import crypto from 'node:crypto';
import { fail } from '../errors.js';
import { deriveSubkey, mac } from '../vault/crypto.js';
import { KDF_CONTEXT } from '../vault/vault.js';

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
/** Tokens kept in a store at most (expired ones are pruned first). */
export const MAX_TOKENS = 10_000;

const PREFIX: Record<TokenType, string> = { bootstrap: 'gdb', session: 'gds', admin: 'gda' };
const TOKEN_PATTERN = /^(gd[bsa])_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** An accessor id: 16 hex digits. */
export const ACCESSOR_PATTERN = /^[0-9a-f]{16}$/;

/** A token's record in a store (never the token itself). */
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

/** A minted token (shown once) and its record. */
export interface MintedToken {
  token: string;
  record: TokenRecord;
}

/** What serve and `glassdome token` need of a token store; `key`-less stores can list and revoke only. */
export interface TokenStore {
  /** Every record, oldest first. */
  list(): Promise<TokenRecord[]>;
  /** Mints a token of `type` for `client`. */
  create(client: string, type: TokenType, ttlMs?: number): Promise<MintedToken>;
  /** Revokes a token by accessor; false when there is none. */
  revoke(accessor: string): Promise<boolean>;
  /** The record of a valid token of one of `types`: `denied` for an unknown, forged, used or revoked one, `expired` after its time. */
  check(token: string, types: readonly TokenType[]): Promise<TokenRecord>;
  /** Uses a bootstrap token (once, across every process sharing the store) and mints the session token it buys. */
  exchange(bootstrap: string): Promise<MintedToken>;
  /** Extends a session or admin token by its type's lifetime (never past MAX_TOKEN_AGE_MS). */
  renew(token: string): Promise<TokenRecord>;
}

/** The token key of a master key (the caller wipes it). */
export function tokenKey(masterKey: Uint8Array): Uint8Array {
  return deriveSubkey(masterKey, TOKEN_SUBKEY_ID, KDF_CONTEXT);
}

/** Refuses a client name that could not appear in a policy or an audit line. */
export function checkClientName(client: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/.test(client)) fail('usage', `${JSON.stringify(client)} is not a usable client name`, 'use letters, digits, _ . @ - (at most 64), like job-123');
}

/** The accessor a token names (`denied` when it is not a token at all). */
export function accessorOf(token: string): string {
  const m = TOKEN_PATTERN.exec(token.trim());
  if (!m) fail('denied', 'that is not a glassdome token', 'tokens look like gdb_…, gds_… or gda_…');
  return m[2]!;
}

/** The accessor a string shaped like a token names, or null: for the audit line of a refused token. */
export function claimedAccessor(token: string): string | null {
  return TOKEN_PATTERN.exec(token.trim())?.[2] ?? null;
}

/** Refuses an accessor that is not 16 hex digits (a usage error of `token revoke`). */
export function checkAccessor(accessor: string): void {
  if (!ACCESSOR_PATTERN.test(accessor)) fail('usage', `${JSON.stringify(accessor)} is not an accessor id`, 'see them with: glassdome token list');
}

/** Whether a record's time has passed. */
export function isExpired(record: Pick<TokenRecord, 'expires_at'>, now = Date.now()): boolean {
  return Date.parse(record.expires_at) <= now;
}

/** The `denied` error of a bootstrap token redeemed twice (the contract's answer to the losers of a race). */
export function alreadyUsed(accessor: string): never {
  return fail('denied', `bootstrap token ${accessor} was already used`, 'a bootstrap token is single use: create another with glassdome token create');
}

/** Mints, seals and checks records under the token key (`null`: no key, so no minting or checking). */
export class TokenSealer {
  constructor(private readonly key: Uint8Array | null) {}

  /** A new token and its sealed record. */
  mint(client: string, type: TokenType, ttlMs: number, now = Date.now()): MintedToken {
    const accessor = crypto.randomBytes(8).toString('hex');
    const token = `${PREFIX[type]}_${accessor}_${crypto.randomBytes(TOKEN_BYTES).toString('base64url')}`;
    const record = this.seal({ accessor, client, type, created_at: new Date(now).toISOString(), expires_at: new Date(now + ttlMs).toISOString(), used: false, hash: this.hashOf(token), mac: '' });
    return { token, record };
  }

  /** The record of `token` when it is that token's and unaltered (`where` names the store in the message). */
  verify(record: TokenRecord | undefined, token: string, where: string): TokenRecord {
    const m = TOKEN_PATTERN.exec(token.trim());
    if (!m) fail('denied', 'that is not a glassdome token', 'tokens look like gdb_…, gds_… or gda_…');
    if (!record || PREFIX[record.type] !== m[1]) fail('denied', `token ${m[2]} is unknown or revoked`);
    const expected = hexDigest(record.hash);
    if (!expected || !crypto.timingSafeEqual(expected, Buffer.from(this.hashOf(token.trim()), 'hex'))) fail('denied', `token ${m[2]} is unknown or revoked`);
    const sealed = hexDigest(record.mac);
    if (!sealed || !crypto.timingSafeEqual(Buffer.from(this.macOf(record), 'hex'), sealed)) {
      fail('tampered', `the record of token ${record.accessor} in ${where} was altered`, 'revoke it: glassdome token revoke ' + record.accessor);
    }
    return record;
  }

  /** `record` when it is usable as one of `types` now (`used`: this process saw the bootstrap token consumed). */
  usable(record: TokenRecord, types: readonly TokenType[], used: boolean, now = Date.now()): TokenRecord {
    if (!types.includes(record.type)) {
      fail('denied', record.type === 'bootstrap' ? 'a bootstrap token only buys a session token' : `a ${record.type} token cannot be used here`, record.type === 'bootstrap' ? 'exchange it first: POST /v1/token/exchange' : undefined);
    }
    if (record.type === 'bootstrap' && (record.used || used)) alreadyUsed(record.accessor);
    if (isExpired(record, now)) fail('expired', `token ${record.accessor} expired at ${record.expires_at}`, record.type === 'bootstrap' ? 'create another: glassdome token create' : 'renew before it expires, or start again from a bootstrap token');
    return record;
  }

  /** The record of a used bootstrap token. */
  used(record: TokenRecord): TokenRecord {
    return this.seal({ ...record, used: true });
  }

  /** The record of a session or admin token renewed now. */
  renewed(record: TokenRecord, now = Date.now()): TokenRecord {
    const until = Math.min(now + TOKEN_TTL_MS[record.type], Date.parse(record.created_at) + MAX_TOKEN_AGE_MS);
    return this.seal({ ...record, expires_at: new Date(Math.max(until, Date.parse(record.expires_at))).toISOString() });
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
}

/** The 32 bytes of a stored hash or MAC field, or null when it is not 64 hex digits (an edited record: refused, never a crash). */
function hexDigest(field: unknown): Buffer | null {
  return typeof field === 'string' && /^[0-9a-f]{64}$/.test(field) ? Buffer.from(field, 'hex') : null;
}
