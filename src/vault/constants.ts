// The sizes and cost bounds of the vault's cryptography, apart from the code that needs a crypto
// library, so parsers and the protocol can use them without loading one. Pure.

/** Bytes in a symmetric key (master key, subkeys, session keys). */
export const KEY_BYTES = 32;
/** Bytes in an XChaCha20-Poly1305 nonce. */
export const NONCE_BYTES = 24;
/** Bytes in a Poly1305 tag, appended to every ciphertext. */
export const TAG_BYTES = 16;
/** Bytes in an Argon2id salt (crypto_pwhash_SALTBYTES). */
export const SALT_BYTES = 16;
/** Bytes in a crypto_kdf context. */
export const KDF_CONTEXT_BYTES = 8;

/** The default Argon2id cost: opslimit 3, memlimit 64 MiB (DESIGN.md). */
export const DEFAULT_KDF = { opslimit: 3, memlimit: 64 * 1024 * 1024 } as const;

/**
 * The bounds a stored KDF cost must lie within: libsodium's minimums, and maximums (opslimit 10,
 * 1 GiB) that keep an edited master_key.enc (its checksum is unkeyed) from making unlock spend
 * minutes and gigabytes before the AEAD could say the file is wrong.
 */
export const KDF_LIMITS = { opsMin: 1, opsMax: 10, memMin: 8192, memMax: 1024 * 1024 * 1024 } as const;
