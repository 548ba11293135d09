// Placeholders in exec's arguments and in templates. `{{glassdome:NAME}}` names one secret;
// `{{glassdome-template:PATH}}` (exec's arguments only) names a template file whose own
// `{{glassdome:NAME}}` references are filled in. In exec's argv each placeholder becomes the
// /dev/fd/N path of the descriptor carrying its bytes. Pure.

import { fail } from '../errors.js';
import { checkName } from '../vault/names.js';

const ARG_PLACEHOLDER = /\{\{glassdome(-template)?:([^}]*)\}\}/g;
const SECRET_REFERENCE = /\{\{glassdome:([^}]*)\}\}/g;

/** One placeholder of exec's argv: a secret by name, or a template by path. */
export interface Placeholder {
  kind: 'secret' | 'template';
  /** The secret name or the template path. */
  ref: string;
  /** `kind:ref`, the key of its descriptor. */
  key: string;
}

/** The distinct placeholders of argv, in order of first use (names checked, paths non-empty). */
export function placeholders(argv: readonly string[]): Placeholder[] {
  const found = new Map<string, Placeholder>();
  for (const arg of argv) {
    for (const [, template, ref] of arg.matchAll(ARG_PLACEHOLDER)) {
      const kind = template ? 'template' : 'secret';
      if (kind === 'secret') checkName(ref);
      else if (ref === '') fail('usage', 'a template placeholder needs a path', 'write it as {{glassdome-template:PATH}}');
      const key = `${kind}:${ref!}`;
      if (!found.has(key)) found.set(key, { kind, ref: ref!, key });
    }
  }
  return [...found.values()];
}

/** argv with every placeholder replaced by the path of its descriptor. */
export function substitute(argv: readonly string[], fdOf: ReadonlyMap<string, number>): string[] {
  return argv.map((arg) => arg.replace(ARG_PLACEHOLDER, (_, template: string | undefined, ref: string) => `/dev/fd/${fdOf.get(`${template ? 'template' : 'secret'}:${ref}`)!}`));
}

/** The distinct secret names a template references, in order of first use. */
export function templateNames(template: Uint8Array): string[] {
  const names: string[] = [];
  for (const [, name] of latin1(template).matchAll(SECRET_REFERENCE)) {
    checkName(name);
    if (!names.includes(name!)) names.push(name!);
  }
  return names;
}

/** The template with each reference replaced by its value's bytes (the caller wipes the result). */
export function renderTemplate(template: Uint8Array, values: ReadonlyMap<string, Uint8Array>): Buffer {
  const text = latin1(template);
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const match of text.matchAll(SECRET_REFERENCE)) {
    parts.push(template.subarray(at, match.index));
    parts.push(values.get(match[1]!)!);
    at = match.index + match[0].length;
  }
  parts.push(template.subarray(at));
  const out = Buffer.alloc(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Bytes as a string of the same length (one char per byte), so regex indices are byte offsets. */
function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}
