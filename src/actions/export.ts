// `glassdome export --stdout`: every secret (or the named ones) on stdout, as one JSON object
// {name: value} or as .env lines. Only with the explicit flag: a bare `export` refuses, so no
// script dumps a vault by accident. Values that are not UTF-8 appear as {"base64": "..."} in
// JSON and are refused in .env, as are multi-line values; .env values are single-quoted for sh.

import { openStore } from '../cli/session.js';
import { fail } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { checkName } from '../vault/names.js';
import { readValues } from '../vault/store.js';

/** The formats export writes. */
export const EXPORT_FORMATS = ['json', 'env'] as const;

/** What `export` was asked. */
export interface ExportOptions {
  stdout: boolean;
  format: (typeof EXPORT_FORMATS)[number];
  names: string[];
}

/** Writes the secrets to stdout. */
export async function exportAction(options: ExportOptions, paths: VaultPaths): Promise<void> {
  if (!options.stdout) fail('usage', 'export prints every secret in the clear, so it needs --stdout', 'glassdome export --stdout > file (and mind where file goes)');
  const names = options.names.map(checkName);
  const session = await openStore(paths);
  let values: Map<string, Uint8Array>;
  try {
    values = await readValues(session.store, names.length > 0 ? names : undefined);
  } finally {
    session.close();
  }
  try {
    const out = options.format === 'json' ? asJson(values) : asEnv(values);
    process.stdout.write(out);
  } finally {
    for (const v of values.values()) v.fill(0);
  }
}

function text(value: Uint8Array): string | null {
  const s = Buffer.from(value).toString('utf8');
  return Buffer.from(s, 'utf8').equals(value) ? s : null;
}

function asJson(values: Map<string, Uint8Array>): string {
  const doc: Record<string, string | { base64: string }> = {};
  for (const [name, value] of values) doc[name] = text(value) ?? { base64: Buffer.from(value).toString('base64') };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function asEnv(values: Map<string, Uint8Array>): string {
  const lines: string[] = [];
  for (const [name, value] of values) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) fail('usage', `${JSON.stringify(name)} is not an environment variable name`, 'use --format json, or name the secrets to export');
    const s = text(value);
    if (s === null) fail('not_text', `${JSON.stringify(name)} is not UTF-8 text`, 'use --format json (binary values appear as base64)');
    if (s.includes('\n')) fail('usage', `${JSON.stringify(name)} spans several lines, which .env lines cannot carry`, 'use --format json');
    lines.push(`${name}='${s.replace(/'/g, `'\\''`)}'`);
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
