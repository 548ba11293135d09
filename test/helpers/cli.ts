// Driving the real glassdome binary in a private environment: a temporary GLASSDOME_HOME and
// XDG_RUNTIME_DIR, no inherited agent, and helpers to start and stop a real agent.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createVault, sealSecrets } from '../../src/vault/vault.js';
import { createVaultFiles } from '../../src/store/vault-files.js';
import { vaultPaths } from '../../src/store/paths.js';
import { isRunning } from '../../src/os/proc.js';

/** The CLI entry point under test. */
export const BIN = path.join(__dirname, '../../bin/run.js');

/** A private environment for one test. */
export interface TestEnv {
  dir: string;
  env: NodeJS.ProcessEnv;
  home: string;
  runtime: string;
  cleanup(): void;
}

/** The outcome of one CLI run. */
export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A fresh temporary environment (GLASSDOME_HOME=<dir>/home, XDG_RUNTIME_DIR=<dir>/run). */
export function makeEnv(): TestEnv {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gd-test-'));
  const runtime = path.join(dir, 'run');
  fs.mkdirSync(runtime, { mode: 0o700 });
  const home = path.join(dir, 'home');
  // XDG_CACHE_HOME: the CLI's code cache (src/cli/code-cache.ts) stays in the test's own directory.
  const env: NodeJS.ProcessEnv = { ...process.env, GLASSDOME_HOME: home, XDG_RUNTIME_DIR: runtime, XDG_CACHE_HOME: path.join(dir, 'cache'), NO_COLOR: '1' };
  delete env.GLASSDOME_AUTH_SOCK;
  delete env.GLASSDOME_AGENT_PID;
  delete env.GLASSDOME_DEBUG;
  // No keyring unless a test brings its own D-Bus session (test/helpers/keyring.ts).
  delete env.DBUS_SESSION_BUS_ADDRESS;
  return {
    dir,
    env,
    home,
    runtime,
    cleanup() {
      stopAgent(env);
      // A process signalled a moment ago may still be writing its code cache here as it exits (ENOTEMPTY): retry.
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    },
  };
}

/**
 * A TMPDIR in t's directory shared with other users (1777, its parent 0711), and t's env with it and
 * no XDG_RUNTIME_DIR: the default socket directory is then ${TMPDIR}/glassdome-<uid>, which another user may make first.
 */
export function sharedTmpEnv(t: TestEnv): { tmp: string; env: NodeJS.ProcessEnv } {
  fs.chmodSync(t.dir, 0o711);
  const tmp = path.join(t.dir, 'tmp');
  fs.mkdirSync(tmp);
  fs.chmodSync(tmp, 0o1777);
  const env: NodeJS.ProcessEnv = { ...t.env, TMPDIR: tmp };
  delete env.XDG_RUNTIME_DIR;
  return { tmp, env };
}

