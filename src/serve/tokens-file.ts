// The token store of a single host: $GLASSDOME_HOME/tokens.json (0600), records as tokens.ts
// seals them. Revoking deletes the record (no key needed); the daemon also remembers, while it
// runs, every record it saw vanish and every bootstrap token it consumed, so restoring an old copy
// of the file does not bring them back. Writers (the daemon, the CLI) read-modify-write under a
// lock file; the daemon re-reads the file when its signature changes (one stat a check).

import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';
import { withLock } from '../store/lock.js';
import { readPrivate, sameSignature, signatureOf, writePrivateAtomic, type FileSignature } from '../store/secure-file.js';
import { accessorOf, checkClientName, isExpired, MAX_TOKENS, TOKEN_TTL_MS, TokenSealer, type MintedToken, type TokenRecord, type TokenStore, type TokenType } from './tokens.js';

/** Where the tokens of a vault live. */
export function tokenFiles(home: string): { file: string; lock: string } {
  return { file: path.join(home, 'tokens.json'), lock: path.join(home, '.tokens.lock') };
}

/** The token store of one vault in tokens.json; `key` is needed to mint and to check, not to list or revoke. */
export class FileTokenStore implements TokenStore {
  private cache: { signature: FileSignature; records: Map<string, TokenRecord> } | undefined;
  private readonly seen = new Set<string>();
  private readonly gone = new Set<string>();
  private readonly consumed = new Set<string>();
  private readonly sealer: TokenSealer;

  constructor(
    private readonly home: string,
    key: Uint8Array | null = null,
  ) {
    this.sealer = new TokenSealer(key);
  }

  async list(): Promise<TokenRecord[]> {
    return [...this.load().values()];
  }

  async create(client: string, type: TokenType, ttlMs: number = TOKEN_TTL_MS[type]): Promise<MintedToken> {
    checkClientName(client);
    return this.update((records) => this.mint(records, client, type, ttlMs));
  }

  async revoke(accessor: string): Promise<boolean> {
    return this.update((records) => records.delete(accessor));
  }

  async check(token: string, types: readonly TokenType[]): Promise<TokenRecord> {
    return this.checkNow(token, types);
  }

  async exchange(bootstrap: string): Promise<MintedToken> {
    return this.update((records) => {
      this.cache = undefined;
      const used = this.checkNow(bootstrap, ['bootstrap']);
      records.set(used.accessor, this.sealer.used(used));
      this.consumed.add(used.accessor);
      return this.mint(records, used.client, 'session', TOKEN_TTL_MS.session);
    });
  }

  async renew(token: string): Promise<TokenRecord> {
    return this.update((records) => {
      this.cache = undefined;
      const renewed = this.sealer.renewed(this.checkNow(token, ['session', 'admin']));
      records.set(renewed.accessor, renewed);
      return renewed;
    });
  }

  private checkNow(token: string, types: readonly TokenType[]): TokenRecord {
    const records = this.load();
    const accessor = accessorOf(token);
    const record = this.gone.has(accessor) ? undefined : records.get(accessor);
    return this.sealer.usable(this.sealer.verify(record, token, 'tokens.json'), types, this.consumed.has(accessor));
  }

  private mint(records: Map<string, TokenRecord>, client: string, type: TokenType, ttlMs: number): MintedToken {
    const now = Date.now();
    for (const [accessor, r] of records) if (isExpired(r, now)) records.delete(accessor);
    if (records.size >= MAX_TOKENS) fail('busy', `tokens.json holds ${MAX_TOKENS} live tokens`, 'revoke some: glassdome token list; glassdome token revoke ACCESSOR');
    const minted = this.sealer.mint(client, type, ttlMs, now);
    records.set(minted.record.accessor, minted.record);
    return minted;
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
