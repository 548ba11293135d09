// The one interface every face of the vault offers: the agent client over the socket, the
// in-process store over the files, and the policy and audit layers that wrap either. Pure.

import { fail } from '../errors.js';
import { checkName, checkValueSize } from './names.js';
import type { SecretMap } from './payload.js';

/** Read and write access to one unlocked vault's secrets. Values are bytes the caller wipes. */
export interface SecretStore {
  /** The value of a secret; `not_found` when there is none. */
  get(name: string): Promise<Uint8Array>;
  /** The value at once, where the store holds it in memory (the agent's vault); `get` otherwise. */
  getNow?(name: string): Uint8Array;
  /**
   * The values of several secrets, in as few requests as the store needs (the agent's get_many);
   * without `names`, of every secret the caller may read, by name in sorted order. Optional:
   * callers fall back to list and get. A failure is the first failing name's own `get` error.
   * `onWait` is told when the store waits (ms) for a rate limit before it can read the rest.
   */
  getMany?(names?: readonly string[], onWait?: (ms: number) => void): Promise<Map<string, Uint8Array>>;
  /** Every secret name, sorted. */
  list(): Promise<string[]>;
  /** Creates or replaces a secret. */
  set(name: string, value: Uint8Array): Promise<void>;
  /** Deletes a secret; `not_found` when there is none. */
  rm(name: string): Promise<void>;
  /** Every secret's name and times, sorted by name. */
  infos(): Promise<SecretInfo[]>;
  /** Creates or replaces several secrets in one vault write: all of them, or none on error. */
  setMany(entries: readonly NewSecret[]): Promise<void>;
}

/**
 * The values of `names` (every secret the caller may read when omitted): the store's getMany where
 * it has one, else one get each, all asked at once. The first failing name, in order, is the error,
 * and no value is kept then. The caller wipes the values.
 */
export async function readValues(store: SecretStore, names?: readonly string[], onWait?: (ms: number) => void): Promise<Map<string, Uint8Array>> {
  return store.getMany ? store.getMany(names, onWait) : getEach(store, names);
}

/** readValues by one get a name (all asked at once), whatever the store offers besides. */
export async function getEach(store: SecretStore, names?: readonly string[]): Promise<Map<string, Uint8Array>> {
  const list = names ? [...new Set(names)] : await store.list();
  const settled = await Promise.allSettled(list.map((name) => store.get(name)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    for (const s of settled) if (s.status === 'fulfilled') s.value.fill(0);
    throw failed.reason;
  }
  return new Map(list.map((name, i) => [name, (settled[i] as PromiseFulfilledResult<Uint8Array>).value]));
}

/** A secret's name and when it was created and last changed (ms since the epoch). */
export interface SecretInfo {
  name: string;
  created: number;
  updated: number;
}

/** A value to store under a name. */
export interface NewSecret {
  name: string;
  value: Uint8Array;
}

/** The name and times of every entry of a map, sorted by name. */
export function secretInfos(map: SecretMap): SecretInfo[] {
  return sortedNames(map).map((name) => ({ name, created: map.get(name)!.created, updated: map.get(name)!.updated }));
}

/** Checks a batch (names, sizes, no name twice) before anything is written. */
export function checkBatch(entries: readonly NewSecret[]): void {
  const seen = new Set<string>();
  for (const { name, value } of entries) {
    checkName(name);
    checkValueSize(value.length);
    if (seen.has(name)) fail('usage', `${JSON.stringify(name)} appears twice in one batch`);
    seen.add(name);
  }
}

/** Puts a value into a map (the map takes ownership of `value`). */
export function putSecret(map: SecretMap, name: string, value: Uint8Array, now: number): void {
  checkName(name);
  checkValueSize(value.length);
  const existing = map.get(name);
  if (existing) existing.value.fill(0);
  map.set(name, { value, created: existing?.created ?? now, updated: now });
}

/** Deletes a secret from a map, wiping its value; `not_found` when absent. */
export function removeSecret(map: SecretMap, name: string): void {
  const existing = map.get(name) ?? notFound(name);
  existing.value.fill(0);
  map.delete(name);
}

/** Throws the `not_found` error for a secret name. */
export function notFound(name: string): never {
  return fail('not_found', `no secret named ${JSON.stringify(name)}`, 'see the names with: glassdome list');
}

/** The sorted names of a map. */
export function sortedNames(map: SecretMap): string[] {
  return [...map.keys()].sort();
}
