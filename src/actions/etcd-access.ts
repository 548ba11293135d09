// How the admin commands reach a vault kept in etcd (`--store etcd://HOST:PORT,…/PREFIX` on
// `token`, `ca revoke` and `audit verify`): the client over the store's members, and the sealed
// master key the vault backend keeps there (a password unseals it as for a file vault).

import { EtcdClient } from '../etcd/client.js';
import { etcdKey, parseEtcdStore, VAULT, VAULT_MASTER_KEY } from '../etcd/layout.js';
import { fail } from '../errors.js';

/** An open etcd store: its client (closed by the caller) and its key prefix. */
export interface EtcdAccess {
  client: EtcdClient;
  prefix: string;
}

/** The etcd store `--store` names, opened; null when the command works on the file vault. */
export function openEtcd(store: string | undefined): EtcdAccess | null {
  if (store === undefined) return null;
  const { endpoints, prefix } = parseEtcdStore(store);
  return { client: new EtcdClient(endpoints), prefix };
}

/** Runs `fn` with the etcd store `--store` names (or null for the file vault), closing it after. */
export async function withEtcd<T>(store: string | undefined, fn: (etcd: EtcdAccess | null) => Promise<T>): Promise<T> {
  const etcd = openEtcd(store);
  try {
    return await fn(etcd);
  } finally {
    etcd?.client.close();
  }
}

/** The text of master_key.enc kept in etcd (`no_vault` when the store holds none). */
export async function etcdMasterKeyText(etcd: EtcdAccess): Promise<string> {
  const kv = (await etcd.client.range(etcdKey(etcd.prefix, VAULT, VAULT_MASTER_KEY), { limit: 1 })).kvs[0];
  if (!kv) fail('no_vault', `no vault in etcd under ${etcd.prefix}`, 'move one there: glassdome store migrate');
  return new TextDecoder().decode(kv.value);
}
