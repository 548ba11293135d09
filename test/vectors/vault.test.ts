// The vault format's test vectors (docs/VAULT-FORMAT.md §vectors): each file is a pair of vault
// files and a password, and what opening them must give: the exact map, or the error code.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { GlassdomeError } from '../../src/errors.js';
import { openVault, unsealMasterKey } from '../../src/vault/vault.js';

const dir = path.join(__dirname, 'vault');
const vectors = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

interface Vector {
  description: string;
  password: string;
  'master_key.enc': string;
  'secrets.encrypted': string;
  expect: string;
  map?: Record<string, { value_hex: string; created: number; updated: number }>;
  policy?: string | null;
  anchor?: { lines: number; hash_hex: string } | null;
}

describe('vault vectors', () => {
  it('there are vectors for success, bad_password, corrupt, tampered and unsupported_version', () => {
    const expects = new Set(vectors.map((f) => (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Vector).expect));
    expect([...expects].sort()).toEqual(['bad_password', 'corrupt', 'success', 'tampered', 'unsupported_version']);
  });

  for (const file of vectors) {
    it(file, async () => {
      const v = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Vector;
      let outcome: string;
      let map: Record<string, { value_hex: string; created: number; updated: number }> | undefined;
      let extras: Pick<Vector, 'policy' | 'anchor'> = {};
      try {
        const keys = await unsealMasterKey(v['master_key.enc'], Buffer.from(v.password, 'utf8'));
        const opened = openVault(keys, v['secrets.encrypted']);
        map = Object.fromEntries([...opened.map].map(([n, e]) => [n, { value_hex: Buffer.from(e.value).toString('hex'), created: e.created, updated: e.updated }]));
        extras = { policy: opened.policy, anchor: opened.anchor && { lines: opened.anchor.lines, hash_hex: Buffer.from(opened.anchor.hash).toString('hex') } };
        outcome = 'success';
      } catch (err) {
        if (!(err instanceof GlassdomeError)) throw err;
        outcome = err.code;
      }
      expect(outcome, v.description).toBe(v.expect);
      if (v.expect === 'success') expect(map).toEqual(v.map);
      if (v.expect === 'success') expect(extras).toEqual({ policy: v.policy ?? null, anchor: v.anchor ?? null }); // absent in a vector: none sealed
    });
  }
});
