#!/usr/bin/env node
// glassdome's entry point. The commands whose start-up people feel (get, list, status, exec,
// unlock, agent) run through a lean path that never loads the CLI framework; every other
// invocation, help included, goes to oclif. dist/cli/lean.js is that path bundled into one file.
if (!process.env.NODE_DISABLE_COMPILE_CACHE) {
  // Keep V8's compiled code (~5 ms of every start, measured), in the user's own cache directory,
  // never in the shared /tmp default, where another user could plant a cache. Node >= 22.1 has a
  // compile cache of its own; before it, dist/cli/code-cache.js keeps one for the lean bundles.
  // node:module is loaded only on a Node that may have one, node:os only when $HOME is unset
  // (os.homedir() reads $HOME first): each costs ~0.2 ms of every start, measured.
  const path = require('node:path');
  const home = () => process.env.HOME ?? require('node:os').homedir();
  const cache = path.join(process.env.XDG_CACHE_HOME || path.join(home(), '.cache'), 'glassdome');
  const { enableCompileCache } = Number(process.versions.node.split('.')[0]) >= 22 ? require('node:module') : {};
  if (enableCompileCache) enableCompileCache(path.join(cache, 'compile-cache'));
  else require('../dist/cli/code-cache.js').installCodeCache(path.join(cache, 'code-cache'), process.argv[2]);
}

const { runFast } = require('../dist/cli/lean.js');

/**
 * The lean commands with nothing left to run once their action settles: their own writes are
 * synchronous and awaited (output, audit lines; exec's child reaped, its descriptors closed), so
 * they exit at once, which skips Node's teardown of a finished process (~0.7 ms, measured; exec
 * -- true ~0.8 ms CPU); 'exit' listeners (the code cache) still run. Not when
 * process.stdout or process.stderr was ever created: on a non-blocking pipe their writes may still
 * be queued, and only the natural exit flushes them (writeOut falls back to process.stdout on EAGAIN).
 */
const EXIT_AT_ONCE = ['get', 'list', 'status', 'exec'];
let streamsCreated = false;
for (const name of ['stdout', 'stderr']) {
  const { get, ...rest } = Object.getOwnPropertyDescriptor(process, name);
  Object.defineProperty(process, name, { ...rest, get() { streamsCreated = true; return get.call(this); } });
}

runFast(process.argv.slice(2)).then(async (status) => {
  if (status === null) await require('@oclif/core').execute({ dir: __dirname });
  else if (EXIT_AT_ONCE.includes(process.argv[2]) && !streamsCreated) process.exit(status);
  else process.exitCode = status;
});