/** Runs `glassdome ARGS` with optional stdin; resolves when it exits. */
export function cli(env: NodeJS.ProcessEnv, args: string[], input?: string | Buffer, timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`glassdome ${args.join(' ')} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/** The cheapest Argon2id cost libsodium accepts: tests that are not about the KDF use it. */
export const FAST_KDF = { opslimit: 1, memlimit: 8192 };

/** The password of vaults made by makeVault. */
export const PASSWORD = 'correct horse battery staple';

/** Creates a vault in env's GLASSDOME_HOME with a cheap KDF, through the real core. */
export async function makeVault(t: TestEnv, password = PASSWORD): Promise<string> {
  const vault = await createVault(Buffer.from(password), FAST_KDF);
  await createVaultFiles(vaultPaths(t.home), vault, false);
  return vault.vaultId;
}

/** Starts an agent with `glassdome agent -s` (plus args) and exports it into env. */
export async function startAgent(env: NodeJS.ProcessEnv, args: string[] = []): Promise<{ pid: number; socket: string }> {
  const run = await cli(env, ['agent', '-s', ...args]);
  if (run.code !== 0) throw new Error(`agent did not start: ${run.stderr}`);
  const socket = /GLASSDOME_AUTH_SOCK=([^;]+);/.exec(run.stdout)?.[1];
  const pid = Number(/GLASSDOME_AGENT_PID=(\d+);/.exec(run.stdout)?.[1]);
  if (!socket || !pid) throw new Error(`unexpected agent output: ${run.stdout}`);
  env.GLASSDOME_AUTH_SOCK = socket;
  env.GLASSDOME_AGENT_PID = String(pid);
  return { pid, socket };
}

/** Stops the agent exported in env, if any (SIGKILL: tests do not rely on a clean stop here). */
export function stopAgent(env: NodeJS.ProcessEnv): void {
  const pid = Number(env.GLASSDOME_AGENT_PID);
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  delete env.GLASSDOME_AGENT_PID;
}

/** Unlocks through the CLI with the test password. */
export async function unlock(env: NodeJS.ProcessEnv, extra: string[] = [], password = PASSWORD): Promise<Run> {
  return cli(env, ['unlock', '--password-stdin', ...extra], password);
}

/** A policy whose one rule lets /usr/bin/python3* read proxmox_* (node, the CLI, is denied). */
export const PYTHON_ONLY = `authorization:
  rules:
    - name: python-reads-proxmox
      clients:
        - exe: /usr/bin/python3*
      secrets: ["proxmox_*"]
      actions: [read]
`;

/** Writes policy.yaml and seals it into the vault with the master password (`policy apply --password-stdin`). */
export async function applyPolicy(t: TestEnv, text: string): Promise<void> {
  fs.writeFileSync(path.join(t.home, 'policy.yaml'), text, { mode: 0o600 });
  const r = await cli(t.env, ['policy', 'apply', '--password-stdin'], PASSWORD);
  if (r.code !== 0) throw new Error(`policy apply failed: ${r.stderr}`);
}

/** Whether a process is alive (a zombie not yet reaped by init counts as dead). */
export const alive = isRunning;

/** Waits until `check` holds, polling (used for process and file states, never for speed). */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Runs Debian's python3 with a script, as another user when `asUid` is given (via setpriv). */
export function python(script: string, args: string[], env: NodeJS.ProcessEnv, asUid?: number): { code: number | null; stdout: string; stderr: string } {
  const cmd = asUid === undefined ? ['/usr/bin/python3', '-c', script, ...args] : ['setpriv', `--reuid=${asUid}`, `--regid=${asUid}`, '--clear-groups', '/usr/bin/python3', '-c', script, ...args];
  const r = spawnSync(cmd[0]!, cmd.slice(1), { env, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Writes the secrets file of a vault directly (for tests that need a prepared map). */
export { sealSecrets };

/**
 * Runs glassdome with stdin and stderr on a pseudo-terminal, stdout on a pipe; types the answers,
 * each once the next prompt shows (a "?"), or once the text given with it shows again.
 */
export function onTerminal(env: NodeJS.ProcessEnv, args: string[], answers: Array<string | [string, string]>): { terminal: string; stdout: string; code: number } {
  const script = [
    'import json, os, pty, subprocess, sys, time',
    'master, slave = pty.openpty()',
    'p = subprocess.Popen(sys.argv[1:3] + json.loads(sys.argv[3]), stdin=slave, stdout=subprocess.PIPE, stderr=slave, close_fds=True)',
    'os.close(slave)',
    'seen = b""',
    'for answer in json.loads(sys.argv[4]):',
    '    prompt, answer = (answer if isinstance(answer, list) else ["?", answer])',
    '    prompt = prompt.encode()',
    '    count = seen.count(prompt)',
    '    while seen.count(prompt) == count:',
    '        seen += os.read(master, 1024)',
    '    os.write(master, answer.encode() + b"\\r")',
    'out, _ = p.communicate(timeout=30)',
    'try:',
    '    while True:',
    '        chunk = os.read(master, 1024)',
    '        if not chunk: break',
    '        seen += chunk',
    'except OSError: pass',
    'print(json.dumps({"terminal": seen.decode(errors="replace"), "stdout": out.decode(), "code": p.returncode}))',
  ].join('\n');
  const r = spawnSync('/usr/bin/python3', ['-c', script, process.execPath, BIN, JSON.stringify(args), JSON.stringify(answers)], { env, encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(r.stdout);
}

/** A fresh environment with a vault and an unlocked agent. */
export async function unlockedEnv(): Promise<TestEnv> {
  const t = makeEnv();
  await makeVault(t);
  await startAgent(t.env);
  await unlock(t.env);
  return t;
}
