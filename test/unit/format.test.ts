import { describe, expect, it } from 'vitest';
import { parseMasterKeyFile, parseSecretsFile, vaultIdOf } from '../../src/vault/format.js';
import { createVault, readMasterKeyFile, openSecrets, sealSecrets, unsealMasterKey } from '../../src/vault/vault.js';
import { GlassdomeError } from '../../src/errors.js';

async function codeOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof GlassdomeError) return e.code;
    throw e;
  }
  return undefined;
}

const KDF = { opslimit: 1, memlimit: 8192 };

describe('vault format', () => {
  it('creates a vault that opens with its password only', async () => {
    const v = await createVault(Buffer.from('pw'), KDF);
    const keys = await unsealMasterKey(v.masterKeyText, Buffer.from('pw'));
    expect(keys.vaultId).toBe(v.vaultId);
    expect(vaultIdOf(v.masterKeyText)).toBe(v.vaultId);
    expect(openSecrets(keys, v.secretsText).size).toBe(0);
    expect(await codeOf(() => unsealMasterKey(v.masterKeyText, Buffer.from('wrong')))).toBe('bad_password');
  });

  it('refuses unknown and missing fields, bad base64, and other versions', async () => {
    const v = await createVault(Buffer.from('pw'), KDF);
    const doc = JSON.parse(v.masterKeyText);
    const variants: Array<[object, string]> = [
      [{ ...doc, extra: 1 }, 'corrupt'],
      [{ ...doc, nonce: undefined }, 'corrupt'],
      [{ ...doc, nonce: `${doc.nonce}=` }, 'corrupt'],
      [{ ...doc, version: 2 }, 'unsupported_version'],
      [{ ...doc, version: '1' }, 'corrupt'],
      [{ ...doc, kdf: { ...doc.kdf, memlimit: 1 } }, 'corrupt'],
      [{ ...doc, kdf: { ...doc.kdf, alg: 'scrypt' } }, 'corrupt'],
      [{ ...doc, vault_id: 'XYZ' }, 'corrupt'],
    ];
    for (const [variant, code] of variants) {
      expect(await codeOf(() => parseMasterKeyFile(JSON.stringify(variant))), JSON.stringify(variant).slice(0, 80)).toBe(code);
    }
    expect(await codeOf(() => readMasterKeyFile(JSON.stringify({ ...doc, checksum: '0'.repeat(64) })))).toBe('corrupt');
    expect(await codeOf(() => parseSecretsFile('{"version":1}'))).toBe('corrupt');
    expect(await codeOf(() => parseSecretsFile(''))).toBe('corrupt');
  });

  it('a changed header byte fails authentication (the header is the AD)', async () => {
    const v = await createVault(Buffer.from('pw'), KDF);
    const other = await createVault(Buffer.from('pw'), KDF);
    const keys = await unsealMasterKey(v.masterKeyText, Buffer.from('pw'));
    const text = sealSecrets(keys, new Map([['a', { value: Buffer.from('1'), created: 1, updated: 1 }]]));
    const doc = JSON.parse(text);
    expect(await codeOf(() => openSecrets(keys, JSON.stringify({ ...doc, vault_id: other.vaultId })))).toBe('corrupt');
    const otherKeys = await unsealMasterKey(other.masterKeyText, Buffer.from('pw'));
    expect(await codeOf(() => openSecrets({ ...otherKeys, vaultId: keys.vaultId }, text))).toBe('tampered');
  });
});
