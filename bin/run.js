#!/usr/bin/env node
// glassdome's entry point. The commands whose start-up people feel (get, list, status, exec,
// unlock, agent) run through a lean path that never loads the CLI framework; every other
// invocation, help included, goes to oclif. dist/cli/lean.js is that path bundled into one file.
const { runFast } = require('../dist/cli/lean.js');

runFast(process.argv.slice(2)).then(async (status) => {
  if (status === null) await require('@oclif/core').execute({ dir: __dirname });
  else process.exitCode = status;
});
