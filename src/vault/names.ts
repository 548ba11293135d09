// What a secret may be called and how big it may be (DESIGN.md, command contract). Pure.

import { fail } from '../errors.js';

/** The pattern every secret name matches. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,127}$/;

/** The largest value a secret may hold, in bytes (1 MiB). */
export const MAX_VALUE_BYTES = 1024 * 1024;

/** The most secrets one vault holds. */
export const MAX_SECRETS = 100_000;

/** True when `name` is an allowed secret name. */
export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && NAME_PATTERN.test(name);
}

/** Throws `invalid_name` unless `name` is an allowed secret name. */
export function checkName(name: unknown): string {
  if (isValidName(name)) return name;
  const shown = typeof name === 'string' ? JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name) : 'a non-string';
  return fail(
    'invalid_name',
    `${shown} is not an allowed secret name`,
    'names start with a letter or digit, then up to 127 of A-Z a-z 0-9 _ . - /',
  );
}

/** Throws `too_large` when a value exceeds MAX_VALUE_BYTES. */
export function checkValueSize(length: number): void {
  if (length > MAX_VALUE_BYTES) {
    fail('too_large', `value is ${length} bytes, over the limit of ${MAX_VALUE_BYTES} (1 MiB)`);
  }
}
