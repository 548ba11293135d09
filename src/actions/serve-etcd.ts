// `glassdome serve --store etcd://…`: connects to the etcd members, reads the vault's head (the
// wrapped master key, so a replica needs only the password and the endpoints), and once unlocked
// opens the EtcdVault the server reads and writes through. etcd's troubles (a member down, a
// watch broken) are logged at most once per TROUBLE_LOG_INTERVAL_MS; the vault recovers by itself
// and refuses (`unavailable`) while it is not fresh.

import type { AgentState } from '../agent/state.js';
import { EtcdClient } from '../etcd/client.js';
import { EtcdVault } from '../etcd/etcd-vault.js';
import { parseEtcdStore } from '../etcd/layout.js';
import { readVaultHead, storeLabel } from '../etcd/vault-transfer.js';
import { fail } from '../errors.js';

/** At most one log line about etcd's troubles per this many ms. */
export const TROUBLE_LOG_INTERVAL_MS = 10_000;

/** An etcd store a replica serves from. */
export interface EtcdStore {
  client: EtcdClient;
  prefix: string;
  label: string;
  masterKeyText: string;
}

/** Connects to the store and reads its head; `no_vault` when it holds none, `unavailable` when no member answers. */
export async function openEtcdStore(store: string, log: (m: string) => void): Promise<EtcdStore> {
  const address = parseEtcdStore(store);
  const label = storeLabel(address.endpoints, address.prefix);
  const client = new EtcdClient(address.endpoints);
  try {
    const head = await readVaultHead(client, address.prefix, label);
    log(`vault ${head.meta.vaultId} in ${label}`);
    return { client, prefix: address.prefix, label, masterKeyText: head.masterKeyText };
  } catch (err) {
    client.close();
    throw err;
  }
}

/** Opens the vault with the unlocked state's keys and follows etcd from then on. */
export async function startEtcdVault(store: EtcdStore, state: AgentState, log: (m: string) => void): Promise<EtcdVault> {
  const keys = state.current() ?? fail('locked', 'the daemon holds no key');
  let lastLog = -Infinity;
  const vault = new EtcdVault(store.client, store.prefix, keys, (err) => {
    if (performance.now() - lastLog < TROUBLE_LOG_INTERVAL_MS) return;
    lastLog = performance.now();
    log(`etcd: ${err.message}`);
  });
  await vault.start();
  return vault;
}
