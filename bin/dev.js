#!/usr/bin/env node
// Development entry: rebuilds the TypeScript (incrementally) and runs the CLI from dist/.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
require('./run.js');
