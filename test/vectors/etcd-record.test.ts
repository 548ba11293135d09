// The etcd record vectors (docs/VAULT-FORMAT.md § etcd, test/vectors/vault/etcd/records.json):
// the subkeys, each secret's key path and sealed record byte for byte, rebuilt here from the
// spec's text (keyed BLAKE2b of the name, the associated data, the one-entry payload) with
// @noble directly, and every damaged record refused with its error code.

import fs from 'node:fs';
import path from 'node:path';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { blake2b } from '@noble/hashes/blake2.js';
import { describe, expect, it } from 'vitest';
import { GlassdomeError } from '../../src/errors.js';
import { deriveSubkey } from '../../src/vault/crypto.js';
import { etcdVaultKeys, openPolicyRecord, openSecretRecord, parseMeta, sealPolicyRecord, sealSecretRecord, secretPath } from '../../src/vault/etcd-record.js';
import { keysFor } from '../../src/vault/vault.js';

interface SecretVector { name: string; value_hex: string; created: number; updated: number; nonce_hex: string; path: string; record_hex: string }
interface Vectors {
  vault_id: string;
  master_key_hex: string;
  record_key_hex: string;
  name_key_hex: string;
  meta: string;
  secrets: SecretVector[];
  policy: { text: string; nonce_hex: string; record_hex: string };
  bad: Array<{ description: string; path: string; record_hex: string; expect: string }>;
}

const v = JSON.parse(fs.readFileSync(path.join(__dirname, 'vault/etcd/records.json'), 'utf8')) as Vectors;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const keys = () => etcdVaultKeys(keysFor(v.vault_id, bytes(v.master_key_hex)));

/** The one-entry payload as docs/VAULT-FORMAT.md § payload writes it, built by hand. */
function payloadOf(s: SecretVector): Buffer {
  const value = Buffer.from(s.value_hex, 'hex');
  const head = Buffer.alloc(4 + 1 + s.name.length + 20);
  head.writeUInt32LE(1, 0);
  head[4] = s.name.length;
  head.write(s.name, 5, 'ascii');
  let o = 5 + s.name.length;
  head.writeBigUInt64LE(BigInt(s.created), o);
  head.writeBigUInt64LE(BigInt(s.updated), o + 8);
  head.writeUInt32LE(value.length, o + 16);
  return Buffer.concat([head, value]);
}

const ad = (p: string): Uint8Array => new TextEncoder().encode(`glassdome/etcd-record/v1\n${v.vault_id}\n${p}`);

describe('etcd record vectors', () => {
  it('derives subkeys 4 (records) and 5 (names) with crypto_kdf, context glassdom', () => {
    const master = bytes(v.master_key_hex);
    expect(hex(deriveSubkey(master, 4, 'glassdom'))).toBe(v.record_key_hex);
    expect(hex(deriveSubkey(master, 5, 'glassdom'))).toBe(v.name_key_hex);
    expect([hex(keys().recordKey), hex(keys().nameKey)]).toEqual([v.record_key_hex, v.name_key_hex]);
  });

  for (const s of v.secrets) {
    it(`secret ${s.name}: key path, record bytes, and what it opens to`, () => {
      const k = keys();
      expect(s.path).toBe(`vault/secrets/${hex(blake2b(new TextEncoder().encode(s.name), { key: bytes(v.name_key_hex), dkLen: 32 }))}`);
      expect(secretPath(k, s.name)).toBe(s.path);
      const sealed = sealSecretRecord(k, s.name, { value: bytes(s.value_hex), created: s.created, updated: s.updated }, bytes(s.nonce_hex));
      expect([sealed.path, hex(sealed.record)]).toEqual([s.path, s.record_hex]);
      const record = bytes(s.record_hex);
      expect(record[0]).toBe(1);
      expect(hex(record.subarray(1, 25))).toBe(s.nonce_hex);
      const plain = xchacha20poly1305(bytes(v.record_key_hex), record.subarray(1, 25), ad(s.path)).decrypt(record.subarray(25));
      expect(hex(plain)).toBe(payloadOf(s).toString('hex'));
      const opened = openSecretRecord(k, s.path, record);
      expect({ name: opened.name, value_hex: hex(opened.entry.value), created: opened.entry.created, updated: opened.entry.updated }).toEqual({ name: s.name, value_hex: s.value_hex, created: s.created, updated: s.updated });
    });
  }

  it('the sealed policy and the metadata record', () => {
    const k = keys();
    expect(hex(sealPolicyRecord(k, v.policy.text, bytes(v.policy.nonce_hex)))).toBe(v.policy.record_hex);
    const record = bytes(v.policy.record_hex);
    expect(new TextDecoder().decode(xchacha20poly1305(bytes(v.record_key_hex), record.subarray(1, 25), ad('vault/policy')).decrypt(record.subarray(25)))).toBe(v.policy.text);
    expect(openPolicyRecord(k, record)).toBe(v.policy.text);
    expect(parseMeta(new TextEncoder().encode(v.meta))).toEqual({ version: 1, vaultId: v.vault_id });
  });

  for (const b of v.bad) {
    it(`refuses ${b.description}: ${b.expect}`, () => {
      let code = 'success';
      try {
        openSecretRecord(keys(), b.path, bytes(b.record_hex));
      } catch (err) {
        if (!(err instanceof GlassdomeError)) throw err;
        code = err.code;
      }
      expect(code).toBe(b.expect);
    });
  }

  it('there are vectors for tampered, corrupt and unsupported_version records', () => {
    expect([...new Set(v.bad.map((b) => b.expect))].sort()).toEqual(['corrupt', 'tampered', 'unsupported_version']);
  });
});
