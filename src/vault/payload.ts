// The plaintext inside secrets.encrypted: the whole map of names, values and timestamps in one
// canonical binary encoding (docs/VAULT-FORMAT.md §payload), and since format version 2 the
// policy sealed by `policy apply` and the audit log's anchor after it. Binary rather than JSON so
// values never pass through JS strings and each one can be wiped. Pure.

import { fail } from '../errors.js';
import { secretBuffer } from './bytes.js';
import { isValidName, MAX_SECRETS, MAX_VALUE_BYTES } from './names.js';

/** One secret: its value and when it was created and last changed (ms since the epoch). */
export interface SecretEntry {
  value: Uint8Array;
  created: number;
  updated: number;
}

/** The decrypted vault: secret name to entry. */
export type SecretMap = Map<string, SecretEntry>;

/** The audit log's head as last sealed: how many lines the chain had, and the SHA-256 of the last. */
export interface AuditAnchor {
  lines: number;
  hash: Uint8Array;
}

/** Everything secrets.encrypted holds: the secrets, the sealed policy text, the audit anchor. */
export interface VaultPayload {
  map: SecretMap;
  policy: string | null;
  anchor: AuditAnchor | null;
}

/** The largest policy text that can be sealed, in bytes. */
export const MAX_POLICY_BYTES = 64 * 1024;
/** Bytes in an anchor's hash (SHA-256). */
export const ANCHOR_HASH_BYTES = 32;

const ENTRY_FIXED = 1 + 8 + 8 + 4;

/** Encodes a map canonically: entries sorted by name, each length-prefixed. */
export function encodePayload(map: SecretMap): Uint8Array {
  const names = [...map.keys()].sort(compareNames);
  let size = 4;
  for (const name of names) size += ENTRY_FIXED + name.length + map.get(name)!.value.length;
  const out = secretBuffer(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, names.length, true);
  let o = 4;
  for (const name of names) {
    const entry = map.get(name)!;
    out[o++] = name.length;
    for (let i = 0; i < name.length; i++) out[o++] = name.charCodeAt(i);
    view.setBigUint64(o, BigInt(entry.created), true);
    view.setBigUint64(o + 8, BigInt(entry.updated), true);
    view.setUint32(o + 16, entry.value.length, true);
    o += 20;
    out.set(entry.value, o);
    o += entry.value.length;
  }
  return out;
}

/** Decodes a version 1 payload (the map alone), rejecting anything but the canonical encoding with `corrupt`. */
export function decodePayload(bytes: Uint8Array): SecretMap {
  const { map, end } = decodeMap(bytes);
  if (end !== bytes.length) bad('trailing bytes');
  return map;
}

