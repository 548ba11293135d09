// The agent protocol's messages: the ops, their request fields, their replies, and the checks
// that turn a decoded line into a typed request (docs/PROTOCOL.md). Pure. These are the first
// gates (parse, version, id, op, fields); the agent applies lock state and peer policy after them.

import type { ErrorCode } from '../errors.js';
import { fromBase64 } from '../vault/base64.js';
import { KEY_BYTES } from '../vault/constants.js';
import { isValidName, MAX_VALUE_BYTES } from '../vault/names.js';
import { MAX_POLICY_BYTES } from '../vault/payload.js';
import { Base64Bytes } from './codec.js';
import { MAX_BATCH_ENTRIES, MAX_GET_MANY_NAMES, MAX_ID, PROTOCOL_VERSION } from './limits.js';

/** Every op the agent answers. */
export const OPS = ['hello', 'status', 'unlock', 'lock', 'get', 'list', 'set', 'rm', 'set_many', 'policy_show', 'policy_apply', 'audit_verify', 'rotate', 'get_many'] as const;

/** One of OPS. */
export type Op = (typeof OPS)[number];

/** Ops that need an unlocked agent. */
export const KEYED_OPS: ReadonlySet<Op> = new Set(['get', 'list', 'set', 'rm', 'set_many', 'policy_show', 'policy_apply', 'audit_verify', 'rotate', 'get_many']);

/** The longest lifetime an unlock may ask for, in seconds (30 days). */
export const MAX_LIFETIME_S = 30 * 24 * 3600;

/** The longest vault path a get_many may name (PATH_MAX). */
export const MAX_VAULT_PATH_LENGTH = 4096;

/** The longest master_key.enc text a rotate may carry, in bytes (the file is about 400). */
export const MAX_MASTER_KEY_TEXT_BYTES = 4096;

/** A validated request. Values and keys are already decoded to bytes the handler must wipe. */
export type Request =
  | { id: number; op: 'hello' | 'status' | 'lock' | 'policy_show' | 'audit_verify' }
  | { id: number; op: 'list'; details: boolean }
  | { id: number; op: 'set_many'; entries: Array<{ name: string; value: Uint8Array }> }
  | { id: number; op: 'policy_apply'; text: string }
  | { id: number; op: 'get' | 'rm'; name: string }
  | { id: number; op: 'set'; name: string; value: Uint8Array }
  | { id: number; op: 'unlock'; key: Uint8Array; lifetime: number | undefined; idle?: number | undefined }
  | { id: number; op: 'unlock'; key: null; failed: 'bad_password' }
  | { id: number; op: 'rotate'; oldKey: Uint8Array; key: Uint8Array; masterKey: string; replaces: string }
  /** `names` null: every secret the client may read, sorted, those after `after` (when given); `vault`: the vault the client means. */
  | { id: number; op: 'get_many'; names: string[] | null; after: string | null; vault: string | null };

/** A request that failed a gate: the error to send back, with the id when it had a usable one. */
export interface Rejection {
  id: number | null;
  code: ErrorCode;
  message: string;
}

/** The error object inside a failed reply; `hint` names a fix when there is one. */
export interface WireError {
  code: string;
  message: string;
  hint?: string;
}

/** Builds a success reply. */
export function okReply(id: number, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { v: PROTOCOL_VERSION, id, ok: true, ...fields };
}

/** Builds an error reply. */
export function errorReply(id: number | null, code: string, message: string, hint?: string): Record<string, unknown> {
  const error: WireError = hint ? { code, message, hint } : { code, message };
  return { v: PROTOCOL_VERSION, id, ok: false, error };
}

const FIELDS: Record<Op, readonly string[]> = {
  hello: [],
  status: [],
  lock: [],
  list: ['details'],
  get: ['name'],
  rm: ['name'],
  set: ['name', 'value'],
  set_many: ['entries'],
  unlock: ['key', 'lifetime', 'idle', 'failed'],
  policy_show: [],
  policy_apply: ['text'],
  audit_verify: [],
  rotate: ['old_key', 'key', 'master_key', 'replaces'],
  get_many: ['names', 'after', 'vault'],
};

