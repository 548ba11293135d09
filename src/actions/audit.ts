// `glassdome audit`: the audit log, human-readable or as JSON lines, from a point in time, and
// following new lines; `glassdome audit verify`: the hash chain, exit 6 at the first break.

import fs from 'node:fs';
import { checkLine, verifyChain, type AuditEvent } from '../audit/chain.js';
import { readAuditFiles } from '../audit/log.js';
import { parseLifetime } from '../cli/duration.js';
import { fail } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { openPrivate } from '../store/secure-file.js';

/** What `audit` was asked. */
export interface AuditShowOptions {
  json: boolean;
  since: string | undefined;
  follow: boolean;
}

/** Prints the log (and, with `follow`, every line appended after, until interrupted). */
export async function auditShowAction(options: AuditShowOptions, paths: VaultPaths): Promise<void> {
  const since = options.since === undefined ? 0 : sinceTime(options.since);
  const { files } = readAuditFiles(paths.audit);
  for (const f of files) for (const line of f.lines) show(line, options.json, since);
  if (!options.follow) return;
  let offset = fs.existsSync(paths.audit) ? fs.statSync(paths.audit).size : 0;
  let ino = fs.existsSync(paths.audit) ? fs.statSync(paths.audit).ino : 0;
  let partial = '';
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    let st: fs.Stats;
    try {
      st = fs.statSync(paths.audit);
    } catch {
      continue;
    }
    if (st.ino !== ino) {
      ino = st.ino; // rotated: the new file starts afresh
      offset = 0;
    }
    if (st.size <= offset) continue;
    const fd = openPrivate(paths.audit, fs.constants.O_RDONLY);
    const chunk = Buffer.alloc(st.size - offset);
    fs.readSync(fd, chunk, 0, chunk.length, offset);
    fs.closeSync(fd);
    offset = st.size;
    const text = partial + chunk.toString('utf8');
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) show(line, options.json, since);
  }
}

/** Checks the chain; prints how much held, or throws `tampered` naming the first broken line. */
export function auditVerifyAction(paths: VaultPaths): void {
  const { files, startsMidway } = readAuditFiles(paths.audit);
  const { lines, broken } = verifyChain(files, startsMidway);
  if (broken) {
    fail('tampered', `audit log broken at ${broken.file} line ${broken.line}: ${broken.problem}`, `${lines} line(s) before it verify; keep a copy of the log before anything else writes to it`);
  }
  process.stdout.write(`audit log intact: ${lines} line(s) in ${files.length} file(s)${startsMidway ? ' (older files rotated away: the chain starts at the oldest kept)' : ''}\n`);
}

function show(line: string, json: boolean, since: number): void {
  if (line === '') return;
  const checked = checkLine(line);
  const event: Partial<AuditEvent> = 'event' in checked ? checked.event : safeParse(line);
  if (since && !(Date.parse(event.timestamp ?? '') >= since)) return;
  if (json) {
    process.stdout.write(`${line}\n`);
    return;
  }
  const client = event.client ? `pid ${event.client.pid} ${event.client.exe ?? '?'}` : 'agent';
  const what = [event.action, event.resource].filter(Boolean).join(' ');
  const why = event.reason ? ` (${event.reason})` : '';
  const flag = 'problem' in checked ? `  !! ${checked.problem}` : '';
  process.stdout.write(`${event.timestamp ?? '?'}  ${(event.event_type ?? '?').padEnd(15)} ${what.padEnd(28)} ${(event.result ?? '?').padEnd(12)} ${client}${why}${flag}\n`);
}

function safeParse(line: string): Partial<AuditEvent> {
  try {
    return JSON.parse(line) as Partial<AuditEvent>;
  } catch {
    return {};
  }
}

/** `--since`: an ISO 8601 time, or a duration back from now (30m, 2h, 1d). */
function sinceTime(text: string): number {
  const iso = Date.parse(text);
  if (/^\d{4}-/.test(text) && Number.isFinite(iso)) return iso;
  return Date.now() - parseLifetime(text) * 1000;
}
