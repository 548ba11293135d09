// `glassdome store migrate --to etcd://… | --from etcd://…`: moves the vault of $GLASSDOME_HOME
// into an etcd store, or an etcd store's vault into $GLASSDOME_HOME, nothing lost. The master
// password opens the source (the same master key seals the target, so the password and vault id
// stay); the copy is read back and compared secret by secret, byte for byte, before it is
// reported. A non-empty target is refused unless --force. The source is left as it was.

import { writeJson } from '../cli/render.js';
import { unsealWithPassword } from '../cli/unseal.js';
import { EtcdClient } from '../etcd/client.js';
import { parseEtcdStore } from '../etcd/layout.js';
import { deleteVaultRecords, readVaultHead, readVaultRecords, storeLabel, vaultPresent, writeVaultRecords } from '../etcd/vault-transfer.js';
import { fail } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { readPrivate } from '../store/secure-file.js';
import { createVaultFiles, loadVault } from '../store/vault-files.js';
import { readMasterKeyText } from '../store/vault-text.js';
import { wipeMap, type VaultPayload } from '../vault/payload.js';
import { sealVault, wipeKeys } from '../vault/vault.js';

/** What `store migrate` was asked. */
export interface MigrateOptions {
  to: string | undefined;
  from: string | undefined;
  force: boolean;
  passwordStdin: boolean;
  json: boolean;
}

/** What a migration moved (and verified). */
export interface MigrateReport {
  from: string;
  to: string;
  vault_id: string;
  secrets: number;
  policy: boolean;
  verified: true;
}

/** Moves the vault and prints what was moved. */
export async function storeMigrateAction(options: MigrateOptions, paths: VaultPaths): Promise<void> {
  if ((options.to === undefined) === (options.from === undefined)) fail('usage', 'say either --to etcd://… (file vault into etcd) or --from etcd://… (etcd into the file vault)', 'see: glassdome store migrate --help');
  const address = parseEtcdStore((options.to ?? options.from)!);
  const label = storeLabel(address.endpoints, address.prefix);
  const client = new EtcdClient(address.endpoints);
  try {
    const report = options.to !== undefined ? await intoEtcd(options, paths, client, address.prefix, label) : await outOfEtcd(options, paths, client, address.prefix, label);
    if (options.json) writeJson(report);
    else process.stderr.write(`glassdome: moved ${report.secrets} secret${report.secrets === 1 ? '' : 's'}${report.policy ? ' and the sealed policy' : ''} from ${report.from} to ${report.to}, read back and verified\n`);
  } finally {
    client.close();
  }
}

async function intoEtcd(options: MigrateOptions, paths: VaultPaths, client: EtcdClient, prefix: string, label: string): Promise<MigrateReport> {
  const masterKeyText = readMasterKeyText(paths);
  if ((await vaultPresent(client, prefix)) && !options.force) fail('exists', `${label} already holds a vault`, 'keep it, or replace it and lose what it holds: add --force');
  const keys = await unsealWithPassword(paths, { stdin: options.passwordStdin, message: 'Master password', masterKeyText });
  let payload: VaultPayload | undefined;
  try {
    payload = loadVault(paths, keys).payload;
    if (options.force) await deleteVaultRecords(client, prefix);
    await writeVaultRecords(client, prefix, keys, masterKeyText, payload);
    const head = await readVaultHead(client, prefix, label);
    if (head.masterKeyText !== masterKeyText || head.meta.vaultId !== keys.vaultId) fail('internal', `the master key read back from ${label} differs from the one written`);
    const back = await readVaultRecords(client, prefix, keys);
    try {
      compare(payload, back, label);
    } finally {
      wipeMap(back.map);
    }
    return { from: paths.home, to: label, vault_id: keys.vaultId, secrets: payload.map.size, policy: payload.policy !== null, verified: true };
  } finally {
    if (payload) wipeMap(payload.map);
    wipeKeys(keys);
  }
}

async function outOfEtcd(options: MigrateOptions, paths: VaultPaths, client: EtcdClient, prefix: string, label: string): Promise<MigrateReport> {
  if (!options.force && (readPrivate(paths.masterKey) || readPrivate(paths.secrets))) fail('exists', `a vault already exists at ${paths.home}`, 'keep it, or replace it (its files are kept aside): add --force');
  const head = await readVaultHead(client, prefix, label);
  const keys = await unsealWithPassword(paths, { stdin: options.passwordStdin, message: 'Master password', masterKeyText: head.masterKeyText });
  let payload: VaultPayload | undefined;
  try {
    if (keys.vaultId !== head.meta.vaultId) fail('corrupt', `${label} holds the master key of another vault than its metadata names`);
    payload = await readVaultRecords(client, prefix, keys);
    await createVaultFiles(paths, { vaultId: keys.vaultId, masterKeyText: head.masterKeyText, secretsText: sealVault(keys, payload), keys }, options.force);
    const back = loadVault(paths, keys).payload;
    try {
      compare(payload, back, paths.home);
    } finally {
      wipeMap(back.map);
    }
    return { from: label, to: paths.home, vault_id: keys.vaultId, secrets: payload.map.size, policy: payload.policy !== null, verified: true };
  } finally {
    if (payload) wipeMap(payload.map);
    wipeKeys(keys);
  }
}

/** Checks that the copy holds exactly the source's secrets (names, bytes, times) and policy. */
function compare(source: VaultPayload, copy: VaultPayload, where: string): void {
  const differ = (why: string): never => fail('internal', `the copy in ${where} differs from the source (${why}); the source is unchanged`);
  if (copy.map.size !== source.map.size) differ(`${copy.map.size} secrets instead of ${source.map.size}`);
  for (const [name, entry] of source.map) {
    const other = copy.map.get(name) ?? differ(`a secret is missing`);
    if (other.created !== entry.created || other.updated !== entry.updated || other.value.length !== entry.value.length || !other.value.every((b, i) => b === entry.value[i])) differ('a secret differs');
  }
  if (copy.policy !== source.policy) differ('the sealed policy');
}