/** Validates a decoded JSON value as a request, in gate order: shape, id, version, op, fields. */
export function parseRequest(doc: unknown): Request | Rejection {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { id: null, code: 'bad_request', message: 'a request is one JSON object per line' };
  }
  const msg = doc as Record<string, unknown>;
  const id = Number.isSafeInteger(msg.id) && (msg.id as number) >= 0 && (msg.id as number) <= MAX_ID ? (msg.id as number) : null;
  if (msg.v !== PROTOCOL_VERSION) {
    return { id, code: 'unsupported_version', message: `protocol version ${JSON.stringify(msg.v ?? null)} is not supported; this agent speaks v${PROTOCOL_VERSION}` };
  }
  if (id === null) return { id, code: 'bad_request', message: 'id must be an integer from 0 to 2^53-1' };
  const op = msg.op;
  if (typeof op !== 'string' || !(OPS as readonly string[]).includes(op)) {
    return { id, code: 'unknown_op', message: `unknown op ${JSON.stringify(op ?? null).slice(0, 64)}` };
  }
  const allowed = FIELDS[op as Op];
  for (const key of Object.keys(msg)) {
    if (key !== 'v' && key !== 'id' && key !== 'op' && !allowed.includes(key)) {
      return { id, code: 'bad_request', message: `unexpected field ${JSON.stringify(key).slice(0, 64)} for op ${op}` };
    }
  }
  switch (op as Op) {
    case 'hello':
    case 'status':
    case 'lock':
      return { id, op: op as 'hello' | 'status' | 'lock' };
    case 'list':
      if (msg.details !== undefined && typeof msg.details !== 'boolean') return { id, code: 'bad_request', message: 'details must be true or false' };
      return { id, op: 'list', details: msg.details === true };
    case 'set_many':
      return parseSetMany(id, msg.entries);
    case 'get_many':
      return parseGetMany(id, msg.names, msg.after, msg.vault);
    case 'policy_show':
    case 'audit_verify':
      return { id, op: op as 'policy_show' | 'audit_verify' };
    case 'policy_apply':
      if (typeof msg.text !== 'string') return { id, code: 'bad_request', message: 'text must be the policy as a string' };
      if (new TextEncoder().encode(msg.text).length > MAX_POLICY_BYTES) return { id, code: 'too_large', message: `the policy is over the limit of ${MAX_POLICY_BYTES} bytes` };
      return { id, op: 'policy_apply', text: msg.text };
    case 'get':
    case 'rm':
      if (!isValidName(msg.name)) return { id, code: 'invalid_name', message: 'name is missing or not an allowed secret name' };
      return { id, op: op as 'get' | 'rm', name: msg.name };
    case 'set': {
      const entry = parseEntry(id, msg.name, msg.value);
      return 'code' in entry ? entry : { id, op: 'set', ...entry };
    }
    case 'unlock': {
      if (msg.failed !== undefined) {
        // A client reporting a password that did not open master_key.enc: counted and audited.
        if (msg.failed !== 'bad_password' || msg.key !== undefined || msg.lifetime !== undefined || msg.idle !== undefined) {
          return { id, code: 'bad_request', message: 'failed must be "bad_password", without key or lifetime' };
        }
        return { id, op: 'unlock', key: null, failed: 'bad_password' };
      }
      const keyText = base64Text(msg.key);
      const key = keyText === null ? null : fromBase64(keyText);
      if (!key || key.length !== KEY_BYTES) {
        key?.fill(0);
        return { id, code: 'bad_request', message: `key must be base64 of ${KEY_BYTES} bytes` };
      }
      const lifetime = msg.lifetime;
      if (lifetime !== undefined && !(Number.isSafeInteger(lifetime) && (lifetime as number) > 0 && (lifetime as number) <= MAX_LIFETIME_S)) {
        key.fill(0);
        return { id, code: 'bad_request', message: `lifetime must be whole seconds from 1 to ${MAX_LIFETIME_S}` };
      }
      const idle = msg.idle;
      if (idle !== undefined && !(Number.isSafeInteger(idle) && (idle as number) > 0 && (idle as number) <= MAX_LIFETIME_S)) {
        key.fill(0);
        return { id, code: 'bad_request', message: `idle must be whole seconds from 1 to ${MAX_LIFETIME_S}` };
      }
      return { id, op: 'unlock', key, lifetime: lifetime as number | undefined, idle: idle as number | undefined };
    }
    case 'rotate': {
      if (typeof msg.master_key !== 'string' || msg.master_key.length > MAX_MASTER_KEY_TEXT_BYTES) {
        return { id, code: 'bad_request', message: `master_key must be the text of master_key.enc, at most ${MAX_MASTER_KEY_TEXT_BYTES} bytes` };
      }
      if (typeof msg.replaces !== 'string' || !/^[0-9a-f]{64}$/.test(msg.replaces)) {
        return { id, code: 'bad_request', message: 'replaces must be the checksum (64 lowercase hex digits) of the master_key.enc the old key came from' };
      }
      const oldKeyText = base64Text(msg.old_key);
      const keyText = base64Text(msg.key);
      const oldKey = oldKeyText === null ? null : fromBase64(oldKeyText);
      const key = keyText === null ? null : fromBase64(keyText);
      if (!oldKey || oldKey.length !== KEY_BYTES || !key || key.length !== KEY_BYTES) {
        oldKey?.fill(0);
        key?.fill(0);
        return { id, code: 'bad_request', message: `old_key and key must be base64 of ${KEY_BYTES} bytes` };
      }
      return { id, op: 'rotate', oldKey, key, masterKey: msg.master_key, replaces: msg.replaces };
    }
  }
}

