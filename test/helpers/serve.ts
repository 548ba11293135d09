// Starting a real `glassdome serve` for a test: a vault with a few secrets (written through the
// real core), a CA and certificates made by the real CLI, a policy, and the daemon on a free
// loopback port (or inside a network namespace), plus a small HTTPS client for raw requests.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { vaultPaths } from '../../src/store/paths.js';
import { LocalStore } from '../../src/store/local-store.js';
import { readMasterKeyText } from '../../src/store/vault-text.js';
import { unsealMasterKey, wipeKeys } from '../../src/vault/vault.js';
import { applyPolicy, BIN, cli, makeVault, PASSWORD, waitFor, type TestEnv } from './cli.js';

/** A policy letting certificates `agent-*` read `proxmox_*`. */
export const AGENTS_READ_POLICY = `
authorization:
  rules:
    - name: agents
      clients: ["agent-*"]
      secrets: ["proxmox_*"]
      actions: [read]
`;

/** A running daemon. */
export interface Daemon {
  child: ChildProcess;
  port: number;
  url: string;
  log: () => string;
  stop(): void;
}

/** Puts secrets into the vault of `t` through the real store code. */
export async function putSecrets(t: TestEnv, secrets: Record<string, string>): Promise<void> {
  const paths = vaultPaths(t.home);
  const keys = await unsealMasterKey(readMasterKeyText(paths), Buffer.from(PASSWORD));
  try {
    const store = new LocalStore(paths, keys);
    for (const [name, value] of Object.entries(secrets)) await store.set(name, Buffer.from(value));
  } finally {
    wipeKeys(keys);
  }
}

/** Runs the CLI and insists on exit 0. */
export async function ok(env: NodeJS.ProcessEnv, args: string[], input?: string): Promise<string> {
  const r = await cli(env, args, input);
  if (r.code !== 0) throw new Error(`glassdome ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/**
 * A vault with secrets, a policy sealed into it (none with null), a CA, a server certificate (for
 * `sans`) and the given client certificates in `<dir>/certs`.
 */
export async function makeLab(t: TestEnv, policy: string | null, clients: string[], sans = 'DNS:localhost,IP:127.0.0.1'): Promise<string> {
  await makeVault(t);
  await putSecrets(t, { proxmox_password: 'pve-secret', ai_key: 'ai-secret', 'ci/deploy': 'deploy-secret' });
  if (policy !== null) await applyPolicy(t, policy);
  const certs = path.join(t.dir, 'certs');
  fs.mkdirSync(certs, { mode: 0o700 });
  await ok(t.env, ['ca', 'init']);
  await ok(t.env, ['ca', 'issue', '--server', '--cn', 'localhost', '--san', sans, '--out', path.join(certs, 'server')]);
  for (const cn of clients) await ok(t.env, ['ca', 'issue', '--cn', cn, '--out', path.join(certs, cn)]);
  return certs;
}

/** Starts `glassdome serve` (optionally under a wrapper such as `ip netns exec NS`, or unlocked by a systemd credentials directory) and waits until it listens. */
export async function startServe(t: TestEnv, options: { listen?: string; wrapper?: string[]; extra?: string[]; credentials?: string } = {}): Promise<Daemon> {
  const certs = path.join(t.dir, 'certs');
  const args = [
    BIN, 'serve', ...(options.credentials ? [] : ['--password-stdin']), '--listen', options.listen ?? '127.0.0.1:0',
    '--cert', path.join(certs, 'server.crt'), '--key', path.join(certs, 'server.key'),
    '--client-ca', path.join(t.home, 'ca', 'ca.crt'), '--crl', path.join(t.home, 'ca', 'crl.pem'), ...(options.extra ?? []),
  ];
  const wrapper = options.wrapper ?? [];
  const env = options.credentials ? { ...t.env, CREDENTIALS_DIRECTORY: options.credentials } : t.env;
  const child = spawn(wrapper[0] ?? process.execPath, wrapper.length > 0 ? [...wrapper.slice(1), process.execPath, ...args] : args, { env, stdio: ['pipe', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  child.stdin!.end(options.credentials ? '' : PASSWORD);
  await waitFor(() => /on https:\/\/\S+:\d+ /.test(log) || child.exitCode !== null, 'glassdome serve to listen', 30_000);
  const m = /on (https:\/\/\S+):(\d+) /.exec(log);
  if (!m) throw new Error(`glassdome serve did not start: ${log}`);
  return {
    child,
    port: Number(m[2]),
    url: `${m[1]}:${m[2]}`,
    log: () => log,
    stop() {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** The environment of a CLI client of `daemon` using the certificate of `cn` (or a token file). */
export function clientEnv(t: TestEnv, daemon: Daemon, auth: { cn?: string; certs?: string; tokenFile?: string }, url = daemon.url): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...t.env, GLASSDOME_SERVER: url, GLASSDOME_SERVER_CA: path.join(t.home, 'ca', 'ca.crt') };
  const certs = auth.certs ?? path.join(t.dir, 'certs');
  if (auth.cn) Object.assign(env, { GLASSDOME_CLIENT_CERT: path.join(certs, `${auth.cn}.crt`), GLASSDOME_CLIENT_KEY: path.join(certs, `${auth.cn}.key`) });
  if (auth.tokenFile) env.GLASSDOME_TOKEN_FILE = auth.tokenFile;
  return env;
}

/** A raw HTTPS answer. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { error?: { code: string; message: string }; [k: string]: unknown };
  reused: boolean;
}

/**
 * One raw request to the daemon, with a client certificate, a token, both or neither; `from`: the
 * loopback address it comes from (refusals are limited per address), 127.0.0.1 by default.
 */
export function request(daemon: Daemon, t: TestEnv, p: string, options: { method?: string; cn?: string; token?: string; agent?: https.Agent; body?: string | Buffer; from?: string } = {}): Promise<Answer> {
  const certs = path.join(t.dir, 'certs');
  const tlsOptions = options.cn ? { cert: fs.readFileSync(path.join(certs, `${options.cn}.crt`)), key: fs.readFileSync(path.join(certs, `${options.cn}.key`)) } : {};
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${daemon.url}${p}`,
      {
        method: options.method ?? 'GET',
        ca: fs.readFileSync(path.join(t.home, 'ca', 'ca.crt')),
        ...tlsOptions,
        ...(options.from ? { localAddress: options.from } : {}),
        ...(options.agent ? { agent: options.agent } : { agent: false }),
        headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) as Answer['body'], reused: req.reusedSocket }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
