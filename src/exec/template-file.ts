// Reading a template (exec's {{glassdome-template:PATH}}, inject's -i) and filling in its secrets
// from the unlocked vault. A template holds references, never values, so it may live anywhere.

import fs from 'node:fs';
import { fail } from '../errors.js';
import { readValues, type SecretStore } from '../vault/store.js';
import { MAX_VALUE_BYTES } from '../vault/names.js';
import { renderTemplate, templateNames } from './placeholders.js';

/** The largest template exec or inject reads, in bytes. */
export const MAX_TEMPLATE_BYTES = MAX_VALUE_BYTES;

/** The bytes of a template file (at most MAX_TEMPLATE_BYTES); `not_found` (exit 3) when absent. */
export function readTemplate(file: string): Buffer {
  try {
    if (fs.statSync(file).size > MAX_TEMPLATE_BYTES) fail('too_large', `template ${file} is over ${MAX_TEMPLATE_BYTES} bytes`);
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!code) throw err;
    return fail(code === 'ENOENT' ? 'not_found' : 'io', `cannot read template ${file}: ${code === 'ENOENT' ? 'no such file' : code}`, 'give the path of a template file');
  }
}

/** The template rendered with values from `store` (a missing name: `not_found`); the caller wipes it. */
export async function renderFromStore(template: Uint8Array, store: SecretStore): Promise<Buffer> {
  const names = templateNames(template);
  const values = names.length > 0 ? await readValues(store, names) : new Map<string, Uint8Array>();
  try {
    return renderTemplate(template, values);
  } finally {
    for (const v of values.values()) v.fill(0);
  }
}
