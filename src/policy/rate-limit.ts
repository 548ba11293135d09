// Token buckets per client: one for reads (get, list, and so exec; keyed by uid + executable),
// one for unlock attempts (keyed by client process: src/agent/unlock-throttle.ts). A bucket refills
// continuously; an empty one answers `rate_limited` at once and never blocks anyone else. Defaults
// are named constants; policy.yaml can change them.

/** A refill rate and a burst size. */
export interface RateSpec {
  perSecond: number;
  burst: number;
}

/** The limits glassdome applies. */
export interface RateLimits {
  read: RateSpec;
  unlock: RateSpec;
}

/**
 * Defaults: reads 500/s with bursts of 1000 per client (far above what a script needs, low
 * enough that a runaway loop cannot monopolize the agent); unlocks 5 a minute, bursts of 5.
 */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  read: { perSecond: 500, burst: 1000 },
  unlock: { perSecond: 5 / 60, burst: 5 },
};

/** Clients whose buckets are kept; the least recently used beyond this are dropped. */
export const MAX_TRACKED_CLIENTS = 4096;

interface Bucket {
  tokens: number;
  at: number;
}

/** The buckets of one kind, keyed by client. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private spec: RateSpec) {}

  /** Changes the rate (policy reload); existing buckets keep their tokens, capped at the new burst. */
  reconfigure(spec: RateSpec): void {
    this.spec = spec;
    for (const b of this.buckets.values()) b.tokens = Math.min(b.tokens, spec.burst);
  }

  /** Takes one token for `client`; false when its bucket is empty. */
  take(client: string, now = Date.now()): boolean {
    let b = this.buckets.get(client);
    if (b) {
      this.buckets.delete(client); // re-insert: Map order is recency
      b.tokens = Math.min(this.spec.burst, b.tokens + ((now - b.at) / 1000) * this.spec.perSecond);
      b.at = now;
    } else {
      b = { tokens: this.spec.burst, at: now };
      if (this.buckets.size >= MAX_TRACKED_CLIENTS) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(client, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /**
   * Milliseconds until `client`'s bucket holds `tokens` tokens (at most the burst), without taking
   * any: 0 when it holds them now.
   */
  msUntil(client: string, tokens: number, now = Date.now()): number {
    return this.msUntilAll(client, Math.min(tokens, this.spec.burst), now);
  }

  /**
   * Milliseconds until `client`'s bucket would have let `tokens` more reads through, past its burst
   * (the refill of the tokens it lacks, if nothing else draws on it): 0 when it holds them now.
   */
  msUntilAll(client: string, tokens: number, now = Date.now()): number {
    const b = this.buckets.get(client);
    const held = b ? Math.min(this.spec.burst, b.tokens + ((now - b.at) / 1000) * this.spec.perSecond) : this.spec.burst;
    return held >= tokens ? 0 : Math.ceil(((tokens - held) / this.spec.perSecond) * 1000);
  }

  /** Seconds until `client` has a token again (0 when it has one now). */
  retryAfter(client: string, now = Date.now()): number {
    const b = this.buckets.get(client);
    if (!b) return 0;
    const tokens = Math.min(this.spec.burst, b.tokens + ((now - b.at) / 1000) * this.spec.perSecond);
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.spec.perSecond);
  }
}
