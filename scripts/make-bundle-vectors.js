#!/usr/bin/env node
// Writes the bundle test vectors (backup files and the rotation journal) under
// test/vectors/vault/bundle/ from the ok-basic vault vector, so they stay stable. Run after
// `npm run build` when the bundle format changes (and bump its version).
const fs = require('node:fs');
const path = require('node:path');
const { serializeBundle } = require('../dist/vault/bundle.js');

const vectors = path.join(__dirname, '../test/vectors/vault');
const out = path.join(vectors, 'bundle');
const basic = JSON.parse(fs.readFileSync(path.join(vectors, 'ok-basic.json'), 'utf8'));
const other = JSON.parse(fs.readFileSync(path.join(vectors, 'secrets-other-vault.json'), 'utf8'));
const files = { 'master_key.enc': basic['master_key.enc'], 'secrets.encrypted': basic['secrets.encrypted'] };
const vaultId = JSON.parse(files['master_key.enc']).vault_id;
const createdAt = '2026-11-23T23:00:00.000Z';
const backup = serializeBundle({ kind: 'glassdome-backup', vaultId, createdAt, files });

function write(name, v) {
  fs.writeFileSync(path.join(out, `${name}.json`), `${JSON.stringify({ password: basic.password, ...v }, null, 2)}\n`);
}
function flipCiphertext(secretsText) {
  const doc = JSON.parse(secretsText);
  const bytes = Buffer.from(doc.ciphertext, 'base64');
  bytes[3] ^= 0x01;
  return `${JSON.stringify({ ...doc, ciphertext: bytes.toString('base64') })}\n`;
}

fs.mkdirSync(out, { recursive: true });
write('backup-ok', { description: 'a backup of the ok-basic vault', kind: 'glassdome-backup', bundle: backup, expect: 'success', map: basic.map });
write('journal-ok', { description: 'a rotation journal holding the ok-basic pair', kind: 'glassdome-rotation', bundle: serializeBundle({ kind: 'glassdome-rotation', vaultId, createdAt, files }), expect: 'success', map: basic.map });
write('backup-bad-password', { description: 'the right backup, the wrong password', kind: 'glassdome-backup', bundle: backup, password: 'Correct horse battery staple', expect: 'bad_password' });
const at = backup.indexOf('"ciphertext') + 20;
write('backup-flipped-byte', { description: 'one character of the secrets text changed: the bundle checksum catches it', kind: 'glassdome-backup', bundle: backup.slice(0, at) + (backup[at] === 'A' ? 'B' : 'A') + backup.slice(at + 1), expect: 'corrupt' });
write('backup-truncated', { description: 'a backup cut short', kind: 'glassdome-backup', bundle: backup.slice(0, Math.floor(backup.length / 2)), expect: 'corrupt' });
write('backup-tampered-checksum-fixed', { description: 'the ciphertext changed and the bundle checksum recomputed: only the AEAD notices', kind: 'glassdome-backup', bundle: serializeBundle({ kind: 'glassdome-backup', vaultId, createdAt, files: { ...files, 'secrets.encrypted': flipCiphertext(files['secrets.encrypted']) } }), expect: 'tampered' });
write('backup-mixed-vaults', { description: 'a secrets.encrypted of another vault, checksum recomputed', kind: 'glassdome-backup', bundle: serializeBundle({ kind: 'glassdome-backup', vaultId, createdAt, files: { ...files, 'secrets.encrypted': other['secrets.encrypted'] } }), expect: 'corrupt' });
write('backup-version-2', { description: 'a backup of a version this build does not read', kind: 'glassdome-backup', bundle: JSON.stringify({ ...JSON.parse(backup), version: 2 }), expect: 'unsupported_version' });
write('backup-unknown-field', { description: 'an unknown field', kind: 'glassdome-backup', bundle: JSON.stringify({ ...JSON.parse(backup), note: 'x' }), expect: 'corrupt' });
write('journal-read-as-backup', { description: 'a journal is not a backup', kind: 'glassdome-backup', bundle: serializeBundle({ kind: 'glassdome-rotation', vaultId, createdAt, files }), expect: 'corrupt' });