/** Encodes a version 2 payload: the map, then the sealed policy and the audit anchor. */
export function encodeVaultPayload(payload: VaultPayload): Uint8Array {
  const map = encodePayload(payload.map);
  const policy = payload.policy === null ? null : new TextEncoder().encode(payload.policy);
  if (policy && policy.length > MAX_POLICY_BYTES) fail('too_large', `the policy is over the limit of ${MAX_POLICY_BYTES} bytes`);
  const size = map.length + 1 + (policy ? 4 + policy.length : 0) + 1 + (payload.anchor ? 8 + ANCHOR_HASH_BYTES : 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(map, 0);
  map.fill(0);
  let o = map.length;
  out[o++] = policy ? 1 : 0;
  if (policy) {
    view.setUint32(o, policy.length, true);
    out.set(policy, o + 4);
    o += 4 + policy.length;
  }
  out[o++] = payload.anchor ? 1 : 0;
  if (payload.anchor) {
    if (payload.anchor.hash.length !== ANCHOR_HASH_BYTES || !Number.isSafeInteger(payload.anchor.lines) || payload.anchor.lines < 0) throw new Error('malformed audit anchor');
    view.setBigUint64(o, BigInt(payload.anchor.lines), true);
    out.set(payload.anchor.hash, o + 8);
  }
  return out;
}

/** Decodes the payload of a secrets.encrypted of `version` (1: the map alone; 2: map, policy, anchor). */
export function decodeVaultPayload(bytes: Uint8Array, version: number): VaultPayload {
  if (version === 1) return { map: decodePayload(bytes), policy: null, anchor: null };
  const { map, end } = decodeMap(bytes);
  try {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let o = end;
    const flag = (): boolean => {
      if (o + 1 > bytes.length) bad('truncated');
      const f = bytes[o++]!;
      if (f > 1) bad('bad section flag');
      return f === 1;
    };
    let policy: string | null = null;
    if (flag()) {
      if (o + 4 > bytes.length) bad('truncated');
      const length = view.getUint32(o, true);
      o += 4;
      if (length > MAX_POLICY_BYTES) bad('policy too large');
      if (o + length > bytes.length) bad('truncated');
      try {
        policy = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true } as { fatal: boolean }).decode(bytes.subarray(o, o + length));
      } catch {
        bad('policy is not UTF-8');
      }
      o += length;
    }
    let anchor: AuditAnchor | null = null;
    if (flag()) {
      if (o + 8 + ANCHOR_HASH_BYTES > bytes.length) bad('truncated');
      const lines = safeInteger(view.getBigUint64(o, true)) ?? bad('anchor out of range');
      anchor = { lines, hash: bytes.slice(o + 8, o + 8 + ANCHOR_HASH_BYTES) };
      o += 8 + ANCHOR_HASH_BYTES;
    }
    if (o !== bytes.length) bad('trailing bytes');
    return { map, policy, anchor };
  } catch (err) {
    wipeMap(map);
    throw err;
  }
}

function bad(why: string): never {
  return fail('corrupt', `vault payload is malformed (${why})`);
}

/**
 * Decodes the map at the start of a payload; returns it and where it ends. Every value is a view
 * into one buffer that never moves (one allocation, not one per secret: with 10,000 secrets the
 * agent's resident memory after an unlock is what this saves); wiping every value wipes it all.
 */
function decodeMap(bytes: Uint8Array): { map: SecretMap; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) bad('truncated');
  const count = view.getUint32(0, true);
  if (count > MAX_SECRETS) bad('too many entries');
  const names: string[] = [];
  const times: number[] = [];
  const spans: number[] = [];
  let valueBytes = 0;
  let o = 4;
  let previous = '';
  for (let n = 0; n < count; n++) {
    if (o + 1 > bytes.length) bad('truncated');
    const nameLength = bytes[o++]!;
    if (o + nameLength + 20 > bytes.length) bad('truncated');
    const name = String.fromCharCode(...bytes.subarray(o, o + nameLength));
    o += nameLength;
    if (!isValidName(name)) bad('invalid name');
    if (n > 0 && compareNames(previous, name) >= 0) bad('names out of order');
    const created = safeInteger(view.getBigUint64(o, true)) ?? bad('timestamp out of range');
    const updated = safeInteger(view.getBigUint64(o + 8, true)) ?? bad('timestamp out of range');
    const length = view.getUint32(o + 16, true);
    o += 20;
    if (length > MAX_VALUE_BYTES) bad('value too large');
    if (o + length > bytes.length) bad('truncated');
    names.push(name);
    times.push(created, updated);
    spans.push(o, length);
    valueBytes += length;
    o += length;
    previous = name;
  }
  const values = secretBuffer(valueBytes);
  const map: SecretMap = new Map();
  let at = 0;
  for (let n = 0; n < names.length; n++) {
    const start = spans[2 * n]!;
    const length = spans[2 * n + 1]!;
    values.set(bytes.subarray(start, start + length), at);
    map.set(names[n]!, { value: values.subarray(at, at + length), created: times[2 * n]!, updated: times[2 * n + 1]! });
    at += length;
  }
  return { map, end: o };
}

/** Zeroes every value of a map. */
export function wipeMap(map: SecretMap): void {
  for (const entry of map.values()) entry.value.fill(0);
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function safeInteger(v: bigint): number | null {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null;
}
