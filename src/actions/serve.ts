// `glassdome serve`: the network daemon. Hardened like the agent (umask 077, not dumpable, no
// core dumps, keys in mlocked memory), unlocked once here with the master password (a systemd
// credential, stdin, or a prompt; the KDF runs before the server listens, so it stalls no
// client), then it serves the vault over HTTPS through the same AgentVault and Guard the agent
// uses, until SIGTERM/SIGINT wipe the key (exit 0) or its lifetime ends (key wiped, exit 4: a
// systemd unit restarts it and the credential unlocks it again). It needs a policy.yaml: without one, every certificate of the CA could read everything.
// With `--store etcd://…` the vault, its wrapped master key and its sealed policy come from etcd
// (serve-etcd.ts), so several replicas serve one vault.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { AgentState } from '../agent/state.js';
import { AgentVault } from '../agent/agent-vault.js';
import { daemonAnchorOnWrite, daemonBreak } from '../audit/anchor.js';
import { AuditLog } from '../audit/log.js';
import { prepareKdf } from '../cli/kdf.js';
import { MAX_PASSWORD_BYTES, readPassword, stripOneNewline } from '../cli/password.js';
import { fail, GlassdomeError } from '../errors.js';
import { disableCoreDumps, setNotDumpable } from '../os/libc.js';
import { Guard } from '../policy/guard.js';
import { policyInForce } from '../policy/sealed.js';
import type { VaultPaths } from '../store/paths.js';
import { readOwnPrivateFile } from '../store/secure-file.js';
import { loadVault } from '../store/vault-files.js';
import { readMasterKeyText } from '../store/vault-text.js';
import { wipeMap } from '../vault/payload.js';
import { unsealMasterKey, wipeKeys, type VaultKeys } from '../vault/vault.js';
import { DEFAULT_LISTEN } from '../serve/limits.js';
import { CRL_EXPIRY_CHECK_MS, CrlWatch, crlExpiryWarning, loadCrls, type CrlState } from '../serve/revocation.js';
import { ServeServer } from '../serve/server.js';
import { tokenKey } from '../serve/tokens.js';
import { FileTokenStore } from '../serve/tokens-file.js';
import { EtcdReplica } from '../serve/etcd-replica.js';
import { replicaId } from '../audit/anchor-etcd.js';
import type { EtcdVault } from '../etcd/etcd-vault.js';
import { openEtcdStore, startEtcdVault, type EtcdStore } from './serve-etcd.js';

/** What `serve` was asked. */
export interface ServeActionOptions {
  listen: string | undefined;
  cert: string;
  key: string;
  clientCa: string;
  crl: string[];
  passwordStdin: boolean;
  lifetimeS: number;
  tls12: boolean;
  /** `etcd://…` to serve the vault kept in etcd (docs/ETCD.md); the file vault of $GLASSDOME_HOME otherwise. */
  store?: string | undefined;
  /** With `store`: this replica's id, naming its audit head in etcd (default: the host name and a digest of $GLASSDOME_HOME). */
  replicaId?: string | undefined;
}

/** The exit status when the key's lifetime ends (4, as for an expired session): a unit restarts the daemon, which unlocks again. */
export const EXPIRED_EXIT = 4;

/** The systemd credential that unlocks a daemon started by a unit (`LoadCredential=glassdome-password:…`). */
export const PASSWORD_CREDENTIAL = 'glassdome-password';

