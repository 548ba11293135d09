// Policy, rate limits and audit around any SecretStore, independent of the transport: the agent
// wraps its vault with it per client; the fallback CLI wraps its local store (audit only, since no
// process of the user can be kept from the keyring item); a network daemon will do the same.
// A read is audited before its value is handed out; if the audit line cannot be written, the
// value is withheld (fail closed). A write is audited as an attempt first (no line, no change)
// and then with its real outcome.

import { fail, GlassdomeError, type ErrorCode } from '../errors.js';
import type { AuditLog, LineCheck, NewEvent } from '../audit/log.js';
import type { NewSecret, SecretInfo, SecretStore } from '../vault/store.js';
import { identityChange } from '../os/identity.js';
import { clientKey, describeClient, type Client } from './client.js';
import { commandOf } from '../os/proc.js';
import { decide, type Decision } from './decide.js';
import type { Action, Policy } from './policy.js';
import { DEFAULT_RATE_LIMITS, RateLimiter } from './rate-limit.js';
import { APPLY_HINT } from './sealed.js';

/** How often one client's rate_limited events are audited at most (ms); the rest are counted. */
const RATE_AUDIT_INTERVAL_MS = 1000;

/** The agent's gatekeeper. */
export class Guard {
  readonly reads: RateLimiter;
  readonly unlocks: RateLimiter;
  private readonly lastRateAudit = new Map<string, { at: number; suppressed: number }>();
  /** Why every request is refused (a policy.yaml not sealed into the vault), or null. */
  private blocked: string | null = null;

  constructor(
    private policy: Policy | null,
    readonly audit: AuditLog,
    /** Whether the policy is enforced (false: audit only, as in the fallback CLI). */
    private readonly enforce = true,
  ) {
    const limits = policy?.rateLimits ?? DEFAULT_RATE_LIMITS;
    this.reads = new RateLimiter(limits.read);
    this.unlocks = new RateLimiter(limits.unlock);
  }

  /** Installs a new policy (the one sealed in the vault); rate limits follow it. `blocked` refuses every request but lock, saying why. */
  setPolicy(policy: Policy | null, blocked: string | null = null): void {
    this.policy = policy;
    this.blocked = blocked;
    const limits = policy?.rateLimits ?? DEFAULT_RATE_LIMITS;
    this.reads.reconfigure(limits.read);
    this.unlocks.reconfigure(limits.unlock);
  }

  /** The store as `client` may use it. */
  store(client: Client, inner: SecretStore): SecretStore {
    return new GuardedStore(this, client, inner);
  }

  /** Records an event (throws `audit_failed` when it cannot, or the refusal of `check`). */
  record(client: Client | null, event: Omit<NewEvent, 'client'>, check?: LineCheck): Promise<void> {
    return this.audit.append({ client: client && auditClient(client), ...event }, check);
  }

  /** Whether every request but lock is refused (a policy.yaml not sealed): then a read of all is refused too, not served empty. */
  get refusesAll(): boolean {
    return this.enforce && this.blocked !== null;
  }

  /** Whether `client` may read `secret` (for filtering list), without auditing. */
  mayRead(client: Client, secret: string): boolean {
    return !this.enforce || (this.blocked === null && decide(this.policy, client, 'read', secret).allow);
  }

  /** Decides, and audits a denial; throws `denied`. */
  async authorize(client: Client, action: Action, op: string, secret: string | null): Promise<Decision> {
    return this.authorizeNow(client, action, op, secret);
  }

  /** The decision when it allows; else a promise that audits the denial and rejects with `denied`. */
  authorizeNow(client: Client, action: Action, op: string, secret: string | null): Decision | Promise<never> {
    const decision = this.enforce ? decide(this.policy, client, action, secret) : { allow: true, by: 'not enforced here' };
    if (this.enforce && this.blocked !== null && op !== 'lock') {
      return this.refuse(client, { event_type: 'secret_denied', action: op, resource: secret, result: 'denied', reason: 'no policy sealed' }, new GlassdomeError('denied', this.blocked, APPLY_HINT));
    }
    if (!decision.allow) {
      const who = describeClient(client);
      const hint = client.remote ? `allow its CN in the sealed policy (a rule with clients: ["${client.remote.cn}"], then: glassdome policy apply)` : `see why: glassdome policy check --exe ${client.exe ?? 'EXE'} ${secret ?? '-'} ${action}`;
      const error = new GlassdomeError('denied', `the policy denies ${who} ${action} on ${secret === null ? op : JSON.stringify(secret)} (${decision.by})`, hint);
      return this.refuse(client, { event_type: 'secret_denied', action: op, resource: secret, result: 'denied', reason: decision.by }, error);
    }
    return decision;
  }

