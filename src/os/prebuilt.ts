// Native addons opened straight from their prebuilt package. koffi and @napi-rs/keyring each
// choose their build at load time by probing the C library (koffi reads the node binary's ELF
// headers, ~9 ms; napi-rs reads /usr/bin/ldd and tries requires that fail, 6-13 ms measured),
// where opening the glibc build directly costs under 1 ms. A build that does not open here (musl,
// another platform) or whose version is not the one the package expects throws, and the caller
// falls back to the package's own loader.

import fs from 'node:fs';
import path from 'node:path';

/**
 * Where package `name` is installed. glassdome's own node_modules beside dist/ is tried by path
 * first (require.resolve's search costs ~1 ms).
 */
export function packageDir(name: string): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (path.basename(dir) === 'dist') {
      const candidate = path.join(path.dirname(dir), 'node_modules', name);
      if (fs.existsSync(candidate)) return candidate;
      break;
    }
  }
  return path.dirname(require.resolve(`${name}/package.json`));
}

/** The version in a package's package.json, read (require's resolution of JSON costs ~0.25 ms more). */
export function packageVersion(dir: string): string {
  return (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The exports of the native addon at `file` inside the package directory `dir`. */
export function openAddon<T>(dir: string, file: string): T {
  const native = { exports: {} as T };
  process.dlopen(native, path.join(dir, file));
  return native.exports;
}
