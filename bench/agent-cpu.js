#!/usr/bin/env node
// The agent's get path without the socket: CPU time per get of the real AgentServer (dist/), its
// real audit log, identity checks and pidfds, answering BATCH concurrent gets (default 16, one
// audit batch) again and again. Steadier than requests/s on a shared machine, and it separates
// what a get costs from what the socket costs (bench/run.js's load rows give both together).
//   node bench/agent-cpu.js [BATCH]      (after npm run build; NODE_EXTRA_CA_CERTS is dropped)
// Prints the median and the five figures of 5 x 3,000 rounds, after 2,000 rounds of warm-up.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin/run.js');
const PASSWORD = 'bench password';
const BATCH = Number(process.argv[2] ?? 16);

if (process.env.NODE_EXTRA_CA_CERTS !== undefined || !process.env.GD_AGENT_CPU_CHILD) {
  // Re-run without NODE_EXTRA_CA_CERTS and with the agent's own young-generation size.
  const env = { ...process.env, GD_AGENT_CPU_CHILD: '1' };
  delete env.NODE_EXTRA_CA_CERTS;
  const r = spawnSync(process.execPath, ['--max-semi-space-size=2', __filename, String(BATCH)], { env, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const { runAgent } = require(path.join(ROOT, 'dist/agent/daemon.js'));
const { vaultPaths } = require(path.join(ROOT, 'dist/store/paths.js'));
const { encodeReply, decodeRequestLine } = require(path.join(ROOT, 'dist/protocol/codec.js'));
const { parseRequest } = require(path.join(ROOT, 'dist/protocol/messages.js'));
const { describeProcess } = require(path.join(ROOT, 'dist/policy/client.js'));
const { pinIdentity } = require(path.join(ROOT, 'dist/os/identity.js'));

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gd-agent-cpu-'));
  const home = path.join(tmp, 'home');
  const env = { ...process.env, GLASSDOME_HOME: home, NO_COLOR: '1' };
  delete env.GLASSDOME_AUTH_SOCK;
  const cli = (args, input) => execFileSync(process.execPath, [BIN, ...args], { env, input, stdio: ['pipe', 'ignore', 'pipe'] });
  cli(['init', '--password-stdin'], PASSWORD);
  // The bench's policy: every get authorized and audited, the rate limits lifted.
  fs.writeFileSync(path.join(home, 'policy.yaml'), 'default_policy: allow\nrate_limits:\n  read: { rate: 100000000, burst: 100000000 }\n', { mode: 0o600 });
  cli(['policy', 'apply', '--password-stdin'], PASSWORD);
  const socket = path.join(tmp, 'agent.sock');
  const server = await runAgent({ paths: vaultPaths(home), socketPath: socket, defaultLocation: false, privateDir: false, lifetimeMs: 3_600_000, log: () => undefined });
  env.GLASSDOME_AUTH_SOCK = socket;
  const cliAsync = (args, input) => new Promise((resolve, reject) => require('node:child_process').execFile(process.execPath, [BIN, ...args], { env }, (err) => (err ? reject(err) : resolve())).stdin.end(input));
  await cliAsync(['unlock', '--password-stdin'], PASSWORD);
  await cliAsync(['set', 'bench_secret'], 'hunter2');

  const client = describeProcess(process.pid, process.getuid());
  client.identity = pinIdentity(process.pid);
  const line = Buffer.from('{"v":1,"id":1,"op":"get","name":"bench_secret"}');
  const one = async () => {
    const request = parseRequest(decodeRequestLine(Uint8Array.from(line)));
    const reply = await server.answer(request, client);
    if (!reply.ok) throw new Error(JSON.stringify(reply));
    encodeReply(reply).wipe();
  };
  const round = () => Promise.all(Array.from({ length: BATCH }, one));
  for (let i = 0; i < 2000; i++) await round();
  const figures = [];
  for (let r = 0; r < 5; r++) {
    const before = process.cpuUsage();
    for (let i = 0; i < 3000; i++) await round();
    const used = process.cpuUsage(before);
    figures.push((used.user + used.system) / (3000 * BATCH));
  }
  figures.sort((a, b) => a - b);
  process.stdout.write(`agent get, in-process, batches of ${BATCH}: ${figures[2].toFixed(2)} us CPU a get (median; all ${figures.map((f) => f.toFixed(2)).join(' ')})\n`);
  await server.close();
  fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 5 });
}

main().catch((err) => {
  process.stderr.write(`agent-cpu: ${err.stack ?? err}\n`);
  process.exit(1);
});
