#!/usr/bin/env node
// Writes the vault test vectors under test/vectors/vault/ from a fresh random vault. Run once
// when the format changes (and bump the format version); the committed files then pin the format:
// `npm test` checks every one still opens to its map or fails with its error code.
const fs = require('node:fs');
const path = require('node:path');
const { createVault, sealSecrets, sealVault, unsealMasterKey, readMasterKeyFile } = require('../dist/vault/vault.js');
const { aeadSeal, checksum, randomBytes } = require('../dist/vault/crypto.js');
const { toHex, masterKeyChecksumInput, serializeMasterKeyFile, serializeSecretsFile, secretsAd } = require('../dist/vault/format.js');
const { encodePayload, encodeVaultPayload } = require('../dist/vault/payload.js');

const out = path.join(__dirname, '../test/vectors/vault');
const PASSWORD = 'correct horse battery staple';
const CHEAP = { opslimit: 1, memlimit: 8192 };

function write(name, v) {
  fs.writeFileSync(path.join(out, `${name}.json`), `${JSON.stringify(v, null, 2)}\n`);
}
function flipBase64Byte(b64, index) {
  const bytes = Buffer.from(b64, 'base64');
  bytes[index] ^= 0x01;
  return bytes.toString('base64');
}
function withChecksum(masterText) {
  const doc = JSON.parse(masterText);
  const file = {
    version: doc.version,
    vaultId: doc.vault_id,
    kdf: { opslimit: doc.kdf.opslimit, memlimit: doc.kdf.memlimit, salt: Buffer.from(doc.kdf.salt, 'base64') },
    nonce: Buffer.from(doc.nonce, 'base64'),
    sealedKey: Buffer.from(doc.sealed_key, 'base64'),
  };
  return serializeMasterKeyFile(file, toHex(checksum(masterKeyChecksumInput(file))));
}

