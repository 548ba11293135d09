#!/usr/bin/env node
// `npm run bench`: glassdome beside its anchors, on this machine, in one run. Prints a table and
// writes bench/results/latest.json and bench/results/latest.svg.
//
//   start-up   whole-process median wall time and peak RSS (interleaved rounds after warm-up) of
//              glassdome get (agent / keyring), exec -- true, status, beside node -e 0 (the floor
//              of any Node CLI) and, where installed, ssh-add -l, secret-tool lookup, pass show
//   unlock     with the default KDF (Argon2id, opslimit 3, 64 MiB), whole process
//   load       agent get throughput and p50/p99 at 1, 16, 64 connections, beside a bare Node
//              NDJSON echo server loaded the same way, and each server's CPU time per request
//              (user + system, from /proc/PID/stat: steadier than rates on a shared machine);
//              at 16 connections also the agent's own connection layer with a no-op dispatch
//              (bench/floor-server.js): the most any agent of this design can serve in Node
//   mTLS       glassdome serve: a secret read over mutual TLS with keep-alive, throughput and
//              p50/p99 at 1 and 16 connections, beside a bare Node HTTPS server with the same TLS
//              settings (and the agent's figures above), and through a serve replica on a
//              three-member loopback etcd cluster (bench/etcd-cluster.js), in the same run
//   memory     agent RSS idle, unlocked, and with 10,000 secrets; unlock and list at 10,000
//
// Every measured command runs without NODE_EXTRA_CA_CERTS (bench/measure.py), as on a user's
// machine. Targets (reported, never asserted): get, list, status ≤ 1.30x node -e 0; exec -- true
// ≤ 1.45x; keyring get ≤ 1.5x; unlock ≤ 0.6 s; throughput ≥ 50% of echo at 16 connections with p99 ≤ 2 ms; idle RSS
// ≤ 60 MiB, ≤ 90 MiB with 10k secrets.
'use strict';
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { renderChart } = require('./chart.js');
const { etcdHarness } = require('./etcd-cluster.js');

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin/run.js');
const NODE = process.execPath;
const PASSWORD = 'bench password';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const LOAD_MS = Number(process.env.BENCH_LOAD_MS ?? 3000);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gd-bench-'));
const started = [];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};
const round = (x, d = 1) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);

function envFor(home, extra = {}) {
  const env = { ...process.env, GLASSDOME_HOME: home, XDG_RUNTIME_DIR: path.join(tmp, 'run'), NO_COLOR: '1', ...extra };
  delete env.GLASSDOME_AUTH_SOCK;
  delete env.GLASSDOME_AGENT_PID;
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  return env;
}

