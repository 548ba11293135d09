// A V8 code cache for the lean bundles, for Node versions without module.enableCompileCache
// (before 22.1). V8 compiles every function of a bundle the first time it runs; a cache made
// after a run holds that compiled code, and the next run of the same command skips the work
// (~2 ms of every `glassdome get`, measured). One cache file per bundle and command (each command
// runs other functions), named after the bundle's size, mtime and inode and the Node version and
// architecture, so that a rebuilt bundle or another Node never meets a stale cache (V8 itself
// checks only the source's length), and after a hash of the bundle's path, so that two checkouts
// or installs on one machine keep a cache each instead of evicting each other's at every start. A
// new cache replaces the older ones of its own bundle path and command, and the directory keeps at
// most MAX_CACHE_FILES (the least recently written go first). The files live in the user's own
// cache directory, mode 0600 in a 0700 directory; a file that is not ours, or is writable by
// others, is never loaded.
// Everything here is best effort: any failure means compiling as usual, never an error.

import fs from 'node:fs';
import type Module from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

/**
 * The CommonJS loader's Module class, the very object node:module exports, taken from this
 * module's own constructor: requiring node:module loads it and the ES module loader behind it
 * (~0.3 ms of every start, measured).
 */
const Loader = module.constructor as typeof Module;

/** The bundles whose code is cached: the parts of the lean entry and the vendored @noble. */
const CACHED = /[\\/]dist[\\/](cli[\\/]lean(-[a-z-]+)?|vendor[\\/]noble)\.js$/;

/** Bytes of a cache file that is certainly not one (V8's smallest is far larger). */
const MAX_CACHE_BYTES = 4 * 1024 * 1024;

/** Cache files kept in the directory at most: a few builds' worth of bundles and commands. */
export const MAX_CACHE_FILES = 64;

/** What a command is called in a cache file's name (argv[0] when it is a plain word). */
function commandTag(command: string | undefined): string {
  return command !== undefined && /^[a-z][a-z-]{0,31}$/.test(command) ? command : 'other';
}

/** 8 hex digits of a path (FNV-1a): which checkout a cache file belongs to, without loading node:crypto. */
function pathTag(filename: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < filename.length; i++) h = Math.imul(h ^ filename.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** The cache file of a bundle for a command. */
export function cacheFile(dir: string, filename: string, stat: fs.Stats, command: string | undefined): string {
  const key = [process.version, process.arch, stat.size, Math.trunc(stat.mtimeMs), stat.ino].join('-');
  return path.join(dir, `${path.basename(filename, '.js')}-${commandTag(command)}-${pathTag(filename)}-${key}.cache`);
}

/** The cache's bytes when the file is ours and writable by us alone; undefined otherwise. */
function readOwnFile(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0 || st.size > MAX_CACHE_BYTES) return undefined;
    const bytes = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < bytes.length) {
      const n = fs.readSync(fd, bytes, off, bytes.length - off, off);
      if (n === 0) return undefined;
      off += n;
    }
    return bytes;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes a cache file whole or not at all (a private temporary name, then rename). */
function writeCache(dir: string, file: string, data: Buffer): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, file);
    // The caches of earlier builds of this bundle (at this path), for this command, are dead weight now.
    const prefix = path.basename(file).replace(/-v\d[^]*$/, '-v');
    const others = fs.readdirSync(dir).filter((name) => name.endsWith('.cache') && name !== path.basename(file));
    for (const name of others.filter((n) => n.startsWith(prefix))) fs.rmSync(path.join(dir, name), { force: true });
    pruneOldest(dir, others.filter((n) => !n.startsWith(prefix)), MAX_CACHE_FILES - 1);
  } catch {
    // a read-only or full cache directory: compile next time too
  }
}

/** Removes the least recently written of `names` (cache files in `dir`) beyond the first `keep`. */
function pruneOldest(dir: string, names: string[], keep: number): void {
  if (names.length <= keep) return;
  const byAge = names.map((name) => ({ name, at: fs.statSync(path.join(dir, name), { throwIfNoEntry: false })?.mtimeMs ?? 0 })).sort((a, b) => b.at - a.at);
  for (const { name } of byAge.slice(keep)) fs.rmSync(path.join(dir, name), { force: true });
}

/**
 * Loads the lean bundles through a code cache in `dir`, for the command `command`: a bundle is
 * compiled with its cache when there is a valid one, and a cache is written at exit when there
 * was none (or V8 rejected it). Other modules load as usual.
 */
export function installCodeCache(dir: string, command: string | undefined): void {
  const extensions = (Loader as unknown as { _extensions: Record<string, (m: Module, filename: string) => void> })._extensions;
  const compileJs = extensions['.js']!;
  const pending: Array<() => void> = [];
  // The 'exit' listener is added with the first cache to write: a run that had every cache it
  // needed (nearly all of them) neither adds nor runs one.
  const writeAtExit = (write: () => void): void => {
    if (pending.push(write) === 1) process.once('exit', () => pending.forEach((w) => w()));
  };
  extensions['.js'] = function loadWithCache(module: Module, filename: string): void {
    if (!CACHED.test(filename)) return compileJs.call(this, module, filename);
    const source = fs.readFileSync(filename, 'utf8');
    // A script compiled by vm cannot import() without a flag: the bundler turns import() into
    // require (scripts/bundle.js); a bundle that still has one compiles as usual.
    if (source.includes('import(')) return compileJs.call(this, module, filename);
    const file = cacheFile(dir, filename, fs.statSync(filename), command);
    const cachedData = readOwnFile(file);
    const script = new vm.Script(Loader.wrap(source), { filename, cachedData });
    if (cachedData === undefined || script.cachedDataRejected === true) writeAtExit(() => writeCache(dir, file, script.createCachedData()));
    const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
    wrapper.call(module.exports, module.exports, Loader.createRequire(filename), module, filename, path.dirname(filename));
  };
}
