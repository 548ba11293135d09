// Readers for what `glassdome import` takes: a .env file, a Bitwarden JSON export, a `pass` store
// (each *.gpg file decrypted by the user's gpg). Each returns every entry or throws; nothing is
// stored here. Names that do not fit glassdome's pattern are refused with the line or item that
// carried them, so an import is all or nothing.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';
import { ioError } from '../store/secure-file.js';
import { isValidName } from '../vault/names.js';
import type { NewSecret } from '../vault/store.js';

/** The formats import reads. */
export const IMPORT_FORMATS = ['env', 'bitwarden', 'pass'] as const;

/** One of IMPORT_FORMATS. */
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** The most bytes an import file may have (a .env or a Bitwarden export). */
const MAX_IMPORT_FILE_BYTES = 64 * 1024 * 1024;

/** Reads every entry of a source. */
export function readImport(format: ImportFormat, source: string): NewSecret[] {
  if (format === 'pass') return readPassStore(source);
  const st = statOrFail(source);
  if (!st.isFile()) fail('usage', `${source} is not a file`);
  if (st.size > MAX_IMPORT_FILE_BYTES) fail('too_large', `${source} is over ${MAX_IMPORT_FILE_BYTES} bytes`);
  const text = fs.readFileSync(source, 'utf8');
  return format === 'env' ? parseEnv(text, source) : parseBitwarden(text, source);
}

function statOrFail(source: string): fs.Stats {
  try {
    return fs.statSync(source);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fail('not_found', `cannot read ${source}: no such file or directory`, 'give the path of the file to import');
    throw ioError(err, `cannot read ${source}`);
  }
}

function named(name: string, where: string): string {
  if (!isValidName(name)) fail('invalid_name', `${where}: ${JSON.stringify(name)} is not an allowed secret name; nothing was imported`, 'names start with a letter or digit, then up to 127 of A-Z a-z 0-9 _ . - /');
  return name;
}

/**
 * KEY=VALUE lines (optional `export `) and # comments. The value is read as a shell word: '…'
 * literally, "…" with \\n \\t \\r \\" \\\\ escapes, a backslash outside quotes escaping the next
 * character; it ends at unquoted whitespace (what follows must be a comment).
 */
export function parseEnv(text: string, source: string): NewSecret[] {
  const out: NewSecret[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([^=\s]+)\s*=\s*(.*)$/.exec(line);
    if (!m) fail('corrupt', `${source} line ${i + 1} is not KEY=VALUE; nothing was imported`);
    const name = named(m[1]!, `${source} line ${i + 1}`);
    const value = envValue(m[2]!) ?? fail('corrupt', `${source} line ${i + 1}: unterminated quote; nothing was imported`);
    out.push({ name, value: Buffer.from(value, 'utf8') });
  }
  return out;
}

/** One shell-like word (see parseEnv); null when a quote is not closed. */
function envValue(raw: string): string | null {
  let out = '';
  let i = 0;
  while (i < raw.length && !/\s/.test(raw[i]!)) {
    const c = raw[i]!;
    if (c === "'") {
      const end = raw.indexOf("'", i + 1);
      if (end === -1) return null;
      out += raw.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < raw.length && raw[j] !== '"'; j++) {
        if (raw[j] === '\\' && j + 1 < raw.length) out += ({ n: '\n', t: '\t', r: '\r' } as Record<string, string>)[raw[++j]!] ?? raw[j]!;
        else out += raw[j]!;
      }
      if (j >= raw.length) return null;
      i = j + 1;
    } else if (c === '\\' && i + 1 < raw.length) {
      out += raw[i + 1]!;
      i += 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

interface BitwardenItem {
  name?: unknown;
  notes?: unknown;
  login?: { username?: unknown; password?: unknown; totp?: unknown } | null;
  fields?: Array<{ name?: unknown; value?: unknown }> | null;
}

/** A Bitwarden JSON export: each item becomes NAME (the password), NAME/username, NAME/totp, NAME/notes, NAME/FIELD. */
export function parseBitwarden(text: string, source: string): NewSecret[] {
  let doc: { encrypted?: unknown; items?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    return fail('corrupt', `${source} is not JSON; nothing was imported`);
  }
  if (doc.encrypted === true) fail('usage', `${source} is an encrypted Bitwarden export`, 'export again with the format "json" (not "encrypted_json")');
  if (!Array.isArray(doc.items)) fail('corrupt', `${source} has no "items" array: not a Bitwarden JSON export`);
  const out: NewSecret[] = [];
  (doc.items as BitwardenItem[]).forEach((item, n) => {
    const where = `${source} item ${n + 1}`;
    if (typeof item.name !== 'string') fail('corrupt', `${where} has no name; nothing was imported`);
    const base = named(item.name.trim().replace(/\s+/g, '_'), where);
    const add = (name: string, value: unknown): void => {
      if (typeof value === 'string' && value !== '') out.push({ name: named(name, where), value: Buffer.from(value, 'utf8') });
    };
    add(base, item.login?.password);
    add(`${base}/username`, item.login?.username);
    add(`${base}/totp`, item.login?.totp);
    add(`${base}/notes`, item.notes);
    for (const field of item.fields ?? []) if (typeof field.name === 'string') add(`${base}/${field.name.trim().replace(/\s+/g, '_')}`, field.value);
  });
  return out;
}

/** A pass store: every DIR/**\/NAME.gpg, decrypted with gpg (the agent or pinentry asks as usual). */
export function readPassStore(dir: string): NewSecret[] {
  if (!statOrFail(dir).isDirectory()) fail('usage', `${dir} is not a directory (a pass store, like ~/.password-store)`);
  const files = (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.gpg') && !f.split(path.sep).some((part) => part.startsWith('.'))).sort();
  const out: NewSecret[] = [];
  try {
    for (const file of files) {
      const name = named(file.slice(0, -'.gpg'.length), `${dir}/${file}`);
      const run = spawnSync('gpg', ['--quiet', '--batch', '--yes', '--decrypt', path.join(dir, file)], { stdio: ['inherit', 'pipe', 'pipe'], maxBuffer: 2 * 1024 * 1024 });
      if (run.error) fail('io', `cannot run gpg: ${run.error.message}`, 'install it: apt-get install gnupg');
      if (run.status !== 0) fail('io', `gpg could not decrypt ${file}: ${run.stderr.toString('utf8').trim().split('\n').pop() ?? ''}; nothing was imported`);
      let value = run.stdout;
      // pass stores "password\n" for a one-line entry; a multi-line entry stays as written.
      if (value.indexOf(10) === value.length - 1) value = value.subarray(0, value.length - 1);
      out.push({ name, value });
    }
  } catch (err) {
    for (const e of out) e.value.fill(0);
    throw err;
  }
  return out;
}
