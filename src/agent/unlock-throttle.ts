// Unlock attempts, throttled per process: each client process (uid, pid and start time) has its
// own queue, its own count of failures in a row (each waits unlockPenaltyMs before its answer)
// and, through the Guard, its own token bucket. One process's failures never delay or refuse
// another's unlock: the owner's `glassdome unlock` is a process of its own, and a key that opens
// the vault (256 bits, unguessable) has nothing to gain from waiting behind someone's guesses.

import { startTime } from '../os/proc.js';
import type { Client } from '../policy/client.js';
import { MAX_TRACKED_CLIENTS } from '../policy/rate-limit.js';

/** Delay before answering the n-th failed unlock in a row (ms): 0.25 s doubling to 8 s. */
export function unlockPenaltyMs(failures: number): number {
  return failures <= 0 ? 0 : Math.min(250 * 2 ** (failures - 1), 8000);
}

/** The throttle key of a client process: uid, pid and start time (a reused pid is another process). */
export function processKey(client: Pick<Client, 'uid' | 'pid'>): string {
  return `${client.uid}:${client.pid}:${startTime(client.pid) ?? '?'}`;
}

interface ProcessState {
  queue: Promise<unknown>;
  failures: number;
}

/** The unlock state of every client process seen (the least recently used beyond MAX_TRACKED_CLIENTS dropped). */
export class UnlockThrottle {
  private readonly processes = new Map<string, ProcessState>();

  /** Runs `attempt` after this process's earlier attempts (each process has its own queue). */
  run<T>(key: string, attempt: () => Promise<T>): Promise<T> {
    const state = this.state(key);
    const result = state.queue.then(attempt);
    state.queue = result.catch(() => undefined);
    return result;
  }

  /** Waits the penalty this process's own failures in a row earned (none after a success). */
  async penalty(key: string): Promise<void> {
    const ms = unlockPenaltyMs(this.state(key).failures);
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  }

  /** Counts a failure of this process; returns its failures in a row. */
  failed(key: string): number {
    return ++this.state(key).failures;
  }

  /** A success ends this process's run of failures. */
  succeeded(key: string): void {
    this.state(key).failures = 0;
  }

  private state(key: string): ProcessState {
    let state = this.processes.get(key);
    if (state) {
      this.processes.delete(key); // re-insert: Map order is recency
    } else {
      state = { queue: Promise.resolve(), failures: 0 };
      if (this.processes.size >= MAX_TRACKED_CLIENTS) this.processes.delete(this.processes.keys().next().value!);
    }
    this.processes.set(key, state);
    return state;
  }
}
