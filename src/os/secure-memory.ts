// Key buffers that stay put and stay out of swap: a small arena allocated outside the V8 heap
// (so the garbage collector never copies it), locked with mlock(2), and zeroed on release.
// Never mlockall: V8 reserves huge ranges and aborts under it.

import { mlock } from './libc.js';

const PAGE = 4096;

/**
 * Zero-filled bytes allocated by scrubYoungGeneration: several times V8's young generation in the
 * agent (semi-spaces of 2 MiB, `--max-semi-space-size=2`), so both semi-spaces are overwritten.
 */
export const SCRUB_BYTES = 16 * 1024 * 1024;

/** Size of each scrubbing allocation: small enough to be allocated in the young generation. */
const SCRUB_OBJECT_BYTES = 48;

/**
 * Overwrites V8's young generation with zeroed objects. A collection copies the live objects it
 * keeps and never clears where they were: a small typed array that held a key (the copies
 * libraries make for one call, before they wipe them) can leave a copy behind that no wipe
 * reaches. Allocating fresh zeroed objects until both semi-spaces have been filled overwrites
 * those leftovers. Best effort: called on lock; it costs a few milliseconds.
 */
export function scrubYoungGeneration(): number {
  const ring: Uint8Array[] = new Array<Uint8Array>(1024);
  let allocated = 0;
  for (let i = 0; allocated < SCRUB_BYTES; i++) {
    ring[i & 1023] = new Uint8Array(SCRUB_OBJECT_BYTES); // kept briefly, so it is really allocated
    allocated += SCRUB_OBJECT_BYTES + 16;
  }
  return ring.length;
}

/** A fixed pool of mlocked memory handing out key-sized slots. */
export class SecureArena {
  private readonly buffer: Buffer;
  private next = 0;
  /** Whether mlock succeeded (it can fail under a low RLIMIT_MEMLOCK; the arena still works). */
  readonly locked: boolean;
  /** Why mlock failed, when it did. */
  readonly lockError: string | undefined;

  constructor(bytes = PAGE) {
    this.buffer = Buffer.allocUnsafeSlow(Math.ceil(bytes / PAGE) * PAGE).fill(0);
    let error: string | undefined;
    try {
      mlock(this.buffer);
    } catch (err) {
      error = (err as Error).message;
    }
    this.locked = error === undefined;
    this.lockError = error;
  }

  /** A zeroed slot of `length` bytes that holds a copy of `from` when given. */
  slot(length: number, from?: Uint8Array): Uint8Array {
    if (this.next + length > this.buffer.length) throw new Error('secure arena exhausted');
    const out = this.buffer.subarray(this.next, this.next + length);
    this.next += length;
    if (from) out.set(from);
    return out;
  }

  /** Zeroes every slot and makes the whole arena available again. */
  reset(): void {
    this.buffer.fill(0);
    this.next = 0;
  }
}