/** One name and base64 value (of set, or of one entry of set_many), decoded. */
function parseEntry(id: number, name: unknown, value: unknown): { name: string; value: Uint8Array } | Rejection {
  if (!isValidName(name)) return { id, code: 'invalid_name', message: 'name is missing or not an allowed secret name' };
  const text = base64Text(value);
  if (text === null) return { id, code: 'bad_request', message: 'value must be a base64 string' };
  if (text.length > Math.ceil(MAX_VALUE_BYTES / 3) * 4) {
    return { id, code: 'too_large', message: `value is over the limit of ${MAX_VALUE_BYTES} bytes (1 MiB)` };
  }
  const bytes = fromBase64(text);
  if (!bytes) return { id, code: 'bad_request', message: 'value must be canonical base64' };
  if (bytes.length > MAX_VALUE_BYTES) {
    bytes.fill(0);
    return { id, code: 'too_large', message: `value is over the limit of ${MAX_VALUE_BYTES} bytes (1 MiB)` };
  }
  return { name, value: bytes };
}

/** set_many: a non-empty array of {name, value}, at most MAX_BATCH_ENTRIES, no name twice. */
function parseSetMany(id: number, raw: unknown): Request | Rejection {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_BATCH_ENTRIES) {
    return { id, code: 'bad_request', message: `entries must be an array of 1 to ${MAX_BATCH_ENTRIES} {name, value} objects` };
  }
  const entries: Array<{ name: string; value: Uint8Array }> = [];
  const reject = (r: Rejection): Rejection => {
    for (const e of entries) e.value.fill(0);
    return r;
  };
  for (const item of raw) {
    if (typeof item !== 'object' || item === null || Object.keys(item).some((k) => k !== 'name' && k !== 'value')) {
      return reject({ id, code: 'bad_request', message: 'each entry is an object with exactly name and value' });
    }
    const entry = parseEntry(id, (item as Record<string, unknown>).name, (item as Record<string, unknown>).value);
    if ('code' in entry) return reject(entry);
    if (entries.some((e) => e.name === entry.name)) {
      entry.value.fill(0);
      return reject({ id, code: 'bad_request', message: `${JSON.stringify(entry.name)} appears twice in entries` });
    }
    entries.push(entry);
  }
  return { id, op: 'set_many', entries };
}

/** get_many: 1 to MAX_GET_MANY_NAMES names, no name twice; or no names, and optionally `after` (a name); optionally `vault` (a path). */
function parseGetMany(id: number, names: unknown, after: unknown, vault: unknown): Request | Rejection {
  if (vault !== undefined && (typeof vault !== 'string' || !vault.startsWith('/') || vault.length > MAX_VAULT_PATH_LENGTH)) {
    return { id, code: 'bad_request', message: `vault must be an absolute path of at most ${MAX_VAULT_PATH_LENGTH} characters` };
  }
  const home = (vault as string | undefined) ?? null;
  if (names !== undefined) {
    if (after !== undefined) return { id, code: 'bad_request', message: 'after goes only with a get_many without names' };
    if (!Array.isArray(names) || names.length === 0 || names.length > MAX_GET_MANY_NAMES) {
      return { id, code: 'bad_request', message: `names must be an array of 1 to ${MAX_GET_MANY_NAMES} secret names` };
    }
    if (!names.every(isValidName)) return { id, code: 'invalid_name', message: 'names holds a name that is not an allowed secret name' };
    if (new Set(names).size !== names.length) return { id, code: 'bad_request', message: 'names holds a name twice' };
    return { id, op: 'get_many', names: names as string[], after: null, vault: home };
  }
  if (after !== undefined && !isValidName(after)) return { id, code: 'invalid_name', message: 'after is not an allowed secret name' };
  return { id, op: 'get_many', names: null, after: (after as string | undefined) ?? null, vault: home };
}

/** A key or value field as base64: bytes cut out of the line (see decodeRequestLine), or a string. */
function base64Text(field: unknown): string | Uint8Array | null {
  if (field instanceof Base64Bytes) return field.ascii;
  return typeof field === 'string' ? field : null;
}

/** Wipes the base64 bytes of a decoded request's key and value fields, once parsed. */
export function wipeSecretFields(doc: unknown): void {
  if (typeof doc !== 'object' || doc === null) return;
  for (const v of Object.values(doc)) if (v instanceof Base64Bytes) v.ascii.fill(0);
}

/** True when a parse result is a rejection. */
export function isRejection(r: Request | Rejection): r is Rejection {
  return 'code' in r;
}
