// `glassdome token create | list | revoke`: tokens of `glassdome serve` for workloads without a
// certificate, in $GLASSDOME_HOME/tokens.json or, with `--store etcd://…`, in etcd where every
// replica sees them. Creating one needs the master key (the password, as `unlock` asks it); the
// token is printed once, on stdout, and never stored. Listing and revoking need no key.

import { parseLifetime } from '../cli/duration.js';
import { unsealWithPassword } from '../cli/unseal.js';
import { writeJson } from '../cli/render.js';
import { fail } from '../errors.js';
import { checkAccessor, TOKEN_TTL_MS, tokenKey, type TokenRecord, type TokenStore, type TokenType } from '../serve/tokens.js';
import { FileTokenStore } from '../serve/tokens-file.js';
import { EtcdTokenStore } from '../serve/tokens-etcd.js';
import { etcdMasterKeyText, withEtcd, type EtcdAccess } from './etcd-access.js';
import type { VaultPaths } from '../store/paths.js';
import { wipeKeys } from '../vault/vault.js';

/** The token store a command works on: etcd's when `--store` names one, else tokens.json. */
function storeOf(etcd: EtcdAccess | null, paths: VaultPaths, key: Uint8Array | null = null): TokenStore {
  return etcd ? new EtcdTokenStore(etcd.client, etcd.prefix, key) : new FileTokenStore(paths.home, key);
}

/** `token create`: prints a new token once. */
export async function tokenCreateAction(options: { client: string; ttl: string | undefined; type: string; passwordStdin: boolean; json: boolean; store?: string }, paths: VaultPaths): Promise<void> {
  await withEtcd(options.store, (etcd) => createToken(options, paths, etcd));
}

async function createToken(options: { client: string; ttl: string | undefined; type: string; passwordStdin: boolean; json: boolean }, paths: VaultPaths, etcd: EtcdAccess | null): Promise<void> {
  if (!(['bootstrap', 'admin'] as string[]).includes(options.type)) fail('usage', `--type must be bootstrap or admin, not ${JSON.stringify(options.type)}`, 'session tokens come from exchanging a bootstrap token');
  const type = options.type as TokenType;
  const ttlMs = options.ttl === undefined ? TOKEN_TTL_MS[type] : parseLifetime(options.ttl) * 1000;
  const keys = await unsealWithPassword(paths, { stdin: options.passwordStdin, message: 'Master password', ...(etcd ? { masterKeyText: await etcdMasterKeyText(etcd) } : {}) });
  let key: Uint8Array | undefined;
  try {
    key = tokenKey(keys.masterKey);
    const { token, record } = await storeOf(etcd, paths, key).create(options.client, type, ttlMs);
    if (options.json) writeJson({ token, ...view(record) });
    else {
      process.stdout.write(`${token}\n`);
      process.stderr.write(`glassdome: ${type} token ${record.accessor} for ${record.client} until ${record.expires_at} (shown once)\n`);
    }
  } finally {
    wipeKeys(keys);
    key?.fill(0);
  }
}

/** `token list`: accessors, clients, types, expiry; never a token. */
export async function tokenListAction(options: { json: boolean; store?: string }, paths: VaultPaths): Promise<void> {
  const now = Date.now();
  const rows = (await withEtcd(options.store, (etcd) => storeOf(etcd, paths).list())).map(view);
  if (options.json) {
    writeJson(rows);
    return;
  }
  for (const r of rows) {
    const state = r.type === 'bootstrap' && r.used ? 'used' : Date.parse(r.expires_at) <= now ? 'expired' : 'live';
    process.stdout.write(`${r.accessor}  ${r.type.padEnd(9)} ${r.client.padEnd(20)} ${r.expires_at}  ${state}\n`);
  }
}

/** `token revoke ACCESSOR`: the token stops working at once (`not_found` when unknown). */
export async function tokenRevokeAction(options: { accessor: string; store?: string }, paths: VaultPaths): Promise<void> {
  checkAccessor(options.accessor);
  if (!(await withEtcd(options.store, (etcd) => storeOf(etcd, paths).revoke(options.accessor)))) fail('not_found', `no token with accessor ${options.accessor}`, 'see them with: glassdome token list');
  process.stderr.write(`glassdome: revoked token ${options.accessor}\n`);
}

function view(r: TokenRecord): Omit<TokenRecord, 'hash' | 'mac'> {
  const { hash: _h, mac: _m, ...rest } = r;
  return rest;
}
