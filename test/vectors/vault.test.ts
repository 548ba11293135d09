// The vault format's test vectors (docs/VAULT-FORMAT.md §vectors): each file is a pair of vault
// files and a password, and what opening them must give: the exact map, or the error code. The
// bundle vectors (vault/bundle/: backup files and rotation journals) are checked the same way.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { GlassdomeError } from '../../src/errors.js';
import { openBundle, parseBundle, type BundleKind } from '../../src/vault/bundle.js';
import type { SecretMap } from '../../src/vault/payload.js';
import { openSecrets, unsealMasterKey } from '../../src/vault/vault.js';

type MapVector = Record<string, { value_hex: string; created: number; updated: number }>;

interface Vector {
  description: string;
  password: string;
  'master_key.enc': string;
  'secrets.encrypted': string;
  kind: BundleKind;
  bundle: string;
  expect: string;
  map?: MapVector;
}

const openPair = async (v: Vector): Promise<SecretMap> => openSecrets(await unsealMasterKey(v['master_key.enc'], Buffer.from(v.password, 'utf8')), v['secrets.encrypted']);
const openBundleVector = async (v: Vector): Promise<SecretMap> => (await openBundle(parseBundle(v.bundle, v.kind, 'bundle'), Buffer.from(v.password, 'utf8'))).map;

for (const [name, dir, open] of [
  ['vault vectors', path.join(__dirname, 'vault'), openPair],
  ['bundle vectors', path.join(__dirname, 'vault/bundle'), openBundleVector],
] as const) {
  const vectors = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  describe(name, () => {
    it('there are vectors for success, bad_password, corrupt, tampered and unsupported_version', () => {
      const expects = new Set(vectors.map((f) => (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Vector).expect));
      expect([...expects].sort()).toEqual(['bad_password', 'corrupt', 'success', 'tampered', 'unsupported_version']);
    });

    for (const file of vectors) {
      it(file, async () => {
        const v = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Vector;
        let outcome: string;
        let map: MapVector | undefined;
        try {
          const opened = await open(v);
          map = Object.fromEntries([...opened].map(([n, e]) => [n, { value_hex: Buffer.from(e.value).toString('hex'), created: e.created, updated: e.updated }]));
          outcome = 'success';
        } catch (err) {
          if (!(err instanceof GlassdomeError)) throw err;
          outcome = err.code;
        }
        expect(outcome, v.description).toBe(v.expect);
        if (v.expect === 'success') expect(map).toEqual(v.map);
      });
    }
  });
}
