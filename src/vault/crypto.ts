// The cryptographic primitives of the vault, and the only module that uses a crypto library.
// Pure: no I/O. Argon2id comes from libsodium-wrappers-sumo, loaded lazily because it costs about
// 90 ms of start-up (a whole `node -e 0`), so only init, unlock and passwd pay for it. The AEAD
// (XChaCha20-Poly1305, IETF) and crypto_kdf (BLAKE2b with salt and personalization) come from the
// audited @noble libraries (through src/vendor/noble.ts); test/unit/crypto.test.ts checks they
// produce libsodium's exact bytes.
// Every function takes and returns Uint8Arrays the caller owns and can wipe.

import { blake2b, randomBytes as nobleRandomBytes, xchacha20poly1305 } from '../vendor/noble.js';
import { fail } from '../errors.js';
import { secretBuffer } from './bytes.js';
import { KDF_CONTEXT_BYTES, KEY_BYTES, TAG_BYTES } from './constants.js';

/** Argon2id cost parameters, as stored in master_key.enc. */
export interface KdfParams {
  opslimit: number;
  memlimit: number;
  salt: Uint8Array;
}

/** Fresh random bytes from the platform CSPRNG. */
export function randomBytes(length: number): Uint8Array {
  return nobleRandomBytes(length);
}

/** XChaCha20-Poly1305 encryption: returns ciphertext followed by the 16-byte tag. */
export function aeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce, ad).encrypt(plaintext);
}

/** XChaCha20-Poly1305 decryption; throws `tampered` when authentication fails. */
export function aeadOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array, what: string): Uint8Array {
  if (sealed.length < TAG_BYTES) fail('corrupt', `${what} is truncated`);
  try {
    return xchacha20poly1305(key, nonce, ad).decrypt(sealed);
  } catch {
    return fail('tampered', `${what} failed authentication`);
  }
}

/**
 * libsodium's crypto_kdf_derive_from_key: BLAKE2b keyed with the master key, the subkey id as a
 * little-endian u64 salt and the 8-byte context as personalization, both zero-padded to 16 bytes.
 * The subkey is written straight into `out` (an mlocked slot, say) and the BLAKE2b state, which
 * held key material, is destroyed: no other copy is left behind.
 */
export function deriveSubkey(masterKey: Uint8Array, subkeyId: number, context: string, out: Uint8Array = secretBuffer(KEY_BYTES)): Uint8Array {
  const ctx = new TextEncoder().encode(context);
  if (ctx.length !== KDF_CONTEXT_BYTES) throw new Error(`kdf context must be ${KDF_CONTEXT_BYTES} bytes`);
  const salt = new Uint8Array(16);
  new DataView(salt.buffer).setBigUint64(0, BigInt(subkeyId), true);
  const personalization = new Uint8Array(16);
  personalization.set(ctx);
  const state = blake2b.create({ key: masterKey, salt, personalization, dkLen: KEY_BYTES });
  try {
    state.update(new Uint8Array(0)).digestInto(out);
  } finally {
    state.destroy();
  }
  return out;
}

/** Unkeyed BLAKE2b-256, for checksums that catch damage (not tampering). */
export function checksum(message: Uint8Array): Uint8Array {
  return blake2b(message, { dkLen: 32 });
}

/** Keyed BLAKE2b-256 of a message, for MACs under a derived subkey. */
export function mac(key: Uint8Array, message: Uint8Array): Uint8Array {
  return blake2b(message, { key, dkLen: 32 });
}

/** Called once with libsodium's heap, grown to fit Argon2id, before the first password hash. */
export type HeapHook = (heap: Uint8Array) => void;

let heapHook: HeapHook | undefined;
let heapPrepared = false;

/**
 * Lets the platform prepare libsodium's WASM heap before Argon2id fills it (the CLI asks for
 * transparent huge pages there: the first touch of 64 MiB in 4 KiB pages is most of an unlock).
 */
export function setHeapHook(hook: HeapHook): void {
  heapHook = hook;
}

/** Argon2id13 (crypto_pwhash) of a password into a 32-byte key. Loads libsodium on first use. */
export async function passwordKey(password: Uint8Array, params: KdfParams): Promise<Uint8Array> {
  const sodium = await loadSodium();
  if (heapHook && !heapPrepared) {
    heapPrepared = true;
    const module = (sodium as unknown as { libsodium?: { _malloc(n: number): number; _free(p: number): void; HEAPU8: Uint8Array } }).libsodium;
    if (module) {
      module._free(module._malloc(params.memlimit + 8 * 1024 * 1024)); // grow the heap once, then advise it
      heapHook(module.HEAPU8);
    }
  }
  return sodium.crypto_pwhash(
    KEY_BYTES,
    password,
    params.salt,
    params.opslimit,
    params.memlimit,
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
}

/** Overwrites a buffer with zeros (sodium_memzero; a JS engine cannot promise more). */
export function wipe(...buffers: Array<Uint8Array | undefined | null>): void {
  for (const b of buffers) b?.fill(0);
}

/** Compares two byte strings in time independent of where they differ. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

type Sodium = typeof import('libsodium-wrappers-sumo');
let sodiumReady: Promise<Sodium> | undefined;

/** libsodium-wrappers-sumo, initialized once (start it early to overlap its ~90 ms with other work). */
export function loadSodium(): Promise<Sodium> {
  sodiumReady ??= import('libsodium-wrappers-sumo').then(async (mod) => {
    // A CommonJS package: its exports arrive as `default` under import().
    const sodium = ((mod as unknown as { default?: Sodium }).default ?? mod) as Sodium;
    await sodium.ready;
    return sodium;
  });
  return sodiumReady;
}
