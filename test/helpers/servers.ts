// Real servers for the recipe tests: PostgreSQL and MariaDB started as an unprivileged user
// (nobody, via setpriv) in a private temporary directory, listening on loopback and a socket there,
// with password authentication; and a free loopback port for them.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './cli.js';

/** The unprivileged user the database servers run as (nobody on Debian). */
export const NOBODY = 65534;

/** The directory of PostgreSQL's server programs (Debian: /usr/lib/postgresql/<major>/bin). */
export function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const majors = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin/initdb'))) : [];
  majors.sort((a, b) => Number(b) - Number(a));
  return path.join(root, majors[0] ?? '<major>', 'bin');
}

/** A port on 127.0.0.1 that was free a moment ago (servers that cannot take port 0). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A running server: its port, its socket directory, and a stop that waits for it and cleans up. */
export interface Server {
  port: number;
  socketDir: string;
  stop(): Promise<void>;
}

/** Runs a command as nobody in `cwd` (the test's own directory may be closed to nobody); throws with its output when it fails. */
function asNobody(argv: string[], env: NodeJS.ProcessEnv, cwd: string): void {
  const r = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...argv], { env, cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${argv[0]} failed (${r.status}): ${r.stdout}${r.stderr}`);
}

/** A private directory nobody owns, under the system temp directory (reachable by nobody). */
function nobodyDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chownSync(dir, NOBODY, NOBODY);
  return dir;
}

function startAsNobody(argv: string[], env: NodeJS.ProcessEnv, cwd: string): { child: ChildProcess; log: () => string } {
  const child = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...argv], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  return { child, log: () => log };
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/** PostgreSQL with superuser `user` and password authentication (scram-sha-256) everywhere. */
export async function startPostgres(user: string, password: string): Promise<Server> {
  const bin = postgresBin();
  const dir = nobodyDir('gd-pg-');
  const env = { PATH: process.env.PATH, LANG: 'C', LC_ALL: 'C' };
  const pwfile = path.join(dir, 'pw');
  fs.writeFileSync(pwfile, password, { mode: 0o600 });
  fs.chownSync(pwfile, NOBODY, NOBODY);
  asNobody([path.join(bin, 'initdb'), '-D', path.join(dir, 'data'), '-U', user, '--auth=scram-sha-256', `--pwfile=${pwfile}`, '--no-sync', '-E', 'UTF8'], env, dir);
  fs.rmSync(pwfile);
  const port = await freePort();
  const { child, log } = startAsNobody([path.join(bin, 'postgres'), '-D', path.join(dir, 'data'), '-k', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'], env, dir);
  await waitFor(() => child.exitCode !== null || /ready to accept connections/.test(log()), 'postgres to start', 30_000);
  if (child.exitCode !== null) throw new Error(`postgres did not start: ${log()}`);
  return { port, socketDir: dir, stop: () => stopChild(child, 'SIGINT', dir) };
}

/** MariaDB with user `user`@127.0.0.1 identified by `password` (root only on the socket, no password). */
export async function startMariadb(user: string, password: string): Promise<Server> {
  const dir = nobodyDir('gd-my-');
  const env = { PATH: process.env.PATH, LANG: 'C' };
  const data = path.join(dir, 'data');
  asNobody(['mariadb-install-db', '--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db'], env, dir);
  const port = await freePort();
  const socket = path.join(dir, 'sock');
  const { child, log } = startAsNobody(['mariadbd', '--no-defaults', `--datadir=${data}`, `--socket=${socket}`, `--port=${port}`, '--bind-address=127.0.0.1', `--pid-file=${path.join(dir, 'pid')}`, '--skip-name-resolve', '--innodb-flush-log-at-trx-commit=0'], env, dir);
  await waitFor(() => child.exitCode !== null || /ready for connections/.test(log()), 'mariadbd to start', 30_000);
  if (child.exitCode !== null) throw new Error(`mariadbd did not start: ${log()}`);
  const sql = `CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${password.replace(/'/g, "''")}'`;
  const r = spawnSync('mariadb', ['--no-defaults', '-uroot', `--socket=${socket}`, '-e', sql], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot create the MariaDB user: ${r.stderr}`);
  return { port, socketDir: dir, stop: () => stopChild(child, 'SIGTERM', dir) };
}
