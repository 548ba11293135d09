// Where glassdome keeps things in etcd (docs/ETCD.md): the `--store etcd://…` address, and the
// key layout under its prefix, shared by the vault backend and the token, revocation and audit
// stores. Pure: no I/O.

import { fail } from '../errors.js';

/** The prefix every key lives under when `--store etcd://HOST:PORT` names none. */
export const DEFAULT_PREFIX = '/glassdome';
/** The URL scheme of an etcd store. */
export const STORE_SCHEME = 'etcd://';

/** The vault: metadata, the sealed master key, the sealed policy, and one sealed record per secret. */
export const VAULT = 'vault';
/** Under VAULT: the vault's metadata record (format version, vault id). */
export const VAULT_META = 'meta';
/** Under VAULT: the text of master_key.enc. */
export const VAULT_MASTER_KEY = 'master_key';
/** Under VAULT: the sealed policy. */
export const VAULT_POLICY = 'policy';
/** Under VAULT: one sealed record per secret, `vault/secrets/<keyed hash of the name>`. */
export const VAULT_SECRETS = 'secrets';
/** Tokens, `tokens/<accessor>`. */
export const TOKENS = 'tokens';
/** Revoked certificate serials, `revoked/serials/<hex>`. */
export const REVOKED_SERIALS = 'revoked/serials';
/** Revoked tokens, `revoked/tokens/<accessor>`. */
export const REVOKED_TOKENS = 'revoked/tokens';
/** Audit chain anchors, `audit/<replica-id>/head`. */
export const AUDIT = 'audit';
/** Under AUDIT/<replica-id>: the chain head. */
export const AUDIT_HEAD = 'head';
/** Under a watched prefix: the key every write under it also puts, so a view can tell it has seen them all (src/etcd/view.ts). */
export const CLOCK = '.clock';

/** A parsed `--store etcd://HOST:PORT[,HOST:PORT...][/PREFIX]`. */
export interface EtcdStoreAddress {
  /** `http://HOST:PORT` of each member, in the order given. */
  endpoints: string[];
  /** The key prefix, with a leading and no trailing slash (`/glassdome`). */
  prefix: string;
}

const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
const PREFIX_SEGMENT = /^[A-Za-z0-9_.-]+$/;

/** True when a `--store` value names an etcd store. */
export function isEtcdStore(store: string): boolean {
  return store.startsWith(STORE_SCHEME);
}

/** Parses `etcd://HOST:PORT[,HOST:PORT...][/PREFIX]`; `usage` when it is malformed. */
export function parseEtcdStore(text: string): EtcdStoreAddress {
  const bad = (why: string): never => fail('usage', `--store ${JSON.stringify(text)}: ${why}`, 'like etcd://127.0.0.1:2379,127.0.0.2:2379/glassdome');
  if (!isEtcdStore(text)) bad(`not an ${STORE_SCHEME} address`);
  const rest = text.slice(STORE_SCHEME.length);
  const slash = rest.indexOf('/');
  const hosts = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
  const endpoints = hosts.split(',').map((h) => {
    const m = HOST_PORT.exec(h);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) bad(`${JSON.stringify(h)} is not HOST:PORT`);
    return `http://${h}`;
  });
  if (path !== '' && !path.split('/').every((s) => PREFIX_SEGMENT.test(s))) bad('the prefix may hold only letters, digits, _ . - and /');
  return { endpoints, prefix: path === '' ? DEFAULT_PREFIX : `/${path}` };
}

/** The key `PREFIX/part/part/…` as bytes: the first part is the store's prefix, the rest are joined under it with `/`. */
export function etcdKey(...parts: string[]): Uint8Array {
  return new TextEncoder().encode(parts.join('/'));
}

/** The smallest key greater than every key that starts with `key` (etcd's range_end for a prefix); `\0` for the empty key (all keys). */
export function prefixEnd(key: Uint8Array): Uint8Array {
  const end = Uint8Array.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return new Uint8Array([0]);
}