function glassdome(env, args, input) {
  const r = spawnSync(NODE, [BIN, ...args], { env, input: input ?? '', encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`glassdome ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function startAgent(env, socket) {
  const out = glassdome(env, ['agent', '-s', '-a', socket]);
  const pid = Number(/GLASSDOME_AGENT_PID=(\d+)/.exec(out)[1]);
  started.push(pid);
  return { ...env, GLASSDOME_AUTH_SOCK: socket, GLASSDOME_AGENT_PID: String(pid), pid };
}

function measure(commands, rounds = ROUNDS, warmup = 3) {
  const r = spawnSync('/usr/bin/python3', [path.join(__dirname, 'measure.py'), JSON.stringify({ rounds, warmup, commands })], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`measure.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * Medians per command, and the ratio to the baseline as the median of per-round ratios: each
 * round runs every command back to back, so pairing them cancels most of the machine's drift.
 */
function summarize(raw, base) {
  const out = {};
  const baseline = raw[base].wall_ms;
  for (const [name, m] of Object.entries(raw)) {
    const ratios = m.wall_ms.map((w, i) => w / baseline[i]);
    out[name] = { median_ms: round(median(m.wall_ms)), ratio: round(median(ratios), 2), peak_rss_mib: round(median(m.rss_kib) / 1024), runs: m.wall_ms.length, exit: [...new Set(m.exit)] };
  }
  return out;
}

function rssMib(pid, field = 'VmRSS') {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return round(Number(m[1]) / 1024);
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Vault with a policy that lifts the rate limits: the bench measures the agent, not its brakes. */
function makeVault(home, secrets = {}) {
  const env = envFor(home);
  glassdome(env, ['init', '--password-stdin'], PASSWORD);
  fs.writeFileSync(path.join(home, 'policy.yaml'), 'default_policy: allow\nrate_limits:\n  read: { rate: 100000000, burst: 100000000 }\n  unlock: { rate: 100000, burst: 100000 }\n', { mode: 0o600 });
  glassdome(env, ['policy', 'apply', '--password-stdin'], PASSWORD); // the agent enforces only a sealed policy
  return env;
}

/** CPU time (user, system) a process has used so far, in µs (/proc/PID/stat fields 14 and 15). */
function cpuUs(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const tick = 1e6 / 100; // USER_HZ is 100 on Linux
  return { user: Number(fields[11]) * tick, sys: Number(fields[12]) * tick };
}

/** Loads `socket`; with the server's pid, adds the server's CPU time per request (user and system, µs). */
async function load(socket, line, connections, serverPid) {
  const before = serverPid ? cpuUs(serverPid) : null;
  const r = spawnSync(NODE, [path.join(__dirname, 'load.js'), socket, line, String(connections), String(LOAD_MS)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`load failed: ${r.stderr}`);
  const result = JSON.parse(r.stdout);
  if (before) {
    const after = cpuUs(serverPid);
    result.server_cpu_us_per_request = { user: round((after.user - before.user) / result.requests), sys: round((after.sys - before.sys) / result.requests) };
  }
  return result;
}

function startupTable(env) {
  const cmds = [
    { name: 'node -e 0', argv: [NODE, '-e', '0'] },
    { name: 'glassdome get (agent)', argv: [NODE, BIN, 'get', 'bench_secret'], env: { GLASSDOME_AUTH_SOCK: env.GLASSDOME_AUTH_SOCK, GLASSDOME_HOME: env.GLASSDOME_HOME } },
    { name: 'glassdome exec -- true', argv: [NODE, BIN, 'exec', '--', 'true'], env: { GLASSDOME_AUTH_SOCK: env.GLASSDOME_AUTH_SOCK, GLASSDOME_HOME: env.GLASSDOME_HOME } },
    { name: 'glassdome status', argv: [NODE, BIN, 'status'], env: { GLASSDOME_AUTH_SOCK: env.GLASSDOME_AUTH_SOCK, GLASSDOME_HOME: env.GLASSDOME_HOME } },
    { name: 'glassdome list', argv: [NODE, BIN, 'list'], env: { GLASSDOME_AUTH_SOCK: env.GLASSDOME_AUTH_SOCK, GLASSDOME_HOME: env.GLASSDOME_HOME } },
    { name: 'python glassdome.get', argv: ['/usr/bin/python3', '-c', "import glassdome; glassdome.get('bench_secret')"], env: { GLASSDOME_AUTH_SOCK: env.GLASSDOME_AUTH_SOCK, PYTHONPATH: path.join(ROOT, 'clients/python') } },
  ];
  const absent = [];
  if (has('ssh-agent') && has('ssh-add')) {
    const sshSock = path.join(tmp, 'ssh.sock');
    const out = execFileSync('ssh-agent', ['-a', sshSock], { encoding: 'utf8' });
    started.push(Number(/SSH_AGENT_PID=(\d+)/.exec(out)[1]));
    cmds.push({ name: 'ssh-add -l', argv: ['ssh-add', '-l'], env: { SSH_AUTH_SOCK: sshSock } });
  } else absent.push('ssh-add');
  if (!has('pass')) absent.push('pass');
  return { results: summarize(measure(cmds), 'node -e 0'), absent };
}

/** The keyring fallback, in a private D-Bus session with gnome-keyring (the recipe of DESIGN.md). */
function keyringTable(home) {
  if (!has('dbus-run-session') || !has('gnome-keyring-daemon') || !has('secret-tool')) return { unavailable: 'dbus-run-session, gnome-keyring-daemon or secret-tool is not installed' };
  const keyringHome = path.join(tmp, 'keyring-home');
  fs.mkdirSync(keyringHome, { recursive: true });
  const script = `eval "$(printf %s pw | gnome-keyring-daemon --daemonize --unlock --components=secrets)"; export GNOME_KEYRING_CONTROL; exec "${NODE}" "${path.join(__dirname, 'fallback.js')}"`;
  const env = { ...envFor(home), HOME: keyringHome, BENCH_ROUNDS: String(ROUNDS) };
  const r = spawnSync('dbus-run-session', ['--', 'sh', '-c', script], { env, encoding: 'utf8', maxBuffer: 1 << 24 });
  const json = r.stdout.trim().split('\n').pop();
  try {
    return { results: summarize(JSON.parse(json), 'node -e 0') };
  } catch {
    return { unavailable: `the keyring session failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}` };
  }
}

async function main() {
  fs.mkdirSync(path.join(tmp, 'run'), { mode: 0o700 });
  const report = { machine: { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, kernel: os.release(), extra_ca_certs: 'unset in every measured command (bench/measure.py), as on a user\'s machine' }, at: new Date().toISOString(), notes: [] };
  report.notes.push('policy.yaml in the bench vaults lifts the rate limits (default: 500 reads/s per client), so load measures the agent, not its brakes; every get is still authorized and audited');

  const home = path.join(tmp, 'home');
  const base = makeVault(home);
  const env = startAgent(base, path.join(tmp, 'agent.sock'));
  glassdome(env, ['unlock', '--password-stdin'], PASSWORD);
  glassdome(env, ['set', 'bench_secret'], 'hunter2');
  process.stderr.write('bench: start-up …\n');
  report.startup = startupTable(env);
  process.stderr.write('bench: keyring fallback …\n');
  report.keyring = keyringTable(path.join(tmp, 'home-keyring'));

  process.stderr.write('bench: unlock …\n');
  const unlockRaw = measure([{ name: 'node -e 0', argv: [NODE, '-e', '0'] }, { name: 'glassdome unlock', argv: [NODE, BIN, 'unlock', '--password-stdin'], env: { GLASSDOME_AUTH_SOCK: env.GLASSDOME_AUTH_SOCK, GLASSDOME_HOME: home }, stdin: PASSWORD }], 7, 1);
  report.unlock = summarize(unlockRaw, 'node -e 0');

  process.stderr.write('bench: load …\n');
  const echoSock = path.join(tmp, 'echo.sock');
  const echo = spawn(NODE, [path.join(__dirname, 'echo-server.js'), echoSock], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(echo.pid);
  await new Promise((r) => echo.stdout.once('data', r));
  const floorSock = path.join(tmp, 'floor.sock');
  const floor = spawn(NODE, [path.join(__dirname, 'floor-server.js'), floorSock], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(floor.pid);
  await new Promise((r) => floor.stdout.once('data', r));
  const request = JSON.stringify({ v: 1, id: 1, op: 'get', name: 'bench_secret' });
  report.load = [];
  for (const c of [1, 16, 64]) {
    const e = await load(echoSock, request, c, echo.pid);
    const a = await load(env.GLASSDOME_AUTH_SOCK, request, c, env.pid);
    const row = { connections: c, echo: e, agent: a, agent_vs_echo: round(a.per_second / e.per_second, 2) };
    if (c === 16) {
      row.floor = await load(floorSock, request, c, floor.pid);
      row.floor_vs_echo = round(row.floor.per_second / e.per_second, 2);
    }
    report.load.push(row);
  }
  echo.kill();
  floor.kill();

  process.stderr.write('bench: mTLS (glassdome serve) …\n');
  report.serve_load = await serveLoad(home, env);

  process.stderr.write('bench: memory …\n');
  const fresh = startAgent(envFor(home), path.join(tmp, 'fresh.sock'));
  await sleep(1000);
  const idleLocked = rssMib(fresh.pid);
  glassdome(fresh, ['unlock', '--password-stdin'], PASSWORD);
  await sleep(500);
  report.memory = { idle_locked_mib: idleLocked, idle_unlocked_mib: rssMib(fresh.pid), after_load_mib: rssMib(env.pid), after_load_peak_mib: rssMib(env.pid, 'VmHWM') };

  process.stderr.write('bench: 10,000 secrets …\n');
  report.big = await bigVault();

  report.targets = targets(report);
  const outDir = path.join(__dirname, 'results');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(path.join(outDir, 'latest.svg'), renderChart(report));
  print(report);
}

/** Starts `glassdome serve` with the bench's TLS files (and `extra` flags); resolves with its port. */
async function startServe(env, tlsArgs, extra = []) {
  const serve = spawn(NODE, [BIN, 'serve', '--password-stdin', '--listen', '127.0.0.1:0', '--cert', tlsArgs[0], '--key', tlsArgs[1], '--client-ca', tlsArgs[2], ...extra], { env, stdio: ['pipe', 'ignore', 'pipe'] });
  started.push(serve.pid);
  serve.stdin.end(PASSWORD);
  let log = '';
  const port = await new Promise((resolve, reject) => {
    serve.stderr.on('data', (d) => {
      log += d;
      const m = /on https:\/\/127\.0\.0\.1:(\d+) /.exec(log);
      if (m) resolve(Number(m[1]));
    });
    serve.on('exit', () => reject(new Error(`glassdome serve did not start: ${log}`)));
  });
  return { serve, port };
}

/**
 * glassdome serve and a bare HTTPS server, each loaded with keep-alive mTLS GETs of one secret;
 * then, in the same run, a serve replica on a three-member loopback etcd cluster (the vault moved
 * there by `store migrate`), loaded the same way.
 */
async function serveLoad(home, env) {
  const certs = path.join(tmp, 'certs');
  fs.mkdirSync(certs, { mode: 0o700 });
  glassdome(env, ['ca', 'init']);
  glassdome(env, ['ca', 'issue', '--server', '--cn', 'localhost', '--san', 'DNS:localhost,IP:127.0.0.1', '--out', path.join(certs, 'server')]);
  glassdome(env, ['ca', 'issue', '--cn', 'agent-bench', '--out', path.join(certs, 'client')]);
  const ca = path.join(home, 'ca', 'ca.crt');
  const tlsArgs = [path.join(certs, 'server.crt'), path.join(certs, 'server.key'), ca];
  const bare = spawn(NODE, [path.join(__dirname, 'https-echo-server.js'), ...tlsArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(bare.pid);
  const barePort = Number(await new Promise((r) => bare.stdout.once('data', (d) => r(String(d).trim()))));
  const { serve, port: servePort } = await startServe(env, tlsArgs);
  const run = (url, c) => {
    const r = spawnSync(NODE, [path.join(__dirname, 'https-load.js'), url, ca, path.join(certs, 'client.crt'), path.join(certs, 'client.key'), String(c), String(LOAD_MS)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`https load failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const rows = [];
  for (const c of [1, 16]) {
    const b = run(`https://localhost:${barePort}/v1/secrets/bench_secret`, c);
    const s = run(`https://localhost:${servePort}/v1/secrets/bench_secret`, c);
    rows.push({ connections: c, bare_https: b, serve: s, serve_vs_bare: round(s.per_second / b.per_second, 2) });
  }
  bare.kill();
  serve.kill();
  if (!has('etcd')) {
    for (const row of rows) row.replica = null;
    return rows;
  }
  process.stderr.write('bench: mTLS (a serve replica on a 3-member etcd cluster) …\n');
  const cluster = await etcdHarness().startCluster(3);
  try {
    const store = `etcd://${cluster.endpoints.map((e) => e.replace('http://', '')).join(',')}/bench`;
    glassdome(envFor(home), ['store', 'migrate', '--to', store, '--password-stdin'], PASSWORD);
    const replicaHome = path.join(tmp, 'home-replica');
    fs.mkdirSync(replicaHome, { mode: 0o700 });
    const { serve: replica, port } = await startServe(envFor(replicaHome), tlsArgs, ['--store', store, '--replica-id', 'bench-replica']);
    for (const row of rows) {
      row.replica = run(`https://localhost:${port}/v1/secrets/bench_secret`, row.connections);
      row.replica_vs_serve = round(row.replica.per_second / row.serve.per_second, 2);
    }
    replica.kill();
  } finally {
    cluster.stop();
  }
  return rows;
}

async function bigVault() {
  const home = path.join(tmp, 'home-10k');
  const env = makeVault(home);
  const { unsealMasterKey, openVault, sealVault } = require('../dist/vault/vault.js');
  const keys = await unsealMasterKey(fs.readFileSync(path.join(home, 'master_key.enc'), 'utf8'), Buffer.from(PASSWORD));
  const secretsFile = path.join(home, 'secrets.encrypted');
  // Keep the payload's sealed policy and audit anchor: without them the agent refuses every get.
  const payload = openVault(keys, fs.readFileSync(secretsFile, 'utf8'));
  const now = Date.now();
  for (let i = 0; i < 10_000; i++) payload.map.set(`secret_${String(i).padStart(5, '0')}`, { value: Buffer.from(`value-${i}-${'x'.repeat(24)}`), created: now, updated: now });
  fs.writeFileSync(secretsFile, sealVault(keys, payload), { mode: 0o600 });
  const agent = startAgent(env, path.join(tmp, 'big.sock'));
  const cliEnv = { GLASSDOME_AUTH_SOCK: agent.GLASSDOME_AUTH_SOCK, GLASSDOME_HOME: home };
  const unlock = summarize(measure([{ name: 'node -e 0', argv: [NODE, '-e', '0'] }, { name: 'glassdome unlock (10k)', argv: [NODE, BIN, 'unlock', '--password-stdin'], env: cliEnv, stdin: PASSWORD }], 5, 1), 'node -e 0');
  await sleep(500);
  const rss = rssMib(agent.pid);
  const list = summarize(measure([{ name: 'node -e 0', argv: [NODE, '-e', '0'] }, { name: 'glassdome list (10k)', argv: [NODE, BIN, 'list'], env: cliEnv }, { name: 'glassdome get (10k)', argv: [NODE, BIN, 'get', 'secret_05000'], env: cliEnv }], 10, 2), 'node -e 0');
  for (const [name, row] of [...Object.entries(unlock), ...Object.entries(list)]) {
    if (row.exit.some((code) => code !== 0)) throw new Error(`${name} exited ${row.exit.join(',')}: the 10k rows would time a failure`);
  }
  return { unlock: unlock['glassdome unlock (10k)'], list: list['glassdome list (10k)'], get: list['glassdome get (10k)'], node: list['node -e 0'], agent_rss_mib: rss };
}

function targets(r) {
  const s = r.startup.results;
  const at16 = r.load.find((l) => l.connections === 16);
  const row = (what, value, target, ok) => ({ what, value, target, met: ok });
  const t = [
    row('get via agent, x node -e 0', s['glassdome get (agent)'].ratio, '≤ 1.30', s['glassdome get (agent)'].ratio <= 1.3),
    row('list via agent, x node -e 0', s['glassdome list'].ratio, '≤ 1.30', s['glassdome list'].ratio <= 1.3),
    row('status via agent, x node -e 0', s['glassdome status'].ratio, '≤ 1.30', s['glassdome status'].ratio <= 1.3),
    row('exec -- true, x node -e 0', s['glassdome exec -- true'].ratio, '≤ 1.45', s['glassdome exec -- true'].ratio <= 1.45),
    row('unlock, s', round(r.unlock['glassdome unlock'].median_ms / 1000, 2), '≤ 0.6', r.unlock['glassdome unlock'].median_ms <= 600),
    row('throughput at 16 connections, x echo', at16.agent_vs_echo, '≥ 0.5', at16.agent_vs_echo >= 0.5),
    row('p99 at 16 connections, ms', at16.agent.p99_ms, '≤ 2', at16.agent.p99_ms <= 2),
    row('agent RSS idle (unlocked), MiB', r.memory.idle_unlocked_mib, '≤ 60', r.memory.idle_unlocked_mib <= 60),
    row('agent RSS with 10k secrets, MiB', r.big.agent_rss_mib, '≤ 90', r.big.agent_rss_mib <= 90),
  ];
  if (r.keyring.results) {
    const k = r.keyring.results['glassdome get (keyring)'];
    t.splice(1, 0, row('get via keyring, x node -e 0', k.ratio, '≤ 1.5', k.ratio <= 1.5));
  }
  return t;
}

function print(r) {
  const lines = [];
  const table = (title, rows) => {
    lines.push('', title);
    for (const [name, m] of Object.entries(rows)) lines.push(`  ${name.padEnd(30)} ${String(m.median_ms).padStart(8)} ms  ${String(m.ratio).padStart(5)}x  ${String(m.peak_rss_mib).padStart(6)} MiB peak`);
  };
  lines.push(`glassdome bench — ${r.machine.node}, ${r.machine.cpus} cpus (${r.machine.cpu}), NODE_EXTRA_CA_CERTS ${r.machine.extra_ca_certs}`);
  lines.push(`start-up: medians of ${ROUNDS} interleaved rounds after 3 warm-up; ratio = median of per-round ratios to node -e 0`);
  table('start-up (whole process, ratio to node -e 0)', r.startup.results);
  if (r.startup.absent.length) lines.push(`  not installed here: ${r.startup.absent.join(', ')}`);
  if (r.keyring.results) table('keyring fallback (private D-Bus + gnome-keyring)', r.keyring.results);
  else lines.push('', `keyring fallback: ${r.keyring.unavailable}`);
  table('unlock, default KDF', r.unlock);
  lines.push('', `load (${LOAD_MS / 1000} s each; get, one request in flight per connection)`);
  const cpu = (x) => (x.server_cpu_us_per_request ? ` cpu ${x.server_cpu_us_per_request.user}+${x.server_cpu_us_per_request.sys} us/req` : '');
  for (const l of r.load) lines.push(`  ${String(l.connections).padStart(3)} conn   agent ${String(l.agent.per_second).padStart(6)}/s p50 ${l.agent.p50_ms} ms p99 ${l.agent.p99_ms} ms errors ${l.agent.errors}${cpu(l.agent)}   echo ${String(l.echo.per_second).padStart(6)}/s p50 ${l.echo.p50_ms} ms p99 ${l.echo.p99_ms} ms${cpu(l.echo)}   agent/echo ${l.agent_vs_echo}`);
  for (const l of r.load.filter((x) => x.floor)) lines.push(`  ${String(l.connections).padStart(3)} conn   floor ${String(l.floor.per_second).padStart(6)}/s p50 ${l.floor.p50_ms} ms p99 ${l.floor.p99_ms} ms errors ${l.floor.errors}${cpu(l.floor)}   (the agent's connection layer, no policy, audit or decryption)   floor/echo ${l.floor_vs_echo}`);
  if (r.serve_load) {
    lines.push('', `mTLS keep-alive (${LOAD_MS / 1000} s each; GET /v1/secrets/NAME, one request in flight per connection; agent figures from the load above)`);
    for (const l of r.serve_load) {
      const agent = r.load.find((x) => x.connections === l.connections)?.agent;
      lines.push(`  ${String(l.connections).padStart(3)} conn   serve ${String(l.serve.per_second).padStart(6)}/s p50 ${l.serve.p50_ms} ms p99 ${l.serve.p99_ms} ms errors ${l.serve.errors}   bare https ${String(l.bare_https.per_second).padStart(6)}/s p50 ${l.bare_https.p50_ms} ms p99 ${l.bare_https.p99_ms} ms   serve/bare ${l.serve_vs_bare}   agent ${agent?.per_second ?? '?'}/s p99 ${agent?.p99_ms ?? '?'} ms`);
    }
    lines.push('', 'mTLS keep-alive through a serve replica on a 3-member loopback etcd cluster (same load, same run)');
    for (const l of r.serve_load) {
      if (!l.replica) lines.push(`  ${String(l.connections).padStart(3)} conn   replica: not measured (no etcd installed)`);
      else lines.push(`  ${String(l.connections).padStart(3)} conn   replica ${String(l.replica.per_second).padStart(6)}/s p50 ${l.replica.p50_ms} ms p99 ${l.replica.p99_ms} ms errors ${l.replica.errors}   single-host serve ${String(l.serve.per_second).padStart(6)}/s p99 ${l.serve.p99_ms} ms   replica/serve ${l.replica_vs_serve}`);
    }
  }
  lines.push('', `memory: agent idle ${r.memory.idle_locked_mib} MiB locked, ${r.memory.idle_unlocked_mib} MiB unlocked; after the load ${r.memory.after_load_mib} MiB (peak ${r.memory.after_load_peak_mib})`);
  lines.push(`10,000 secrets: agent ${r.big.agent_rss_mib} MiB; unlock ${r.big.unlock.median_ms} ms; list ${r.big.list.median_ms} ms (${r.big.list.ratio}x); get ${r.big.get.median_ms} ms (${r.big.get.ratio}x)`);
  lines.push('', 'targets');
  for (const t of r.targets) lines.push(`  ${t.met ? 'met ' : 'MISS'}  ${t.what.padEnd(40)} ${String(t.value).padStart(7)}  (${t.target})`);
  lines.push('', `written: bench/results/latest.json, bench/results/latest.svg`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main()
  .catch((err) => {
    process.stderr.write(`bench failed: ${err.stack}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const pid of started) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });
