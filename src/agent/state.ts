// The agent's one piece of state: locked, or unlocked with the vault's keys held in an mlocked
// arena until a deadline: the absolute lifetime, or, with an idle limit, that long after the last
// request that used the key, whichever comes first. The deadline is a timer, so the keys are
// wiped at the deadline itself;
// every use also checks the wall clock, because Node's timers run on the monotonic clock, which
// stops while the machine is suspended.

import { SecureArena } from '../os/secure-memory.js';
import { KEY_BYTES } from '../vault/constants.js';
import { keysFor, wipeKeys, type VaultKeys } from '../vault/vault.js';

/** The longest single timer Node accepts (ms); longer lifetimes re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Why the agent holds no key. */
export type LockReason = 'never' | 'locked' | 'expired' | 'idle' | 'replaced';

/** The unlocked state's public facts (no key material). */
export interface Session {
  vaultId: string;
  unlockedAt: number;
  expiresAt: number;
  /** The idle limit (ms), when there is one. */
  idleMs: number | undefined;
  /** When a request last used the key (the unlock counts as a use). */
  lastUsedAt: number;
}

/** When a session ends for want of use; undefined without an idle limit. */
export function idleDeadline(session: Session): number | undefined {
  return session.idleMs === undefined ? undefined : session.lastUsedAt + session.idleMs;
}

/** The earlier of the two deadlines, and which one it is. */
function nextDeadline(session: Session): { at: number; reason: 'expired' | 'idle' } {
  const idle = idleDeadline(session);
  return idle !== undefined && idle < session.expiresAt ? { at: idle, reason: 'idle' } : { at: session.expiresAt, reason: 'expired' };
}

/** Holds the keys of one unlocked vault and forgets them at the deadline or on lock. */
export class AgentState {
  private readonly arena = new SecureArena();
  private keys: VaultKeys | undefined;
  private session: Session | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reason: LockReason = 'never';

  /** @param onLock called after the keys are wiped, with the reason. */
  constructor(private readonly onLock: (reason: LockReason, session: Session) => void = () => undefined) {}

  /** Whether the key buffers are mlocked, and why not when they are not. */
  get memoryLock(): { locked: boolean; error: string | undefined } {
    return { locked: this.arena.locked, error: this.arena.lockError };
  }

  /** Takes the master key (copied into locked memory; the caller wipes its own copy). */
  unlock(vaultId: string, masterKey: Uint8Array, lifetimeMs: number, now = Date.now(), idleMs?: number): Session {
    this.wipe();
    const master = this.arena.slot(KEY_BYTES, masterKey);
    this.keys = keysFor(vaultId, master, this.arena.slot(KEY_BYTES), this.arena.slot(KEY_BYTES));
    this.session = { vaultId, unlockedAt: now, expiresAt: now + lifetimeMs, idleMs, lastUsedAt: now };
    this.arm();
    return this.session;
  }

  /** Swaps in a rotated master key, keeping the session's unlock time and deadline. */
  rekey(masterKey: Uint8Array, now = Date.now()): Session {
    const session = this.session;
    if (!session) throw new Error('rekey while locked');
    this.unlock(session.vaultId, masterKey, session.expiresAt - now, now, session.idleMs);
    this.session = session;
    if (this.timer) clearTimeout(this.timer);
    this.arm(); // the kept session's deadlines, its idle one included
    return session;
  }

  /** A fresh random key in locked memory, valid until the next lock (for sealing cached values). */
  sessionKey(random: (n: number) => Uint8Array): Uint8Array {
    const bytes = random(KEY_BYTES);
    const slot = this.arena.slot(KEY_BYTES, bytes);
    bytes.fill(0);
    return slot;
  }

  /** The keys while unlocked and before the deadline; undefined otherwise. */
  current(now = Date.now()): VaultKeys | undefined {
    if (this.session) {
      const next = nextDeadline(this.session);
      if (now >= next.at) this.lock(next.reason);
    }
    return this.keys;
  }

  /** Records a use of the key (a keyed request), which pushes the idle deadline back. */
  touch(now = Date.now()): void {
    if (this.session && this.current(now)) this.session.lastUsedAt = now;
  }

  /** The audit subkey while unlocked (no expiry check: a line MACed at the deadline is still the owner's). */
  get auditKey(): Uint8Array | undefined {
    return this.keys?.auditKey;
  }

  /** The session facts while unlocked. */
  get info(): Session | undefined {
    this.current();
    return this.session;
  }

  /** Why the agent is locked (meaningful while it is). */
  get lockReason(): LockReason {
    return this.reason;
  }

  /** Wipes the keys and stops the timer. */
  lock(reason: Exclude<LockReason, 'never'> = 'locked'): void {
    const session = this.session;
    this.wipe();
    this.reason = reason;
    if (session) this.onLock(reason, session);
  }

  private wipe(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    wipeKeys(this.keys);
    this.arena.reset();
    this.keys = undefined;
    this.session = undefined;
  }

  /** One timer for the earlier deadline; when it fires, a deadline moved by use re-arms it. */
  private arm(): void {
    const left = this.session ? nextDeadline(this.session).at - Date.now() : 0;
    this.timer = setTimeout(() => {
      if (!this.session) return;
      const next = nextDeadline(this.session);
      if (Date.now() < next.at) this.arm();
      else this.lock(next.reason);
    }, Math.max(0, Math.min(left, MAX_TIMER_MS)));
  }
}
