// Reading and writing a whole vault under an etcd prefix (docs/ETCD.md): the head a replica needs
// to unlock (metadata and master_key.enc's text), and the full copy `store migrate` moves in and
// out. Records are sealed and opened here with the vault's keys; nothing leaves in the clear.

import { fail } from '../errors.js';
import {
  encodeMeta,
  etcdVaultKeys,
  MASTER_KEY_PATH,
  META_PATH,
  openPolicyRecord,
  openSecretRecord,
  parseMeta,
  POLICY_PATH,
  sealPolicyRecord,
  sealSecretRecord,
  SECRETS_PATH,
  VAULT_PATH,
  wipeEtcdVaultKeys,
  type EtcdMeta,
} from '../vault/etcd-record.js';
import { wipeMap, type SecretMap, type VaultPayload } from '../vault/payload.js';
import type { VaultKeys } from '../vault/vault.js';
import type { EtcdClient, TxnOp } from './client.js';
import { MAX_BATCH_SECRETS, MAX_TXN_RECORD_BYTES } from './etcd-vault.js';
import { etcdKey } from './layout.js';
import { clockPut, readPrefix } from './view.js';

const dec = new TextDecoder();

/** What a replica reads before it can unlock: which vault, and its wrapped master key. */
export interface EtcdVaultHead {
  meta: EtcdMeta;
  masterKeyText: string;
}

/** The store's address as the user wrote it, for messages. */
export function storeLabel(endpoints: string[], prefix: string): string {
  return `etcd://${endpoints.map((e) => e.replace(/^http:\/\//, '')).join(',')}${prefix}`;
}

/** The vault's metadata and master_key.enc text; `no_vault` when the prefix holds none. */
export async function readVaultHead(client: EtcdClient, prefix: string, label: string): Promise<EtcdVaultHead> {
  const [meta, master] = await Promise.all([client.range(etcdKey(prefix, META_PATH)), client.range(etcdKey(prefix, MASTER_KEY_PATH))]);
  if (!meta.kvs[0] || !master.kvs[0]) fail('no_vault', `no glassdome vault in ${label}`, `put one there: glassdome store migrate --to ${label}`);
  return { meta: parseMeta(meta.kvs[0].value), masterKeyText: dec.decode(master.kvs[0].value) };
}

/** Whether anything lives under the prefix's `vault/`. */
export async function vaultPresent(client: EtcdClient, prefix: string): Promise<boolean> {
  return (await client.range(etcdKey(prefix, VAULT_PATH), { prefix: true, limit: 1 })).kvs.length > 0;
}

/** Every secret and the sealed policy of the vault under the prefix, opened with `keys` (read at one revision). The caller wipes the map. */
export async function readVaultRecords(client: EtcdClient, prefix: string, keys: VaultKeys): Promise<VaultPayload> {
  const ek = etcdVaultKeys(keys);
  const map: SecretMap = new Map();
  try {
    const base = etcdKey(prefix, '').length;
    const { kvs } = await readPrefix(client, etcdKey(prefix, VAULT_PATH));
    let policy: string | null = null;
    for (const kv of kvs) {
      const path = dec.decode(kv.key.subarray(base));
      if (path === POLICY_PATH) policy = openPolicyRecord(ek, kv.value);
      else if (path.startsWith(SECRETS_PATH)) {
        const { name, entry } = openSecretRecord(ek, path, kv.value);
        map.set(name, entry);
      }
    }
    return { map, policy, anchor: null };
  } catch (err) {
    wipeMap(map);
    throw err;
  } finally {
    wipeEtcdVaultKeys(ek);
  }
}

/**
 * Writes a whole vault under the prefix: the secrets in transactions of at most
 * MAX_BATCH_SECRETS records and MAX_TXN_RECORD_BYTES bytes, then the policy and master_key.enc,
 * and the metadata last, so a copy cut short is never taken for a vault. Every transaction holds
 * only while no metadata exists (no one else wrote a vault there meanwhile).
 */
export async function writeVaultRecords(client: EtcdClient, prefix: string, keys: VaultKeys, masterKeyText: string, payload: VaultPayload): Promise<void> {
  const ek = etcdVaultKeys(keys);
  const clock = clockPut(etcdKey(prefix, VAULT_PATH));
  const metaKey = etcdKey(prefix, META_PATH);
  const commit = async (ops: TxnOp[]): Promise<void> => {
    const r = await client.txn([{ key: metaKey, target: 'VERSION', result: 'EQUAL', version: 0 }], [...ops, clock]);
    if (!r.succeeded) fail('busy', 'another writer put a vault under the same etcd prefix during the copy', 'check who else migrates there, then retry with --force');
  };
  try {
    let batch: TxnOp[] = [];
    let bytes = 0;
    for (const [name, entry] of [...payload.map].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const { path, record } = sealSecretRecord(ek, name, entry);
      if (batch.length >= MAX_BATCH_SECRETS || (batch.length > 0 && bytes + record.length > MAX_TXN_RECORD_BYTES)) {
        await commit(batch);
        batch = [];
        bytes = 0;
      }
      batch.push({ put: { key: etcdKey(prefix, path), value: record } });
      bytes += record.length;
    }
    if (batch.length > 0) await commit(batch);
    const head: TxnOp[] = [{ put: { key: etcdKey(prefix, MASTER_KEY_PATH), value: new TextEncoder().encode(masterKeyText) } }];
    if (payload.policy !== null) head.push({ put: { key: etcdKey(prefix, POLICY_PATH), value: sealPolicyRecord(ek, payload.policy) } });
    await commit(head);
    await commit([{ put: { key: metaKey, value: encodeMeta(keys.vaultId) } }]);
  } finally {
    wipeEtcdVaultKeys(ek);
  }
}

/** Deletes everything under the prefix's `vault/` (store migrate --force); the number of keys removed. */
export async function deleteVaultRecords(client: EtcdClient, prefix: string): Promise<number> {
  return (await client.delete(etcdKey(prefix, VAULT_PATH), { prefix: true })).deleted;
}
