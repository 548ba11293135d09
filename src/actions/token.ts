// `glassdome token create | list | revoke`: tokens of `glassdome serve` for workloads without a
// certificate. Creating one needs the master key (the password, as `unlock` asks it); the token
// is printed once, on stdout, and never stored. Listing and revoking need no key.

import { parseLifetime } from '../cli/duration.js';
import { unsealWithPassword } from '../cli/unseal.js';
import { writeJson } from '../cli/render.js';
import { fail } from '../errors.js';
import { TOKEN_TTL_MS, TokenStore, tokenKey, type TokenRecord, type TokenType } from '../serve/tokens.js';
import type { VaultPaths } from '../store/paths.js';
import { wipeKeys } from '../vault/vault.js';

/** `token create`: prints a new token once. */
export async function tokenCreateAction(options: { client: string; ttl: string | undefined; type: string; passwordStdin: boolean; json: boolean }, paths: VaultPaths): Promise<void> {
  if (!(['bootstrap', 'admin'] as string[]).includes(options.type)) fail('usage', `--type must be bootstrap or admin, not ${JSON.stringify(options.type)}`, 'session tokens come from exchanging a bootstrap token');
  const type = options.type as TokenType;
  const ttlMs = options.ttl === undefined ? TOKEN_TTL_MS[type] : parseLifetime(options.ttl) * 1000;
  const keys = await unsealWithPassword(paths, { stdin: options.passwordStdin, message: 'Master password' });
  let key: Uint8Array | undefined;
  try {
    key = tokenKey(keys.masterKey);
    const { token, record } = await new TokenStore(paths.home, key).create(options.client, type, ttlMs);
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
export function tokenListAction(options: { json: boolean }, paths: VaultPaths): void {
  const now = Date.now();
  const rows = new TokenStore(paths.home).list().map(view);
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
export async function tokenRevokeAction(options: { accessor: string }, paths: VaultPaths): Promise<void> {
  if (!/^[0-9a-f]{16}$/.test(options.accessor)) fail('usage', `${JSON.stringify(options.accessor)} is not an accessor id`, 'see them with: glassdome token list');
  if (!(await new TokenStore(paths.home).revoke(options.accessor))) fail('not_found', `no token with accessor ${options.accessor}`, 'see them with: glassdome token list');
  process.stderr.write(`glassdome: revoked token ${options.accessor}\n`);
}

function view(r: TokenRecord): Omit<TokenRecord, 'hash' | 'mac'> {
  const { hash: _h, mac: _m, ...rest } = r;
  return rest;
}
