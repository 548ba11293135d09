// The token store of several `serve` replicas: records (sealed as tokens.ts seals them) at
// `PREFIX/tokens/<accessor>` in etcd, revocation markers at `PREFIX/revoked/tokens/<accessor>`.
// A replica checks a token against its EtcdViews of both prefixes and refuses (`unavailable`)
// when either is not fresh, so a cut-off replica never accepts a revoked token; a token minted a
// moment ago that its view has not seen yet is read from etcd once (at most MISS_READS a second,
// so made-up tokens cannot turn into etcd load). Every change is a
// transaction compared on the record's mod_revision: a bootstrap token is marked used by exactly
// one exchange across all replicas (the others' transactions fail: `denied`, already used).
// Expiry is the record's own `expires_at`; expired records and old markers are pruned by the
// writers (no etcd leases). Every write also puts the clock keys of the prefixes it touches.

import { fail } from '../errors.js';
import { RateLimiter } from '../policy/rate-limit.js';
import type { Compare, EtcdClient, KeyValue, TxnOp } from '../etcd/client.js';
import { etcdKey, prefixEnd, REVOKED_TOKENS, TOKENS } from '../etcd/layout.js';
import { clockPut, type EtcdView } from '../etcd/view.js';
import { revokedPrefix } from './revocations-etcd.js';
import { accessorOf, alreadyUsed, checkClientName, isExpired, MAX_TOKENS, TOKEN_TTL_MS, TokenSealer, type MintedToken, type TokenRecord, type TokenStore, type TokenType } from './tokens.js';

/** What the messages call the store. */
const WHERE = 'etcd';
/** Times a renewal or a revocation is tried when the record changed under it. */
const CHANGE_ATTEMPTS = 3;
/** Keys read per request when listing. */
const LIST_PAGE_KEYS = 500;
/** Reads from etcd of tokens the views do not hold (minted a moment ago elsewhere), per replica: refill per second, burst. Past it, an unknown token is refused without asking etcd, so made-up tokens cannot load etcd. */
export const MISS_READS = { perSecond: 50, burst: 200 };

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** A revocation marker: when, and until when the revoked token could have lived (after which the marker is pruned). */
interface RevokedMarker {
  revoked_at: string;
  expires_at: string;
}

/** The etcd keys of the token store under a store prefix (`/glassdome`). */
export class TokenKeys {
  /** `PREFIX/tokens/`: the prefix a tokens view watches. */
  readonly tokens: Uint8Array;
  /** `PREFIX/revoked/`: the prefix a revocations view watches. */
  readonly revoked: Uint8Array;

  constructor(readonly prefix: string) {
    this.tokens = etcdKey(prefix, TOKENS, '');
    this.revoked = revokedPrefix(prefix);
  }

  /** The key of a token's record. */
  record(accessor: string): Uint8Array {
    return etcdKey(this.prefix, TOKENS, accessor);
  }

  /** The key of a token's revocation marker. */
  marker(accessor: string): Uint8Array {
    return etcdKey(this.prefix, REVOKED_TOKENS, accessor);
  }

  /** A marker's key relative to the revocations view. */
  markerInView(accessor: string): string {
    return `${REVOKED_TOKENS.slice('revoked/'.length)}/${accessor}`;
  }
}

/** The views a serving replica checks tokens against. */
export interface TokenViews {
  tokens: EtcdView;
  revoked: EtcdView;
}

/** Tokens in etcd; `key` mints and checks, `views` (a serving replica) answers checks from memory. */
export class EtcdTokenStore implements TokenStore {
  private readonly sealer: TokenSealer;
  private readonly keys: TokenKeys;
  private readonly consumed = new Set<string>();
  private readonly misses = new RateLimiter(MISS_READS);

  constructor(
    private readonly client: EtcdClient,
    prefix: string,
    key: Uint8Array | null = null,
    private readonly views: TokenViews | null = null,
  ) {
    this.sealer = new TokenSealer(key);
    this.keys = new TokenKeys(prefix);
  }

