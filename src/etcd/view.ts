// A replica's view of one etcd prefix, kept in memory and current by a watch, with a freshness
// guard: the view refuses (`unavailable`) rather than answer from data that may be stale.
//
// How it knows it is fresh (docs/ETCD.md, "Freshness"): every write under the prefix also puts
// the prefix's clock key (`PREFIX.clock`, see `clockPut`; `EtcdView.txn` adds it). Every
// HEARTBEAT_INTERVAL_MS the view reads the clock key with a linearizable range, which etcd
// answers only with a quorum behind it; that gives the revision of the last write under the
// prefix as of the moment the heartbeat was sent. Once the watch has delivered the clock's change
// at that revision, the view holds everything written before that moment. `assertFresh` passes
// when such a moment lies within FRESHNESS_BOUND_MS: a write made on another replica is seen here
// (or this replica refuses) within the bound. The gateway cannot carry etcd's progress requests
// (its HTTP/1.1 request body must end before the response starts), hence the clock key.

import { GlassdomeError } from '../errors.js';
import { type Compare, type EtcdClient, type KeyValue, type TxnOp, type WatchEvent, WatchCompacted } from './client.js';
import { CLOCK, prefixEnd } from './layout.js';

/** How old the view's last confirmed moment may be before it refuses to answer (ms). Revocations honour it. */
export const FRESHNESS_BOUND_MS = 1000;
/** How often the view confirms a moment with a heartbeat (ms). */
export const HEARTBEAT_INTERVAL_MS = 250;
/** Keys read per request while loading a prefix. */
export const LOAD_PAGE_KEYS = 500;
/** Unmatched heartbeats remembered (older ones are superseded by newer). */
const MAX_PENDING_HEARTBEATS = 64;
/** Pause before a broken watch is opened again (ms). */
const REWATCH_DELAY_MS = 50;

const utf8 = new TextDecoder();

/** The clock key of a watched prefix (`PREFIX` + `.clock`); `prefix` ends with `/`. */
export function clockKey(prefix: Uint8Array): Uint8Array {
  const key = new Uint8Array(prefix.length + CLOCK.length);
  key.set(prefix);
  key.set(new TextEncoder().encode(CLOCK), prefix.length);
  return key;
}

/** The operation every transaction that writes under a watched prefix adds, so views of it can tell they are current. */
export function clockPut(prefix: Uint8Array): TxnOp {
  return { put: { key: clockKey(prefix), value: new Uint8Array(0) } };
}

/** Every key under a prefix at one revision (a linearizable read), LOAD_PAGE_KEYS keys a request. */
export async function readPrefix(client: EtcdClient, prefix: Uint8Array): Promise<{ kvs: KeyValue[]; revision: number }> {
  const end = prefixEnd(prefix);
  const kvs: KeyValue[] = [];
  let from = prefix;
  let revision = 0;
  for (;;) {
    const page = await client.range(from, { end, limit: LOAD_PAGE_KEYS, ...(revision ? { revision } : {}) });
    revision ||= page.revision;
    kvs.push(...page.kvs);
    const last = page.kvs[page.kvs.length - 1];
    if (!page.more || !last) return { kvs, revision };
    from = new Uint8Array(last.key.length + 1);
    from.set(last.key);
  }
}

/** Options of a view. */
export interface EtcdViewOptions {
  /** Called after the view applied changes; `events` is empty after a full reload (read `entries`). */
  onChange?: (events: WatchEvent[]) => void;
  /** Called when the watch breaks or a heartbeat fails (for a log line; the view recovers by itself). */
  onTrouble?: (err: Error) => void;
  boundMs?: number;
  heartbeatMs?: number;
}

/** One etcd prefix mirrored in memory, with a freshness guard. */
export class EtcdView {
  /** Every key under the prefix but the clock, by its text after the prefix. */
  entries = new Map<string, KeyValue>();
  /** The revision up to which every change under the prefix has been applied. */
  revision = 0;
  private clock = 0;
  private readonly clockKey: Uint8Array;
  private readonly boundMs: number;
  private readonly heartbeatMs: number;
  /** Heartbeats not yet matched by the watch: when each was sent, and the clock it saw. */
  private pending: Array<{ sentAt: number; clock: number }> = [];
  /** The last moment at which the view was known to hold everything (ms, monotonic). */
  private confirmedAt = -Infinity;
  private lastHeartbeatOk = -Infinity;
  private watch: { cancel(): void } | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private rewatchTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private waiters: Array<{ revision: number; resolve: () => void }> = [];
  private lastWatchStart = 0;

  /** A view of every key under `prefix` (which ends with `/`); call `start` before use. */
  constructor(
    private readonly client: EtcdClient,
    readonly prefix: Uint8Array,
    private readonly options: EtcdViewOptions = {},
  ) {
    this.clockKey = clockKey(prefix);
    this.boundMs = options.boundMs ?? FRESHNESS_BOUND_MS;
    this.heartbeatMs = options.heartbeatMs ?? HEARTBEAT_INTERVAL_MS;
  }

  /** Loads the prefix, then keeps it current; `unavailable` when etcd cannot be read. */
  async start(): Promise<void> {
    await this.load();
    this.openWatch();
    await this.heartbeat();
  }

