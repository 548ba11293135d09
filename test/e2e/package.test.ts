// The release path, as a new user meets it: pack a clean copy of the checkout (prepack builds
// dist/), install the tarball into a temporary prefix with npm, and run the README's whole flow
// with the installed binary: agent, init, unlock, set, get, exec (a Python child using the
// shipped client), lock. Nothing here runs from the working tree's dist/.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.join(__dirname, '../..');
const PACK_TIMEOUT_MS = 300_000;

interface Sh {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sh(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Sh {
  const r = spawnSync(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, input: options.input ?? '', encoding: 'utf8', timeout: PACK_TIMEOUT_MS });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Build outputs and local state a clean clone does not have. */
const NOT_IN_A_CLONE = new Set(['node_modules', 'dist', 'oclif.manifest.json', '.git', 'scratch']);

/** The files a clone has: git's list (tracked, or new and not ignored), else the tree minus build outputs. */
function checkoutFiles(): string[] {
  const git = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  if (git.status === 0) return git.stdout.split('\0').filter(Boolean);
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const entry of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      if (NOT_IN_A_CLONE.has(entry.name) || entry.name.endsWith('.tgz')) continue;
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) out.push(child);
    }
  };
  walk('');
  return out;
}

describe('npm pack of a clean checkout, installed with npm install -g', () => {
  let dir: string;
  let tarball: string;
  let bin: string;
  let entries: string[];

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gd-pack-'));
    const src = path.join(dir, 'src');
    for (const file of checkoutFiles()) {
      if (!fs.existsSync(path.join(ROOT, file))) continue; // deleted in the working tree
      fs.mkdirSync(path.join(src, path.dirname(file)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, file), path.join(src, file));
    }
    expect(fs.existsSync(path.join(src, 'dist'))).toBe(false);
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(src, 'node_modules')); // dev deps, as after npm ci
    const pack = sh('npm', ['pack', '--pack-destination', dir, '--json'], { cwd: src });
    expect(pack.code, pack.stderr).toBe(0);
    const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = path.join(dir, info!.filename);
    entries = info!.files.map((f) => f.path);
    const prefix = path.join(dir, 'prefix');
    const install = sh('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball]);
    expect(install.code, install.stderr).toBe(0);
    bin = path.join(prefix, 'bin', 'glassdome');
  }, PACK_TIMEOUT_MS);

  afterAll(() => {
    if (process.env.GLASSDOME_TEST_KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ships what runs (built dist, manifest, python client, systemd units) and no dev entry point', () => {
    for (const needed of ['bin/run.js', 'dist/cli/lean.js', 'dist/commands/get.js', 'oclif.manifest.json', 'clients/python/glassdome.py', 'systemd/glassdome.socket', 'systemd/glassdome.service']) {
      expect(entries, needed).toContain(needed);
    }
    expect(entries).not.toContain('bin/dev.js');
    expect(entries.filter((e) => e.startsWith('src/') || e.startsWith('test/'))).toEqual([]);
  });

  it('runs the whole flow with the installed binary', () => {
    const home = path.join(dir, 'home');
    const runtime = path.join(dir, 'run');
    fs.mkdirSync(runtime, { mode: 0o700 });
    const env: NodeJS.ProcessEnv = { ...process.env, GLASSDOME_HOME: home, XDG_RUNTIME_DIR: runtime, NO_COLOR: '1', PATH: `${path.dirname(bin)}:${process.env.PATH ?? ''}` };
    delete env.GLASSDOME_AUTH_SOCK;
    delete env.GLASSDOME_AGENT_PID;
    delete env.DBUS_SESSION_BUS_ADDRESS;
    const gd = (args: string[], input?: string): Sh => sh(bin, args, { cwd: dir, env, input });

    expect(gd(['--version']).stdout).toMatch(/^glassdome\/\d+\.\d+\.\d+ /);
    const agent = gd(['agent', '-s']);
    expect(agent.code, agent.stderr).toBe(0);
    env.GLASSDOME_AUTH_SOCK = /GLASSDOME_AUTH_SOCK=([^;]+);/.exec(agent.stdout)![1];
    env.GLASSDOME_AGENT_PID = /GLASSDOME_AGENT_PID=(\d+);/.exec(agent.stdout)![1];
    try {
      expect(gd(['init', '--password-stdin'], 'pw-of-the-package-test').code).toBe(0);
      const unlocked = gd(['unlock', '--password-stdin'], 'pw-of-the-package-test');
      expect(unlocked.code, unlocked.stderr).toBe(0);
      expect(gd(['set', 'db_pass'], 's3cret\n').code).toBe(0);
      expect(gd(['get', 'db_pass'])).toMatchObject({ code: 0, stdout: 's3cret\n' });
      const clientDir = gd(['python-path']).stdout.trim();
      expect(fs.existsSync(path.join(clientDir, 'glassdome.py'))).toBe(true);
      expect(clientDir.startsWith(path.join(dir, 'prefix'))).toBe(true);
      const child = sh(bin, ['exec', '--', 'python3', '-c', 'import glassdome; print(glassdome.secrets()["db_pass"])'], { cwd: dir, env: { ...env, PYTHONPATH: clientDir } });
      expect(child).toMatchObject({ code: 0, stdout: 's3cret\n' });
      expect(gd(['lock']).code).toBe(0);
      expect(gd(['get', 'db_pass']).code).toBe(4);
    } finally {
      gd(['agent', '-k']);
    }
  });
});
