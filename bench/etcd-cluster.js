// The bench's etcd cluster is the tests' own: test/helpers/etcd.ts (three members of Debian's
// /usr/bin/etcd on loopback, free ports, temp data directories), loaded through TypeScript's
// transpiler (a dev dependency, as `npm run bench` runs from the source tree) so that there is
// one harness to keep.
'use strict';
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');

/** test/helpers/etcd.ts, compiled in memory: { startCluster, waitUntil, ... }. */
function etcdHarness() {
  const ts = require('typescript');
  const file = path.join(__dirname, '..', 'test', 'helpers', 'etcd.ts');
  const { outputText } = ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  m._compile(outputText, file);
  return m.exports;
}

module.exports = { etcdHarness };
