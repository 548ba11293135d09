// The vault format's test vectors (docs/VAULT-FORMAT.md §vectors): each file is a pair of vault
// files and a password, and what opening them must give: the exact map, or the error code. The
// bundle vectors (vault/bundle/: backup files and rotation journals) are checked the same way.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { GlassdomeError } from '../../src/errors.js';
import { openBundle, parseBundle, type BundleKind } from '../../src/vault/bundle.js';
import type { SecretMap } from '../../src/vault/payload.js';
import { openVault, unsealMasterKey } from '../../src/vault/vault.js';

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
  policy?: string | null;
  anchor?: { lines: number; hash_hex: string } | null;
}

/** What a vector opens to: the map, and for a pair the sealed policy and the audit anchor. */
interface Opened {
  map: SecretMap;
  extras?: Pick<Vector, 'policy' | 'anchor'>;
}

const openPair = async (v: Vector): Promise<Opened> => {
  const p = openVault(await unsealMasterKey(v['master_key.enc'], Buffer.from(v.password, 'utf8')), v['secrets.encrypted']);
  return { map: p.map, extras: { policy: p.policy, anchor: p.anchor && { lines: p.anchor.lines, hash_hex: Buffer.from(p.anchor.hash).toString('hex') } } };
};
const openBundleVector = async (v: Vector): Promise<Opened> => ({ map: (await openBundle(parseBundle(v.bundle, v.kind, 'bundle'), Buffer.from(v.password, 'utf8'))).map });

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
        let extras: Opened['extras'];
        try {
          const opened = await open(v);
          extras = opened.extras;
          map = Object.fromEntries([...opened.map].map(([n, e]) => [n, { value_hex: Buffer.from(e.value).toString('hex'), created: e.created, updated: e.updated }]));
          outcome = 'success';
        } catch (err) {
          if (!(err instanceof GlassdomeError)) throw err;
          outcome = err.code;
        }
        expect(outcome, v.description).toBe(v.expect);
        if (v.expect === 'success') expect(map).toEqual(v.map);
        if (v.expect === 'success' && extras) expect(extras).toEqual({ policy: v.policy ?? null, anchor: v.anchor ?? null }); // absent in a vector: none sealed
      });
    }
  });
}
