// Readying the password KDF in a CLI process: start loading libsodium at once (it takes ~90 ms)
// and ask for huge pages under its heap, which Argon2id then fills with 64 MiB.

import { adviseHugePages } from '../os/libc.js';
import { loadSodium, setHeapHook } from '../vault/crypto.js';

/** Call first thing in a command that will run Argon2id. */
export function prepareKdf(): void {
  setHeapHook((heap) => {
    adviseHugePages(heap);
  });
  loadSodium().catch(() => undefined);
}
