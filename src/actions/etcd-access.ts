// How the admin commands reach a vault kept in etcd (`--store etcd://HOST:PORT,…/PREFIX` on
// `token`, `ca revoke` and `audit verify`): the client over the store's members, and the wrapped
// master key the vault backend keeps there (a password unseals it as for a file vault).

import { EtcdClient } from '../etcd/client.js';
import { parseEtcdStore } from '../etcd/layout.js';
import { readVaultHead, storeLabel } from '../etcd/vault-transfer.js';

/** An open etcd store: its client (closed by the caller), key prefix, and how messages name it. */
export interface EtcdAccess {
  client: EtcdClient;
  prefix: string;
  label: string;
}

/** Runs `fn` with the etcd store `--store` names (or null for the file vault), closing it after. */
export async function withEtcd<T>(store: string | undefined, fn: (etcd: EtcdAccess | null) => Promise<T>): Promise<T> {
  if (store === undefined) return fn(null);
  const { endpoints, prefix } = parseEtcdStore(store);
  const etcd = { client: new EtcdClient(endpoints), prefix, label: storeLabel(endpoints, prefix) };
  try {
    return await fn(etcd);
  } finally {
    etcd.client.close();
  }
}

/** The text of master_key.enc kept in etcd (`no_vault` when the store holds no vault). */
export async function etcdMasterKeyText(etcd: EtcdAccess): Promise<string> {
  return (await readVaultHead(etcd.client, etcd.prefix, etcd.label)).masterKeyText;
}
