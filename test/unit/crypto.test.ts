// The @noble primitives must produce libsodium's exact bytes, so a vault stays readable by any
// libsodium implementation of the format.
import { describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import { aeadOpen, aeadSeal, deriveSubkey, loadSodium, mac, passwordKey } from '../../src/vault/crypto.js';
import { GlassdomeError } from '../../src/errors.js';

describe('crypto against libsodium', () => {
  it('XChaCha20-Poly1305 seals exactly as crypto_aead_xchacha20poly1305_ietf_encrypt', async () => {
    const sodium = await loadSodium();
    for (const size of [0, 1, 63, 64, 65, 1000, 70_000]) {
      const key = crypto.randomBytes(32);
      const nonce = crypto.randomBytes(24);
      const ad = crypto.randomBytes(size % 50);
      const pt = crypto.randomBytes(size);
      const ours = aeadSeal(key, nonce, pt, ad);
      const theirs = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(pt, ad, null, nonce, key);
      expect(Buffer.from(ours)).toEqual(Buffer.from(theirs));
      expect(Buffer.from(aeadOpen(key, nonce, theirs, ad, 'x'))).toEqual(pt);
    }
  });

  it('crypto_kdf_derive_from_key gives the same subkeys', async () => {
    const sodium = await loadSodium();
    const key = crypto.randomBytes(32);
    for (const id of [0, 1, 2, 255, 2 ** 40]) {
      expect(Buffer.from(deriveSubkey(key, id, 'glassdom'))).toEqual(Buffer.from(sodium.crypto_kdf_derive_from_key(32, id > 2 ** 31 ? BigInt(id) : id, 'glassdom', key)));
    }
  });

  it('keyed BLAKE2b matches crypto_generichash', async () => {
    const sodium = await loadSodium();
    const key = crypto.randomBytes(32);
    const msg = crypto.randomBytes(100);
    expect(Buffer.from(mac(key, msg))).toEqual(Buffer.from(sodium.crypto_generichash(32, msg, key)));
  });

  it('a flipped bit fails authentication with `tampered`', () => {
    const key = crypto.randomBytes(32);
    const nonce = crypto.randomBytes(24);
    const sealed = aeadSeal(key, nonce, Buffer.from('secret'), Buffer.from('ad'));
    for (let i = 0; i < sealed.length; i++) {
      const bad = Uint8Array.from(sealed);
      bad[i]! ^= 1;
      expect(() => aeadOpen(key, nonce, bad, Buffer.from('ad'), 'x')).toThrow(GlassdomeError);
    }
    expect(() => aeadOpen(key, nonce, sealed, Buffer.from('AD'), 'x')).toThrow(/failed authentication/);
  });

  it('Argon2id is libsodium crypto_pwhash ALG_ARGON2ID13', async () => {
    const sodium = await loadSodium();
    const salt = crypto.randomBytes(16);
    const ours = await passwordKey(Buffer.from('pw'), { opslimit: 1, memlimit: 8192, salt });
    expect(Buffer.from(ours)).toEqual(Buffer.from(sodium.crypto_pwhash(32, 'pw', salt, 1, 8192, sodium.crypto_pwhash_ALG_ARGON2ID13)));
  });
});