  async list(): Promise<TokenRecord[]> {
    const records = (await this.rangeAll(this.keys.tokens)).flatMap((kv) => {
      const r = parse<TokenRecord>(kv);
      return r && typeof r.accessor === 'string' ? [r] : [];
    });
    return records.sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  async create(client: string, type: TokenType, ttlMs: number = TOKEN_TTL_MS[type]): Promise<MintedToken> {
    checkClientName(client);
    await this.makeRoom();
    const minted = this.sealer.mint(client, type, ttlMs);
    const key = this.keys.record(minted.record.accessor);
    const r = await this.client.txn([{ key, target: 'CREATE', result: 'EQUAL', createRevision: 0 }], [put(key, minted.record), clockPut(this.keys.tokens)]);
    if (!r.succeeded) fail('busy', 'a new token collided with an existing accessor', 'try again');
    return minted;
  }

  async revoke(accessor: string): Promise<boolean> {
    for (let attempt = 0; attempt < CHANGE_ATTEMPTS; attempt++) {
      const kv = await this.fetch(accessor);
      if (!kv) return false;
      const record = parse<TokenRecord>(kv);
      const marker: RevokedMarker = { revoked_at: new Date().toISOString(), expires_at: record?.expires_at ?? new Date(Date.now() + TOKEN_TTL_MS.session).toISOString() };
      const r = await this.client.txn(
        [{ key: kv.key, target: 'MOD', result: 'EQUAL', modRevision: kv.modRevision }],
        [{ delete: { key: kv.key } }, put(this.keys.marker(accessor), marker), clockPut(this.keys.tokens), clockPut(this.keys.revoked)],
      );
      if (r.succeeded) return true;
    }
    return fail('busy', `token ${accessor} changed under every revocation attempt`, 'try again');
  }

  async check(token: string, types: readonly TokenType[]): Promise<TokenRecord> {
    return (await this.lookup(token, types)).record;
  }

  async exchange(bootstrap: string): Promise<MintedToken> {
    const { record, kv } = await this.lookup(bootstrap, ['bootstrap']);
    await this.makeRoom();
    const minted = this.sealer.mint(record.client, 'session', TOKEN_TTL_MS.session);
    const r = await this.client.txn(this.unchanged(kv, record.accessor), [put(kv.key, this.sealer.used(record)), put(this.keys.record(minted.record.accessor), minted.record), clockPut(this.keys.tokens)]);
    this.consumed.add(record.accessor);
    if (!r.succeeded) alreadyUsed(record.accessor); // another exchange (here or on another replica) won, or it was revoked meanwhile
    return minted;
  }

  async renew(token: string): Promise<TokenRecord> {
    for (let attempt = 0; attempt < CHANGE_ATTEMPTS; attempt++) {
      const { record, kv } = await this.lookup(token, ['session', 'admin'], attempt > 0);
      const renewed = this.sealer.renewed(record);
      const r = await this.client.txn(this.unchanged(kv, record.accessor), [put(kv.key, renewed), clockPut(this.keys.tokens)]);
      if (r.succeeded) return renewed;
    }
    return fail('busy', 'the token changed under every renewal attempt', 'try again');
  }

  /** The record of `token` and its key-value: from the views (refused when not fresh), else read from etcd once. */
  private async lookup(token: string, types: readonly TokenType[], fromEtcd = false): Promise<{ record: TokenRecord; kv: KeyValue }> {
    const accessor = accessorOf(token);
    let kv: KeyValue | undefined;
    let revoked = false;
    if (this.views && !fromEtcd) {
      this.views.tokens.assertFresh();
      this.views.revoked.assertFresh();
      revoked = this.views.revoked.get(this.keys.markerInView(accessor)) !== undefined;
      kv = revoked ? undefined : this.views.tokens.get(accessor);
    }
    if (!kv && !revoked && (!this.views || fromEtcd || this.misses.take('etcd'))) kv = await this.fetch(accessor);
    const record = kv ? (parse<TokenRecord>(kv) ?? fail('tampered', `the record of token ${accessor} in ${WHERE} was altered`, `revoke it: glassdome token revoke ${accessor}`)) : undefined;
    const checked = this.sealer.usable(this.sealer.verify(record, token, WHERE), types, this.consumed.has(accessor));
    return { record: checked, kv: kv! };
  }

  /** Compares that a record is still the one read and carries no revocation marker. */
  private unchanged(kv: KeyValue, accessor: string): Compare[] {
    return [
      { key: kv.key, target: 'MOD', result: 'EQUAL', modRevision: kv.modRevision },
      { key: this.keys.marker(accessor), target: 'VERSION', result: 'EQUAL', version: 0 },
    ];
  }

  /** A record read from etcd itself (linearizable). */
  private async fetch(accessor: string): Promise<KeyValue | undefined> {
    return (await this.client.range(this.keys.record(accessor), { limit: 1 })).kvs[0];
  }

  /** Prunes expired records and markers when the store is full; `busy` when it stays full. */
  private async makeRoom(): Promise<void> {
    const live = this.views ? this.views.tokens.entries.size : (await this.client.range(this.keys.tokens, { prefix: true, limit: MAX_TOKENS })).kvs.length;
    if (live < MAX_TOKENS) return;
    const now = Date.now();
    let pruned = 0;
    for (const kv of [...(await this.rangeAll(this.keys.tokens)), ...(await this.rangeAll(etcdKey(this.keys.prefix, REVOKED_TOKENS, '')))]) {
      const r = parse<{ expires_at: string }>(kv);
      if (r && typeof r.expires_at === 'string' && isExpired(r, now)) {
        const done = await this.client.txn([{ key: kv.key, target: 'MOD', result: 'EQUAL', modRevision: kv.modRevision }], [{ delete: { key: kv.key } }, clockPut(this.keys.tokens), clockPut(this.keys.revoked)]);
        if (done.succeeded) pruned++;
      }
    }
    if (live - pruned >= MAX_TOKENS) fail('busy', `etcd holds ${MAX_TOKENS} live tokens`, 'revoke some: glassdome token list; glassdome token revoke ACCESSOR');
  }

  /** Every key-value under a prefix but its clock key, page by page. */
  private async rangeAll(prefix: Uint8Array): Promise<KeyValue[]> {
    const out: KeyValue[] = [];
    const end = prefixEnd(prefix);
    let from = prefix;
    for (;;) {
      const page = await this.client.range(from, { end, limit: LIST_PAGE_KEYS });
      for (const kv of page.kvs) if (!text.decode(kv.key.subarray(prefix.length)).startsWith('.')) out.push(kv);
      const last = page.kvs[page.kvs.length - 1];
      if (!page.more || !last) return out;
      from = Uint8Array.from([...last.key, 0]);
    }
  }
}

/** A put of a JSON value. */
function put(key: Uint8Array, value: unknown): TxnOp {
  return { put: { key, value: utf8.encode(JSON.stringify(value)) } };
}

/** A JSON value, or null when it does not parse. */
function parse<T>(kv: KeyValue): T | null {
  try {
    return JSON.parse(text.decode(kv.value)) as T;
  } catch {
    return null;
  }
}