  /** Stops the watch and the heartbeats; the view then refuses. */
  stop(): void {
    this.stopped = true;
    this.watch?.cancel();
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    if (this.rewatchTimer) clearTimeout(this.rewatchTimer);
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  /** True when the view holds every write made more than the bound ago. */
  isFresh(): boolean {
    return !this.stopped && performance.now() - this.confirmedAt <= this.boundMs;
  }

  /** Throws `unavailable` unless the view is fresh. */
  assertFresh(): void {
    if (this.isFresh()) return;
    const etcdDown = performance.now() - this.lastHeartbeatOk > this.boundMs;
    throw new GlassdomeError(
      'unavailable',
      etcdDown ? `etcd has not answered for over ${this.boundMs} ms: this replica refuses rather than answer from stale data` : `this replica's view of etcd lags by over ${this.boundMs} ms: it refuses rather than answer from stale data`,
      'retry, or use another replica; check the etcd members with: etcdctl endpoint health',
    );
  }

  /** The entry under the prefix with this relative key, if any. */
  get(relativeKey: string): KeyValue | undefined {
    return this.entries.get(relativeKey);
  }

  /** A transaction whose success branch also puts the prefix's clock key. */
  txn(compare: Compare[], success: TxnOp[], failure: TxnOp[] = []): Promise<{ succeeded: boolean; revision: number; responses: unknown[] }> {
    return this.client.txn(compare, [...success, clockPut(this.prefix)], failure);
  }

  /** Resolves once the view has applied every change up to `revision` (or is stopped), or after `timeoutMs`. */
  waitFor(revision: number, timeoutMs: number): Promise<boolean> {
    if (this.revision >= revision) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter = {
        revision,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.revision >= revision);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Reads the whole prefix at one revision into a new map. */
  private async load(): Promise<void> {
    const { kvs, revision } = await readPrefix(this.client, this.prefix);
    const next = new Map<string, KeyValue>();
    let clock = 0;
    for (const kv of kvs) {
      if (this.isClock(kv.key)) clock = kv.modRevision;
      else next.set(this.relative(kv.key), kv);
    }
    this.entries = next;
    this.revision = revision;
    this.clock = clock;
    this.settle();
  }

  private openWatch(): void {
    if (this.stopped) return;
    this.lastWatchStart = performance.now();
    this.watch = this.client.watch(this.prefix, { prefix: true, startRevision: this.revision + 1 }, (events, revision) => this.apply(events, revision), (err) => this.watchBroke(err));
  }

  private watchBroke(err: Error): void {
    this.watch = null;
    if (this.stopped) return;
    this.options.onTrouble?.(err);
    this.rewatchTimer = setTimeout(() => {
      this.rewatchTimer = null;
      if (!(err instanceof WatchCompacted)) return this.openWatch();
      this.load().then(
        () => {
          this.options.onChange?.([]);
          this.openWatch();
        },
        (e: Error) => this.watchBroke(e),
      );
    }, REWATCH_DELAY_MS);
  }

  private apply(events: WatchEvent[], _responseRevision: number): void {
    const applied: WatchEvent[] = [];
    for (const event of events) {
      const rev = event.kv.modRevision;
      if (rev <= this.revision) continue; // replayed after a re-watch
      if (this.isClock(event.kv.key)) this.clock = Math.max(this.clock, rev);
      else {
        const key = this.relative(event.kv.key);
        if (event.type === 'PUT') this.entries.set(key, event.kv);
        else this.entries.delete(key);
        applied.push(event);
      }
    }
    const last = events[events.length - 1];
    if (last && last.kv.modRevision > this.revision) this.revision = last.kv.modRevision;
    this.settle();
    if (applied.length > 0) this.options.onChange?.(applied);
  }

  /** Marks the heartbeats the view now satisfies, and wakes the waiters it can. */
  private settle(): void {
    while (this.pending.length > 0 && this.pending[0]!.clock <= this.clock) {
      this.confirmedAt = Math.max(this.confirmedAt, this.pending.shift()!.sentAt);
    }
    const ready = this.waiters.filter((w) => w.revision <= this.revision);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.revision > this.revision);
    for (const w of ready) w.resolve();
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    const sentAt = performance.now();
    try {
      const { kvs } = await this.client.range(this.clockKey, { limit: 1 });
      this.lastHeartbeatOk = performance.now();
      this.pending.push({ sentAt, clock: kvs[0]?.modRevision ?? 0 });
      if (this.pending.length > MAX_PENDING_HEARTBEATS) this.pending.shift();
      this.settle();
    } catch (err) {
      this.options.onTrouble?.(err as Error);
    }
    // A watch that stays behind while etcd answers is stuck on a member cut off from the others: open it again (on the member the client now uses).
    const stuckFor = performance.now() - Math.max(this.confirmedAt, this.lastWatchStart);
    if (this.watch && this.lastHeartbeatOk >= sentAt && stuckFor > this.boundMs) {
      this.watch.cancel();
      this.openWatch();
    }
    if (this.stopped) return;
    this.heartbeatTimer = setTimeout(() => void this.heartbeat(), Math.max(0, this.heartbeatMs - (performance.now() - sentAt)));
  }

  private isClock(key: Uint8Array): boolean {
    return key.length === this.clockKey.length && key.every((b, i) => b === this.clockKey[i]);
  }

  private relative(key: Uint8Array): string {
    return utf8.decode(key.subarray(this.prefix.length));
  }
}
