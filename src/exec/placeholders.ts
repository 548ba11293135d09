// `{{glassdome:NAME}}` in exec's arguments: finding the names, and replacing each with the
// /dev/fd/N path of the descriptor that carries that one value. Pure.

import { checkName } from '../vault/names.js';

const PLACEHOLDER = /\{\{glassdome:([^}]*)\}\}/g;

/** The distinct secret names referenced by placeholders, in order of first use. */
export function placeholderNames(argv: readonly string[]): string[] {
  const names: string[] = [];
  for (const arg of argv) {
    for (const [, name] of arg.matchAll(PLACEHOLDER)) {
      checkName(name);
      if (!names.includes(name!)) names.push(name!);
    }
  }
  return names;
}

/** argv with every placeholder replaced by the path of its descriptor. */
export function substitute(argv: readonly string[], fdOf: ReadonlyMap<string, number>): string[] {
  return argv.map((arg) => arg.replace(PLACEHOLDER, (_, name: string) => `/dev/fd/${fdOf.get(name)!}`));
}
