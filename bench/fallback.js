// Runs inside a private D-Bus session with gnome-keyring (started by bench/run.js): a vault in
// keyring mode (no agent), then the start-up of `glassdome get` through the keyring beside
// `node -e 0` and `secret-tool lookup`. Prints measure.py's JSON on its last line.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const BIN = path.join(__dirname, '../bin/run.js');
const NODE = process.execPath;
const env = { ...process.env };
delete env.GLASSDOME_AUTH_SOCK;
const run = (cmd, args, input) => {
  const r = spawnSync(cmd, args, { env, input: input ?? '', encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
};
run(NODE, [BIN, 'init', '--password-stdin'], 'bench password');
run(NODE, [BIN, 'unlock', '--password-stdin'], 'bench password');
run(NODE, [BIN, 'set', 'bench_secret'], 'hunter2');
run('secret-tool', ['store', '--label=bench', 'service', 'glassdome-bench', 'account', 'x'], 'hunter2');
const commands = [
  { name: 'node -e 0', argv: [NODE, '-e', '0'] },
  { name: 'glassdome get (keyring)', argv: [NODE, BIN, 'get', 'bench_secret'] },
  { name: 'secret-tool lookup', argv: ['secret-tool', 'lookup', 'service', 'glassdome-bench', 'account', 'x'] },
];
const r = spawnSync('/usr/bin/python3', [path.join(__dirname, 'measure.py'), JSON.stringify({ rounds: Number(process.env.BENCH_ROUNDS ?? 15), warmup: 3, commands })], { env, encoding: 'utf8' });
if (r.status !== 0) throw new Error(r.stderr);
process.stdout.write(`${r.stdout}\n`);