  /** Audits a refusal, then rejects with its error (or with the audit's failure). */
  private async refuse(client: Client, event: Omit<NewEvent, 'client'>, error: GlassdomeError): Promise<never> {
    await this.record(client, event);
    throw error;
  }

  /**
   * The check that the client is still the process that connected, running the executable it ran
   * then (src/os/identity.ts), for the audit line that releases a value or a list of names, or
   * that records the attempt of a write (set, rm: nothing is changed when it fails): the
   * log runs it just before that line is written (a failure writes `identity_changed` instead)
   * and just after (a failure adds `identity_changed`); either way the append throws `denied`.
   * Undefined for clients without a pinned identity.
   */
  identityCheck(client: Client, op: string, resource: string | null): LineCheck | undefined {
    const identity = client.identity;
    if (!identity || !this.enforce) return undefined;
    return (memo) => {
      const why = identityChange(identity, memo);
      if (why === null) return null;
      const error = new GlassdomeError('denied', `the client is not the process that connected: ${why}`, 'ask from the process that connects; a connection cannot be handed to another program or kept across exec');
      return { event: { client: auditClient(client), event_type: 'identity_changed', action: op, resource, result: 'denied', reason: why }, error };
    };
  }

  /**
   * Takes a token from `limiter` for `client` (its bucket named by `key`: uid and executable unless
   * given): null when it had one; else a promise that audits (sparingly) and rejects with
   * `rate_limited` naming the client's command.
   */
  limit(limiter: RateLimiter, client: Client, op: string, resource: string | null, key = clientKey(client)): Promise<never> | null {
    if (limiter.take(key)) return null;
    return this.limited(limiter, client, op, resource, key);
  }

  private async limited(limiter: RateLimiter, client: Client, op: string, resource: string | null, key: string): Promise<never> {
    const now = Date.now();
    const seen = this.lastRateAudit.get(key);
    if (!seen || now - seen.at >= RATE_AUDIT_INTERVAL_MS) {
      const reason = seen && seen.suppressed > 0 ? `${seen.suppressed} more since the last rate_limited line` : undefined;
      this.lastRateAudit.set(key, { at: now, suppressed: 0 });
      await this.record(client, { event_type: 'rate_limited', action: op, resource, result: 'rate_limited', ...(reason ? { reason } : {}) });
    } else {
      seen.suppressed++;
    }
    const command = client.remote ? null : (commandOf(client.pid) ?? client.exe ?? 'unknown command');
    fail('rate_limited', `too many ${op} requests from ${command === null ? describeClient(client) : `pid ${client.pid} (${command})`}; retry in ${limiter.retryAfter(key)} s`);
  }
}

/** A client as an audit line carries it: pid, uid and exe; or remote address and CN or token accessor. */
function auditClient(client: Client): NonNullable<NewEvent['client']> {
  if (!client.remote) return { pid: client.pid, uid: client.uid, exe: client.exe };
  const { address, cn, accessor } = client.remote;
  return accessor ? { remote: address, cn, accessor } : { remote: address, cn };
}

class GuardedStore implements SecretStore {
  constructor(
    private readonly guard: Guard,
    private readonly client: Client,
    private readonly inner: SecretStore,
  ) {}

  /**
   * Synchronous up to the audit line when the inner store can read at once (the agent's vault):
   * one promise per read, not one per step. The value is withheld (and wiped) if the line fails.
   */
  get(name: string): Promise<Uint8Array> {
    const limited = this.guard.limit(this.guard.reads, this.client, 'get', name);
    if (limited) return limited;
    const decision = this.guard.authorizeNow(this.client, 'read', 'get', name);
    if (decision instanceof Promise) return decision;
    if (!this.inner.getNow) return this.attempt('get', name, decision, () => this.inner.get(name)).then((value) => this.release(name, decision, value));
    let value: Uint8Array;
    try {
      value = this.inner.getNow(name);
    } catch (err) {
      return this.attempt('get', name, decision, () => Promise.reject(err));
    }
    return this.release(name, decision, value);
  }

