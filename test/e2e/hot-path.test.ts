// What `get`, `list` and `status` load on their way to the agent: the start-up people feel is
// measured in `npm run bench`; this pins the causes, without timing anything. Each run records
// (through a --require hook in NODE_OPTIONS) the files it loaded and the built-in modules Node
// compiled, and the test checks that none of the costly ones is among them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import { BIN, cli, makeEnv, makeVault, python, startAgent, unlock, type TestEnv } from '../helpers/cli.js';

const DIST = path.join(__dirname, '../../dist');

let t: TestEnv;
let hook: string;
beforeAll(async () => {
  t = makeEnv();
  await makeVault(t);
  await startAgent(t.env);
  await unlock(t.env);
  await cli(t.env, ['set', 'db_pass'], 'p@ss w0rd');
  hook = path.join(t.dir, 'record-modules.js');
  fs.writeFileSync(
    hook,
    `process.on('exit', () => require('fs').writeFileSync(process.env.RECORD_TO, JSON.stringify({ files: Object.keys(require.cache), builtins: process.moduleLoadList })));\n`,
  );
});
afterAll(() => t.cleanup());

/** Runs the CLI with the recording hook; returns its result and what it loaded. */
async function recorded(args: string[]): Promise<{ code: number | null; stdout: string; files: string[]; builtins: string[] }> {
  const out = path.join(t.dir, `loaded-${args[0]}.json`);
  const r = await cli({ ...t.env, NODE_OPTIONS: `--require=${hook}`, RECORD_TO: out }, args);
  const { files, builtins } = JSON.parse(fs.readFileSync(out, 'utf8')) as { files: string[]; builtins: string[] };
  return { code: r.code, stdout: r.stdout, files, builtins };
}

describe('the hot path through the agent', () => {
  for (const args of [['get', 'db_pass'], ['list'], ['status']]) {
    it(`${args[0]} loads one bundle of glassdome's, and neither node:net nor the framework`, async () => {
      const r = await recorded(args);
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(0);
      const ours = r.files.filter((f) => f.startsWith(DIST));
      // Before Node 22's compile cache, a small loader keeps a code cache of the bundle.
      const loader = 'enableCompileCache' in Module ? [] : [path.join(DIST, 'cli/code-cache.js')];
      expect(ours).toEqual([...loader, path.join(DIST, 'cli/lean.js')]);
      expect(r.files.some((f) => f.includes('@oclif') || f.includes('libsodium') || f.includes('keyring'))).toBe(false);
      // process.stdout on a pipe is a net.Socket: the CLI writes with write(2) instead.
      expect(r.builtins).not.toContain('NativeModule net');
      expect(r.builtins).not.toContain('NativeModule stream');
      // node:os only answers os.homedir() when $HOME is unset; node:module (and the ES module
      // loader it brings) only where it may have enableCompileCache (Node >= 22).
      expect(process.env.HOME).toBeTruthy();
      expect(r.builtins).not.toContain('NativeModule os');
      if (Number(process.versions.node.split('.')[0]) < 22) expect(r.builtins).not.toContain('NativeModule module');
    });

    it(`${args[0]} exits at once, and its code cache is still written on the way out`, async () => {
      const cache = path.join(t.dir, `cache-${args[0]}`);
      const r = await cli({ ...t.env, XDG_CACHE_HOME: cache }, args);
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(0);
      // Node >= 22.1 keeps its own compile cache, flushed at exit; before it, dist/cli/code-cache.js
      // writes its file from an 'exit' listener. Either is written only by a process that ran its
      // exit path, which process.exit must not skip.
      const dir = path.join(cache, 'glassdome', 'enableCompileCache' in Module ? 'compile-cache' : 'code-cache');
      const files = fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
      expect(files.length).toBeGreaterThan(0);
    });
  }

  it("exec exits at once too: the child's status is its own, and the code cache is still written", async () => {
    const cache = path.join(t.dir, 'cache-exec');
    const r = await cli({ ...t.env, XDG_CACHE_HOME: cache }, ['exec', '--', '/bin/sh', '-c', 'cat <&3; exit 7']);
    expect(r.code).toBe(7);
    expect(JSON.parse(r.stdout)).toMatchObject({ db_pass: 'p@ss w0rd' });
    const dir = path.join(cache, 'glassdome', 'enableCompileCache' in Module ? 'compile-cache' : 'code-cache');
    expect(fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length).toBeGreaterThan(0);
  });

  it('get writes its output whole to a pipe, a 1 MiB value included', async () => {
    const big = Buffer.alloc(1024 * 1024, 'x');
    expect((await cli(t.env, ['set', 'big'], big)).code).toBe(0);
    const r = await cli(t.env, ['get', '-n', 'big']);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(big.length);
  });

  it('get hands its whole value to a non-blocking pipe read late (what write(2) cannot take goes through process.stdout, flushed before exit)', async () => {
    const value = Buffer.alloc(1024 * 1024, 'y');
    expect((await cli(t.env, ['set', 'big_late'], value)).code).toBe(0);
    // A reader that makes its pipe non-blocking and starts reading only after the CLI filled it.
    const script = [
      'import fcntl, os, subprocess, sys, time',
      'r, w = os.pipe()',
      'fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)',
      'p = subprocess.Popen(sys.argv[1:], stdout=w)',
      'os.close(w)',
      'time.sleep(0.3)',
      'n = 0',
      'while True:',
      '    chunk = os.read(r, 65536)',
      '    if not chunk: break',
      '    n += len(chunk)',
      'print(p.wait(), n)',
    ].join('\n');
    const r = python(script, [process.execPath, BIN, 'get', '-n', 'big_late'], t.env);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`0 ${value.length}`);
  });
});
