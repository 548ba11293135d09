// The plaintext inside secrets.encrypted: the whole map of names, values and timestamps in one
// canonical binary encoding (docs/VAULT-FORMAT.md §payload). Binary rather than JSON so values
// never pass through JS strings and each one can be wiped. Pure.

import { fail } from '../errors.js';
import { secretBuffer, secretCopy } from './bytes.js';
import { isValidName, MAX_SECRETS, MAX_VALUE_BYTES } from './names.js';

/** One secret: its value and when it was created and last changed (ms since the epoch). */
export interface SecretEntry {
  value: Uint8Array;
  created: number;
  updated: number;
}

/** The decrypted vault: secret name to entry. */
export type SecretMap = Map<string, SecretEntry>;

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

/** Decodes a payload, rejecting anything but the canonical encoding with `corrupt`. */
export function decodePayload(bytes: Uint8Array): SecretMap {
  const bad = (why: string): never => fail('corrupt', `vault payload is malformed (${why})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) bad('truncated');
  const count = view.getUint32(0, true);
  if (count > MAX_SECRETS) bad('too many entries');
  const map: SecretMap = new Map();
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
    map.set(name, { value: secretCopy(bytes.subarray(o, o + length)), created, updated });
    o += length;
    previous = name;
  }
  if (o !== bytes.length) bad('trailing bytes');
  return map;
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