  /** Resolves with `value` once its access is audited; wipes it and rejects when it cannot be. */
  private release(name: string, decision: Decision, value: Uint8Array): Promise<Uint8Array> {
    return this.access('get', name, decision, 'success', 'so the value is withheld', this.guard.identityCheck(this.client, 'get', name)).then(
      () => value,
      (err: unknown) => {
        value.fill(0);
        throw err;
      },
    );
  }

  async list(): Promise<string[]> {
    await this.guard.limit(this.guard.reads, this.client, 'list', null);
    const names = await this.inner.list();
    const visible = names.filter((n) => this.guard.mayRead(this.client, n));
    await this.access('list', null, { allow: true, by: `${visible.length} of ${names.length} names visible` }, 'success', 'so the names are withheld', this.guard.identityCheck(this.client, 'list', null));
    return visible;
  }

  async set(name: string, value: Uint8Array): Promise<void> {
    const decision = await this.guard.authorize(this.client, 'write', 'set', name);
    await this.access('set', name, decision, 'attempt', 'so nothing was changed', this.guard.identityCheck(this.client, 'set', name));
    await this.attempt('set', name, decision, () => this.inner.set(name, value));
    await this.outcome('set', name, decision);
  }

  async rm(name: string): Promise<void> {
    const decision = await this.guard.authorize(this.client, 'delete', 'rm', name);
    await this.access('rm', name, decision, 'attempt', 'so nothing was changed', this.guard.identityCheck(this.client, 'rm', name));
    await this.attempt('rm', name, decision, () => this.inner.rm(name));
    await this.outcome('rm', name, decision);
  }

  async infos(): Promise<SecretInfo[]> {
    await this.guard.limit(this.guard.reads, this.client, 'list', null);
    const all = await this.inner.infos();
    const visible = all.filter((e) => this.guard.mayRead(this.client, e.name));
    await this.access('list', null, { allow: true, by: `${visible.length} of ${all.length} names visible` }, 'success', 'so the names are withheld', this.guard.identityCheck(this.client, 'list', null));
    return visible;
  }

  /** Every name must be writable; each is audited as an attempt, then the batch is one write. */
  async setMany(entries: readonly NewSecret[]): Promise<void> {
    const decisions = [];
    for (const { name } of entries) decisions.push(await this.guard.authorize(this.client, 'write', 'set', name));
    for (const [i, { name }] of entries.entries()) await this.access('set', name, decisions[i]!, 'attempt', 'so nothing was changed', this.guard.identityCheck(this.client, 'set', name));
    const first = decisions[0] ?? { allow: true, by: 'empty batch' };
    await this.attempt('set', entries[0]?.name ?? '-', first, () => this.inner.setMany(entries));
    for (const [i, { name }] of entries.entries()) await this.outcome('set', name, decisions[i]!);
  }

  /** Audits an access (under `check`, when given); an audit failure becomes `audit_failed` saying what it cost. */
  private access(op: string, name: string | null, decision: Decision, result: string, consequence: string, check?: LineCheck): Promise<void> {
    return this.guard.record(this.client, { event_type: 'secret_access', action: op, resource: name, result, reason: decision.by }, check).catch((err: unknown) => {
      if (err instanceof GlassdomeError && err.code === 'audit_failed') throw new GlassdomeError('audit_failed', `${err.message}, ${consequence}`, err.hint);
      throw err;
    });
  }

  /** The outcome of a write already recorded as an attempt: the change stands even if this line is lost. */
  private async outcome(op: string, name: string, decision: Decision): Promise<void> {
    await this.guard.record(this.client, { event_type: 'secret_access', action: op, resource: name, result: 'success', reason: decision.by }).catch(() => undefined);
  }

  /** Runs the operation; a failure (not found, tampered, ...) is audited with its code. */
  private async attempt<T>(op: string, name: string, decision: Decision, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      const code: ErrorCode | 'error' = err instanceof GlassdomeError ? err.code : 'error';
      await this.guard.record(this.client, { event_type: 'secret_access', action: op, resource: name, result: code, reason: decision.by }).catch(() => undefined);
      throw err;
    }
  }
}

