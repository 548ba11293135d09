#!/usr/bin/env node
// Bundles the lean entry into parts, each one CommonJS file (esbuild, tree-shaken). A command
// loads only the parts it runs: `get`, `list` and `status` through the agent load dist/cli/lean.js
// alone, which is small because the rest of the lean path lives in parts of its own, required
// on demand: V8 compiles every byte of a bundle it loads (~5 ms for the single 205 KB bundle this
// replaced). Inside a part, every other part is an external require, so no code runs twice;
// GlassdomeError's `instanceof` works across parts by a brand (src/errors.ts), and koffi is
// opened once per process (src/os/libc.ts).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const ROOT = path.join(__dirname, '..');

/** [source module, bundle]: the entry of each part, and where it is written. */
const PARTS = [
  ['src/cli/fast.ts', 'dist/cli/lean.js'], // argv → command; get, list, status, the agent client
  ['src/actions/exec.ts', 'dist/cli/lean-exec.js'],
  ['src/actions/unlock.ts', 'dist/cli/lean-unlock.js'],
  ['src/actions/agent.ts', 'dist/cli/lean-agent.js'],
  ['src/keyring/session.ts', 'dist/cli/lean-keyring.js'], // the fallback, when no agent answers
  ['src/keyring/os-keyring.ts', 'dist/cli/lean-os-keyring.js'], // its keyring item, asked for before the fallback loads
  ['src/store/local-store.ts', 'dist/cli/lean-store.js'],
  ['src/client/remote-client.ts', 'dist/cli/lean-remote.js'], // glassdome serve, when GLASSDOME_SERVER is set
  ['src/store/vault-commit.ts', 'dist/cli/lean-commit.js'], // vault.journal, read only after a crashed rotate or restore
  ['src/vendor/noble.ts', 'dist/vendor/noble.js'], // @noble, for commands that decrypt
];

/** Packages never bundled: native, WASM, or needed only off the hot path. */
const EXTERNAL = ['koffi', '@napi-rs/keyring', 'libsodium-wrappers-sumo', '@inquirer/password', '@inquirer/confirm', 'chalk', 'yaml', 'picomatch'];

/**
 * [bundle, module, replacement]: a module that one part bundles in another form. The keyring
 * fallback hashes its few audit lines in JavaScript (src/audit/digest-js.ts, the same bytes):
 * node:crypto, which the agent's form uses, costs ~3.5 ms of every `get` to load.
 */
const SWAPS = [['dist/cli/lean-keyring.js', 'src/audit/digest.ts', 'src/audit/digest-js.ts']];

/**
 * [bundle, module]: the entry of another part that a bundle carries itself rather than requiring
 * that part. The keyring fallback carries LocalStore: every `get` through it needs the store, and
 * as a part of its own the store brought a second file to load and a second copy of the ~15
 * modules both use (errors, secure-file, format, libc ...).
 */
const INLINE = [['dist/cli/lean-keyring.js', 'src/store/local-store.ts']];

const partOf = new Map(PARTS.map(([src, out]) => [path.join(ROOT, src), path.join(ROOT, out)]));

/** Resolves an import of another part to a require of that part's bundle. */
function partsPlugin(ownOut) {
  return {
    name: 'glassdome-parts',
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        const source = path.resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts');
        const swap = SWAPS.find(([bundle, module]) => path.join(ROOT, bundle) === ownOut && path.join(ROOT, module) === source);
        if (swap) return { path: path.join(ROOT, swap[2]) };
        const out = partOf.get(source);
        if (!out || out === ownOut) return undefined;
        if (INLINE.some(([bundle, module]) => path.join(ROOT, bundle) === ownOut && path.join(ROOT, module) === source)) return undefined;
        let rel = path.relative(path.dirname(ownOut), out);
        if (!rel.startsWith('.')) rel = `./${rel}`;
        return { path: rel, external: true };
      });
    },
  };
}

/**
 * esbuild imports a Node built-in through __toESM, which copies every export of the module onto a
 * new object as a getter (node:fs has ~100; ~0.3 ms per bundle that imports it, measured). A
 * built-in is never an ES module, so an object that inherits from it and adds `default` reads the
 * same, and costs nothing.
 */
function cheapBuiltins(text) {
  const importBuiltin = /__toESM\((require\("node:[\w/]+"\))\)/g;
  if (!importBuiltin.test(text)) return text;
  const helper = 'var __builtin = (mod) => Object.create(mod, { default: { value: mod, enumerable: true } });\n';
  const body = text.replace(importBuiltin, '__builtin($1)');
  const strict = '"use strict";\n';
  return body.startsWith(strict) ? strict + helper + body.slice(strict.length) : helper + body;
}

async function main() {
  await Promise.all(
    PARTS.map(async ([src, out]) => {
      const { outputFiles } = await esbuild.build({
        entryPoints: [path.join(ROOT, src)],
        outfile: path.join(ROOT, out),
        bundle: true,
        platform: 'node',
        format: 'cjs',
        logLevel: 'warning',
        external: EXTERNAL,
        // import() becomes require(): the bundles load through a code cache (src/cli/code-cache.ts),
        // and a script compiled by node:vm cannot import() without an experimental flag.
        supported: { 'dynamic-import': false },
        plugins: [partsPlugin(path.join(ROOT, out))],
        write: false,
      });
      for (const file of outputFiles) {
        fs.mkdirSync(path.dirname(file.path), { recursive: true });
        fs.writeFileSync(file.path, cheapBuiltins(file.text));
      }
    }),
  );
}

main().catch((err) => {
  process.stderr.write(`bundle: ${err.message}\n`);
  process.exitCode = 1;
});