/** The password from $CREDENTIALS_DIRECTORY/glassdome-password, or null when systemd passed none. */
function credentialPassword(): Buffer | null {
  const dir = process.env.CREDENTIALS_DIRECTORY;
  if (!dir) return null;
  const file = path.join(dir, PASSWORD_CREDENTIAL);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return fail('io', `cannot read the credential ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (bytes.length > MAX_PASSWORD_BYTES + 2) fail('too_large', `the credential ${file} is over ${MAX_PASSWORD_BYTES} bytes`);
  const password = Buffer.from(stripOneNewline(bytes));
  bytes.fill(0);
  if (password.length === 0) fail('usage', `the credential ${file} is empty`);
  return password;
}

/** HOST:PORT or [V6]:PORT. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || port > 65535 || (net.isIP(host) === 0 && host !== 'localhost')) fail('usage', `--listen ${JSON.stringify(text)} is not ADDRESS:PORT`, 'like 127.0.0.1:8443, 0.0.0.0:8443 or [::1]:8443');
  return { host, port };
}

/** A replica's tokens, revocations and audit head in etcd, loaded and running. */
async function startReplica(etcd: EtcdStore, id: string, key: Uint8Array, state: AgentState, guard: Guard, log: (m: string) => void): Promise<EtcdReplica> {
  const replica = new EtcdReplica(etcd.client, etcd.prefix, id, key, () => state.auditKey, log);
  await replica.start(guard.audit, daemonBreak(guard.audit, log));
  log(`replica ${replica.anchor.replica} on etcd ${etcd.prefix}: tokens, revocations and the audit head in etcd`);
  return replica;
}

/** Unlocks, listens, and serves until signalled; resolves only on a start failure (thrown). */
export async function serveAction(options: ServeActionOptions, paths: VaultPaths): Promise<void> {
  const { host, port } = parseListen(options.listen ?? DEFAULT_LISTEN);
  if (options.replicaId !== undefined && options.store === undefined) fail('usage', '--replica-id names a replica on etcd', 'give --store etcd://… as well, or leave --replica-id out');
  const ownId = options.store === undefined ? undefined : replicaId(options.replicaId, paths.home);
  const log = (m: string): void => void process.stderr.write(`glassdome serve: ${m}\n`);
  const read = (file: string, what: string, reader = (f: string): string => fs.readFileSync(f, 'utf8')): string => {
    try {
      return reader(file);
    } catch (err) {
      if (err instanceof GlassdomeError) throw err;
      return fail('usage', `cannot read the ${what} ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  // The server's private key must be ours and private, as a vault file must (readable by others, refused: chmod 600).
  const tlsFiles = { key: read(options.key, 'key', readOwnPrivateFile), cert: read(options.cert, 'certificate'), clientCa: read(options.clientCa, 'client CA') };
  const crl = await loadCrls(options.crl, [tlsFiles.clientCa]);
  process.umask(0o077);
  setNotDumpable();
  disableCoreDumps();
  prepareKdf();
  const etcd = options.store === undefined ? null : await openEtcdStore(options.store, log);
  const masterKeyText = etcd ? etcd.masterKeyText : readMasterKeyText(paths);
  let stop: (why: string, status: number) => void = (_why, status) => process.exit(status);
  const state = new AgentState((reason) => {
    vault.clear();
    key.fill(0);
    if (reason === 'expired') stop('lifetime over: key wiped', EXPIRED_EXIT);
    else log(`key wiped (${reason})`);
  });
  const fileVault = etcd ? null : new AgentVault(paths, state);
  let etcdVault: EtcdVault | null = null;
  const vault = {
    clear: (): void => (fileVault ?? etcdVault)?.clear(),
  };
  let keys: VaultKeys | undefined;
  const password = credentialPassword() ?? (await readPassword({ stdin: options.passwordStdin, message: 'Master password' }));
  let key: Uint8Array = new Uint8Array(0);
  try {
    keys = await unsealMasterKey(masterKeyText, password);
    key = tokenKey(keys.masterKey);
    state.unlock(keys.vaultId, keys.masterKey, options.lifetimeS * 1000);
  } finally {
    password.fill(0);
    wipeKeys(keys);
  }
  if (etcd) etcdVault = await startEtcdVault(etcd, state, log);
  const opened = fileVault ? loadVault(paths, state.current()!) : null;
  // The policy in force is the one sealed into the vault (glassdome policy apply), never policy.yaml,
  // which the processes it restricts could rewrite; a vault with nothing sealed serves no one.
  const sealed = opened ? opened.payload.policy : etcdVault!.sealedPolicy;
  if (sealed === null) {
    if (opened) wipeMap(opened.payload.map);
    state.lock('locked');
    fail('usage', `serve needs a policy sealed into the vault ${etcd?.label ?? paths.home}`, 'write one that names the CNs allowed to read (docs/POLICY.md, "Remote clients"), then: glassdome policy apply FILE');
  }
  const inForce = policyInForce(sealed, null);
  const guard = new Guard(inForce.policy, new AuditLog(paths.audit, undefined, () => state.auditKey));
  guard.setPolicy(inForce.policy, inForce.blocked);
  (fileVault ?? etcdVault!).hooks = {
    onPolicy: (text) => {
      // A policy applied while serve runs is in force from its next reload of the vault.
      const next = policyInForce(text, null);
      guard.setPolicy(next.policy, text === null ? 'the sealed policy was removed: every request is refused' : next.blocked);
    },
    onReplaced: () => state.lock('replaced'),
  };
  // A write through the API seals the audit log's head into the file vault, as the agent's writes
  // do, so lines written before it cannot be cut unnoticed (an etcd replica anchors its own head).
  if (fileVault) fileVault.hooks.anchor = daemonAnchorOnWrite(guard.audit, log);
  if (fileVault && opened) {
    try {
      fileVault.adoptUnlock(opened.payload, opened.signature);
    } finally {
      wipeMap(opened.payload.map);
    }
  }

  const replica = etcd ? await startReplica(etcd, ownId!, key, state, guard, log) : null;
  const tokens = replica?.tokens ?? new FileTokenStore(paths.home, key);
  const server = new ServeServer({ host, port, ...tlsFiles, crl, allowTls12: options.tls12, guard, state, vault: (fileVault ?? etcdVault)!, tokens, ...(replica ? { revocations: replica.revocations } : {}), log });
  const bound = await server.listen();
  let crlNow: CrlState = crl;
  const warnCrl = (): void => {
    const warning = crlExpiryWarning(crlNow);
    if (warning) log(warning);
  };
  const watch = new CrlWatch(options.crl, [tlsFiles.clientCa], crl, (next) => {
    server.setCrl(next);
    crlNow = next;
    warnCrl();
  }, log);
  watch.start();
  warnCrl();
  setInterval(warnCrl, CRL_EXPIRY_CHECK_MS).unref();
  await guard.record(null, { event_type: 'admin_action', action: 'serve', resource: `${host}:${bound}`, result: 'success', reason: `until ${new Date(state.info!.expiresAt).toISOString()}` });
  const shown = net.isIPv6(host) ? `[${host}]` : host;
  log(`serving ${etcd?.label ?? paths.home} on https://${shown}:${bound} (pid ${process.pid}; TLS ${options.tls12 ? '1.2 and 1.3' : '1.3 only'}; ${crl.serials.size} revoked serials${replica ? ` (+${replica.revocations.size} in etcd)` : ''}; key until ${new Date(state.info!.expiresAt).toISOString()})`);

  let stopping = false;
  stop = (why: string, status: number): void => {
    if (stopping) return;
    stopping = true;
    log(`${why}; exiting`);
    watch.stop();
    const anchored = replica ? replica.stop(guard.audit) : Promise.resolve(); // a last audit head, while the key is still held
    void anchored.finally(() => {
      state.lock('locked');
      etcd?.client.close();
      void server.close().finally(() => process.exit(status));
    });
    setTimeout(() => process.exit(status), 1000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM: wiping the key', 0));
  process.on('SIGINT', () => stop('SIGINT: wiping the key', 0));
  process.on('uncaughtException', (err) => log(`unexpected error (serve keeps running): ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => log(`unexpected rejection (serve keeps running): ${String(err)}`));
  await new Promise<never>(() => undefined);
}
