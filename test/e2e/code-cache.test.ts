// The code cache of the lean bundles (src/cli/code-cache.ts), for Node versions without
// module.enableCompileCache: driven directly, so it runs under every Node, on a private copy of
// the built bundles. Whether it pays is measured in `npm run bench`, never here.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeEnv, makeVault, type TestEnv } from '../helpers/cli.js';
import { MAX_CACHE_FILES } from '../../src/cli/code-cache.js';

const ROOT = path.join(__dirname, '../..');

let t: TestEnv;
let dist: string;
let cacheDir: string;
beforeEach(async () => {
  t = makeEnv();
  await makeVault(t);
  // A copy of the bundles, whose mtimes this test may change; koffi from the real node_modules.
  const copy = path.join(t.dir, 'copy');
  dist = path.join(copy, 'dist');
  for (const dir of ['cli', 'vendor']) fs.cpSync(path.join(ROOT, 'dist', dir), path.join(dist, dir), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  cacheDir = path.join(t.dir, 'cache', 'code-cache');
});
afterEach(() => t.cleanup());

/**
 * Runs `glassdome status` through the lean bundle (of `bundles`, a dist directory) with the code
 * cache installed; with `listeners`, stderr says how many 'exit' listeners the run left.
 */
function status(env: NodeJS.ProcessEnv = t.env, bundles = dist, listeners = false): { code: number | null; stdout: string; stderr: string } {
  const count = listeners ? `process.stderr.write(String(process.listenerCount('exit')));` : '';
  const script = `require(${JSON.stringify(path.join(bundles, 'cli/code-cache.js'))}).installCodeCache(${JSON.stringify(cacheDir)}, 'status');
require(${JSON.stringify(path.join(bundles, 'cli/lean.js'))}).runFast(['status']).then((s) => { process.exitCode = s; ${count} });`;
  const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The cache files of dist/cli/lean.js (status without an agent loads other parts too). */
const caches = (): string[] => (fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).filter((n) => n.startsWith('lean-status-')).sort() : []);

describe('the code cache', () => {
  it('is written on the first run (0600 in a 0700 directory) and loaded, not rewritten, on the next', () => {
    const first = status();
    expect(first.stdout).toContain('vault:');
    expect(first.stderr).toBe('');
    expect(caches()).toEqual([expect.stringMatching(/^lean-status-[0-9a-f]{8}-v\d.*\.cache$/)]);
    const file = path.join(cacheDir, caches()[0]!);
    const written = fs.statSync(file);
    expect(written.mode & 0o777).toBe(0o600);
    expect(fs.statSync(cacheDir).mode & 0o777).toBe(0o700);
    expect(written.size).toBeGreaterThan(1000);
    const second = status();
    expect(second).toEqual(first);
    // V8 accepted it: a rejected or skipped cache is written anew (a new inode).
    expect(fs.statSync(file).ino).toBe(written.ino);
  });

  it('is never loaded when others could have written it: it is replaced by one of ours', () => {
    status();
    const file = path.join(cacheDir, caches()[0]!);
    fs.chmodSync(file, 0o666);
    const planted = fs.statSync(file).ino;
    status();
    expect(fs.statSync(file).ino).not.toBe(planted);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('a rebuilt bundle never meets the cache of the old one, which is removed', () => {
    status();
    const old = caches();
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(dist, 'cli/lean.js'), later, later);
    expect(status().stdout).toContain('vault:');
    expect(caches()).toHaveLength(1);
    expect(caches()).not.toEqual(old);
  });

  it('two checkouts keep a cache each: neither evicts the other\'s', () => {
    const other = path.join(t.dir, 'other', 'dist');
    fs.cpSync(dist, other, { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(t.dir, 'other', 'node_modules'));
    status();
    const [mine] = caches();
    const written = fs.statSync(path.join(cacheDir, mine!)).ino;
    expect(status(t.env, other).stdout).toContain('vault:');
    expect(caches()).toHaveLength(2);
    // Back to the first checkout: its cache is still there and loaded, not compiled and written anew.
    expect(status().stdout).toContain('vault:');
    expect(caches()).toHaveLength(2);
    expect(fs.statSync(path.join(cacheDir, mine!)).ino).toBe(written);
  });

  it(`keeps at most ${MAX_CACHE_FILES} files: a new cache removes the least recently written`, () => {
    fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const stale = Array.from({ length: MAX_CACHE_FILES + 5 }, (_, i) => `lean-get-${String(i).padStart(8, '0')}-v0-x64-1-1-1.cache`);
    stale.forEach((name, i) => {
      const file = path.join(cacheDir, name);
      fs.writeFileSync(file, 'old', { mode: 0o600 });
      const at = new Date(Date.now() - (stale.length - i) * 60_000); // the first is the oldest
      fs.utimesSync(file, at, at);
    });
    expect(status().stdout).toContain('vault:');
    const left = fs.readdirSync(cacheDir).filter((n) => n.endsWith('.cache'));
    expect(left).toHaveLength(MAX_CACHE_FILES);
    expect(caches()).toHaveLength(1);
    // The oldest went; the newest of the others stayed.
    expect(left).not.toContain(stale[0]);
    expect(left).toContain(stale.at(-1));
  });

  it('a garbage cache file is rejected by V8 and replaced, the command unharmed', () => {
    const expected = status();
    const file = path.join(cacheDir, caches()[0]!);
    fs.writeFileSync(file, Buffer.alloc(fs.statSync(file).size, 0x5a), { mode: 0o600 });
    expect(status()).toEqual(expected);
    expect(fs.readFileSync(file).equals(Buffer.alloc(fs.statSync(file).size, 0x5a))).toBe(false);
  });

  it("adds its 'exit' listener only with a cache to write: a run that had every cache adds none", () => {
    expect(status(t.env, dist, true).stderr).toBe('1');
    expect(caches()).toHaveLength(1);
    expect(status(t.env, dist, true).stderr).toBe('0');
  });
});
