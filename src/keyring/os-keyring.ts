// The OS keyring item that holds a vault's master key while a fallback session is open: service
// `glassdome`, account `master_key:<vault_id>` (stored by the library as the Secret Service
// attributes `service` and `username`), through @napi-rs/keyring pinned to the Secret
// Service on Linux (unpinned, it silently falls back to the kernel keyring, which loses keys at
// reboot). Every failure becomes `keyring_unavailable` naming its cause. The library answers null
// both for "no item" and for "collection locked", so `probe` tells the two apart by writing.

import { GlassdomeError } from '../errors.js';
import { openAddon, packageDir, packageVersion } from '../os/prebuilt.js';

type KeyringModule = typeof import('@napi-rs/keyring');
type EntryOptions = import('@napi-rs/keyring').EntryOptions;

/** The keyring service name of every glassdome item. */
export const KEYRING_SERVICE = 'glassdome';

const OPTIONS: EntryOptions = process.platform === 'linux' ? { linux: { store: 'secret-service' } } : {};

let keyring: KeyringModule | undefined;

function load(): KeyringModule {
  keyring ??= loadPrebuilt() ?? (require('@napi-rs/keyring') as KeyringModule);
  return keyring;
}

/**
 * The glibc build of @napi-rs/keyring opened directly, when its version is the package's own
 * (src/os/prebuilt.ts: the package's loader costs 6-13 ms); undefined anywhere else.
 */
function loadPrebuilt(): KeyringModule | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const dir = packageDir(`@napi-rs/keyring-linux-${process.arch}-gnu`);
    if (packageVersion(dir) !== packageVersion(packageDir('@napi-rs/keyring'))) return undefined;
    return openAddon<KeyringModule>(dir, `keyring.linux-${process.arch}-gnu.node`);
  } catch {
    return undefined;
  }
}

/** The keyring account of a vault's master key. */
export function accountFor(vaultId: string): string {
  return `master_key:${vaultId}`;
}

function entry(account: string): InstanceType<KeyringModule['Entry']> {
  try {
    return new (load().Entry)(KEYRING_SERVICE, account, OPTIONS);
  } catch (err) {
    throw unavailable(err);
  }
}

/** Stores a master key (the keyring keeps a copy; the caller wipes its own). */
export function storeMasterKey(vaultId: string, key: Uint8Array): void {
  try {
    entry(accountFor(vaultId)).setSecret(key);
  } catch (err) {
    throw unavailable(err);
  }
}

/** The stored master key, or null when the keyring shows none (which may mean it is locked). */
export function loadMasterKey(vaultId: string): Uint8Array | null {
  let secret: number[] | null;
  try {
    secret = entry(accountFor(vaultId)).getSecret();
  } catch (err) {
    throw unavailable(err);
  }
  if (!secret) return null;
  const key = Uint8Array.from(secret);
  secret.fill(0);
  return key;
}

/** A master key asked of the keyring ahead of need (`prefetchMasterKey`), for one vault. */
export interface PrefetchedKey {
  vaultId: string;
  key: Uint8Array | null;
}

/**
 * Starts reading a vault's master key on a worker thread, so that the D-Bus round trips to the
 * Secret Service overlap the loading of the fallback's code. Resolves undefined on any failure:
 * the synchronous read then runs, and reports it.
 */
export function prefetchMasterKey(vaultId: string): Promise<PrefetchedKey | undefined> {
  return (async () => {
    try {
      const secret = await new (load().AsyncEntry)(KEYRING_SERVICE, accountFor(vaultId), OPTIONS).getSecret();
      if (!secret) return { vaultId, key: null };
      const key = Uint8Array.from(secret);
      secret.fill(0);
      return { vaultId, key };
    } catch {
      return undefined;
    }
  })();
}

/** Deletes a vault's item; true when there was one. */
export function deleteMasterKey(vaultId: string): boolean {
  try {
    return entry(accountFor(vaultId)).deleteCredential();
  } catch (err) {
    throw unavailable(err);
  }
}

/**
 * Whether the keyring can store items now: writes and deletes a probe item. Throws
 * `keyring_unavailable` with the cause (no D-Bus, no Secret Service, a locked collection whose
 * unlock prompt was dismissed) when it cannot.
 */
export function probe(): void {
  const item = entry('probe');
  try {
    item.setSecret(new Uint8Array([1]));
    item.deleteCredential();
  } catch (err) {
    throw unavailable(err);
  }
}

/** Checks the keyring can be reached at all (a D-Bus session with a Secret Service). */
export function reachable(): void {
  entry('probe');
}

function unavailable(err: unknown): GlassdomeError {
  if (err instanceof GlassdomeError) return err;
  const raw = err instanceof Error ? err.message : String(err);
  let cause = raw.split('\n')[0]!.replace(/^Platform failure: /, '').toLowerCase();
  if (/DBUS_SESSION_BUS_ADDRESS|autolaunch|dbus-daemon|Failed to connect to socket|No such file/i.test(raw)) cause = 'no D-Bus session bus';
  else if (/ServiceUnknown|was not provided by any .service files|org\.freedesktop\.secrets/i.test(raw)) cause = 'no Secret Service on the session bus';
  else if (/prompt was dismissed|locked/i.test(raw)) cause = 'the keyring collection is locked and its unlock prompt was dismissed';
  return new GlassdomeError('keyring_unavailable', `the OS keyring is unavailable: ${cause}`);
}
