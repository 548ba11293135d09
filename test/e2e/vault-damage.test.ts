// Issue 9, smaller items, replayed against the real CLI and agent: a tampered secrets.encrypted
// met by `unlock` with the right password is `tampered` (exit 6), not "that key does not open this
// vault" (exit 1); a KDF cost raised in master_key.enc past glassdome's caps (its checksum is
// unkeyed, so anyone can recompute it) is refused before Argon2id runs. Neither file is touched.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { cli, makeEnv, makeVault, startAgent, unlock, type TestEnv } from '../helpers/cli.js';
import { masterKeyChecksumInput, parseMasterKeyFile, serializeMasterKeyFile, toHex } from '../../src/vault/format.js';
import { checksum } from '../../src/vault/crypto.js';

let t: TestEnv;
beforeEach(() => {
  t = makeEnv();
});
afterEach(() => t.cleanup());

describe('a damaged vault met by unlock', () => {
  it('a tampered secrets.encrypted is tampered (exit 6) when the password is right; the file is untouched', async () => {
    await makeVault(t);
    await startAgent(t.env);
    expect((await unlock(t.env)).code).toBe(0);
    expect((await cli(t.env, ['set', 'x'], 'v')).code).toBe(0);
    expect((await cli(t.env, ['lock'])).code).toBe(0);
    const file = path.join(t.home, 'secrets.encrypted');
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    const sealed = Buffer.from(doc.ciphertext, 'base64');
    sealed[0]! ^= 0x01;
    doc.ciphertext = sealed.toString('base64');
    fs.writeFileSync(file, `${JSON.stringify(doc)}\n`);
    const before = fs.readFileSync(file);

    const r = await unlock(t.env);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain(`glassdome: ${file} is damaged or was tampered with: the password is right`);
    expect(r.stderr).not.toMatch(/GLASSDOME_HOME|does not open this vault$/m);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    // A wrong password is still a wrong password (exit 1), not damage.
    expect((await unlock(t.env, [], 'not the password')).code).toBe(1);
  });

  it('a KDF cost raised past the caps is refused before Argon2id runs (exit 6); the file is untouched', async () => {
    await makeVault(t);
    await startAgent(t.env);
    const file = path.join(t.home, 'master_key.enc');
    const { file: parsed } = parseMasterKeyFile(fs.readFileSync(file, 'utf8'));
    for (const [cost, said] of [
      [{ opslimit: 64 }, 'an argon2id opslimit of 64, outside the 1..10 glassdome accepts'],
      [{ memlimit: 4 * 1024 * 1024 * 1024 }, 'an argon2id memlimit of 4294967296, outside the 8192..1073741824 bytes (1 GiB) glassdome accepts'],
    ] as const) {
      const edited = { ...parsed, kdf: { ...parsed.kdf, ...cost } };
      fs.writeFileSync(file, serializeMasterKeyFile(edited, toHex(checksum(masterKeyChecksumInput(edited)))), { mode: 0o600 });
      const before = fs.readFileSync(file);
      for (const args of [['unlock', '--password-stdin'], ['status']]) {
        const r = await cli(t.env, args, 'correct horse battery staple');
        expect(r.code, r.stderr).toBe(6);
        expect(r.stderr).toContain(`glassdome: master_key.enc asks for ${said}`);
      }
      expect(fs.readFileSync(file).equals(before)).toBe(true);
    }
  });
});