(async () => {
  fs.mkdirSync(out, { recursive: true });
  const map = new Map([
    ['proxmox_password', { value: Buffer.from('hunter2'), created: 1763900000000, updated: 1763900000000 }],
    ['aws/prod.key-id_1', { value: Buffer.from('AKIA…ünïcode'), created: 1763900000001, updated: 1763900100000 }],
    ['binary', { value: Buffer.from([0, 1, 2, 253, 254, 255, 10]), created: 1763900000002, updated: 1763900000002 }],
  ]);
  const expected = Object.fromEntries([...map].map(([n, e]) => [n, { value_hex: e.value.toString('hex'), created: e.created, updated: e.updated }]));

  const v = await createVault(Buffer.from(PASSWORD), CHEAP);
  const keys = await unsealMasterKey(v.masterKeyText, Buffer.from(PASSWORD));
  const secrets = sealSecrets(keys, map);
  const base = { password: PASSWORD, 'master_key.enc': v.masterKeyText, 'secrets.encrypted': secrets };
  const master = JSON.parse(v.masterKeyText);
  const sec = JSON.parse(secrets);

  write('ok-basic', { description: 'three secrets (text, unicode, binary) under a cheap KDF', ...base, master_key_hex: Buffer.from(keys.masterKey).toString('hex'), expect: 'success', map: expected });
  write('ok-empty', { description: 'a new vault holds no secrets', password: PASSWORD, 'master_key.enc': v.masterKeyText, 'secrets.encrypted': v.secretsText, expect: 'success', map: {} });
  const d = await createVault(Buffer.from(PASSWORD));
  write('ok-default-kdf', { description: 'the default KDF cost: Argon2id opslimit 3, memlimit 64 MiB', password: PASSWORD, 'master_key.enc': d.masterKeyText, 'secrets.encrypted': d.secretsText, expect: 'success', map: {} });
  write('bad-password', { description: 'the wrong password', ...base, password: 'Correct horse battery staple', expect: 'bad_password' });
  write('master-flipped-sealed-key', { description: 'one bit of the sealed key flipped: the checksum catches it', ...base, 'master_key.enc': JSON.stringify({ ...master, sealed_key: flipBase64Byte(master.sealed_key, 5) }), expect: 'corrupt' });
  write('master-tampered-checksum-fixed', { description: 'the sealed key changed and the checksum recomputed: only the AEAD notices, which reads as a wrong password', ...base, 'master_key.enc': withChecksum(JSON.stringify({ ...master, sealed_key: flipBase64Byte(master.sealed_key, 5) })), expect: 'bad_password' });
  write('master-kdf-edited', { description: 'opslimit raised and the checksum recomputed: the KDF cost is in the AD', ...base, 'master_key.enc': withChecksum(JSON.stringify({ ...master, kdf: { ...master.kdf, opslimit: 2 } })), expect: 'bad_password' });
  write('master-kdf-opslimit-over-cap', { description: 'opslimit raised to 11 (over the cap of 10) and the checksum recomputed: refused before Argon2id runs', ...base, 'master_key.enc': withChecksum(JSON.stringify({ ...master, kdf: { ...master.kdf, opslimit: 11 } })), expect: 'corrupt' });
  write('master-kdf-memlimit-over-cap', { description: 'memlimit raised to 1 GiB + 1 KiB (over the cap of 1 GiB) and the checksum recomputed: refused before Argon2id runs', ...base, 'master_key.enc': withChecksum(JSON.stringify({ ...master, kdf: { ...master.kdf, memlimit: 1024 * 1024 * 1024 + 1024 } })), expect: 'corrupt' });
  write('master-truncated', { description: 'master_key.enc cut short', ...base, 'master_key.enc': v.masterKeyText.slice(0, 100), expect: 'corrupt' });
  write('master-version-2', { description: 'a master_key.enc of a format version this build does not read', ...base, 'master_key.enc': JSON.stringify({ ...master, version: 2 }), expect: 'unsupported_version' });
  write('master-unknown-field', { description: 'an extra field', ...base, 'master_key.enc': JSON.stringify({ ...master, hint: 'x' }), expect: 'corrupt' });
  write('secrets-flipped-ciphertext', { description: 'one bit of the ciphertext flipped', ...base, 'secrets.encrypted': JSON.stringify({ ...sec, ciphertext: flipBase64Byte(sec.ciphertext, 10) }), expect: 'tampered' });
  write('secrets-flipped-nonce', { description: 'one bit of the nonce flipped', ...base, 'secrets.encrypted': JSON.stringify({ ...sec, nonce: flipBase64Byte(sec.nonce, 0) }), expect: 'tampered' });
  write('secrets-truncated', { description: 'secrets.encrypted cut short', ...base, 'secrets.encrypted': secrets.slice(0, secrets.length - 20), expect: 'corrupt' });
  write('secrets-version-3', { description: 'a secrets.encrypted of a format version this build does not read', ...base, 'secrets.encrypted': JSON.stringify({ ...sec, version: 3 }), expect: 'unsupported_version' });

  // Format version 2: the payload carries the sealed policy and the audit anchor after the map.
  const policy = 'default_policy: deny\nauthorization:\n  rules:\n    - name: py\n      clients: [{ exe: /usr/bin/python3* }]\n      secrets: ["proxmox_*"]\n      actions: [read]\n';
  const anchor = { lines: 42, hash: Buffer.from('5'.repeat(64), 'hex') };
  const full = sealVault(keys, { map, policy, anchor });
  write('ok-policy-anchor', { description: 'format version 2 with a sealed policy and an audit anchor', ...base, 'secrets.encrypted': full, expect: 'success', map: expected, policy, anchor: { lines: 42, hash_hex: '5'.repeat(64) } });
  // Raw payloads sealed as the writer would: the decoder must refuse what the encoder never makes.
  const sealRaw = (plaintext, version = 2) => {
    const nonce = randomBytes(24);
    return serializeSecretsFile({ version, vaultId: keys.vaultId, nonce, ciphertext: aeadSeal(keys.secretsKey, nonce, plaintext, secretsAd({ version, vaultId: keys.vaultId })) });
  };
  const v2 = encodeVaultPayload({ map, policy: null, anchor: null });
  write('ok-legacy-version-1', { description: 'format version 1 (the map alone, as earlier releases wrote it) still opens: no policy, no anchor', ...base, 'secrets.encrypted': sealRaw(encodePayload(map), 1), expect: 'success', map: expected, policy: null, anchor: null });
  write('secrets-v2-bad-flag', { description: 'a section flag other than 0 or 1', ...base, 'secrets.encrypted': sealRaw(Buffer.concat([v2.subarray(0, v2.length - 2), Buffer.from([2, 0])])), expect: 'corrupt' });
  write('secrets-v2-trailing', { description: 'a byte after the last section', ...base, 'secrets.encrypted': sealRaw(Buffer.concat([v2, Buffer.from([0])])), expect: 'corrupt' });
  write('secrets-v2-no-sections', { description: 'a version 2 payload without its two section flags (a version 1 payload)', ...base, 'secrets.encrypted': sealRaw(encodePayload(map)), expect: 'corrupt' });
  write('secrets-v1-relabelled-v2', { description: 'a version 1 file relabelled version 2: the version is in the AD', ...base, 'secrets.encrypted': JSON.stringify({ ...JSON.parse(sealRaw(encodePayload(map), 1)), version: 2 }), expect: 'tampered' });
  write('secrets-other-vault', { description: 'the header names another vault', ...base, 'secrets.encrypted': JSON.stringify({ ...sec, vault_id: 'f'.repeat(32) }), expect: 'corrupt' });
  readMasterKeyFile(v.masterKeyText);
  console.log(`wrote ${fs.readdirSync(out).length} vectors to ${out}`);
})();
