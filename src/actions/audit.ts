// `glassdome audit`: the audit log, human-readable or as JSON lines, from a point in time, and
// following new lines; `glassdome audit verify`: the chain, exit 6 at the first break. With the
// key — through the unlocked agent (`audit_verify`), the keyring session, or the master password
// (--password-stdin) — every MAC and the anchor sealed in the vault are checked too; without it,
// the plain chain only, and the output says what was not checked.

import fs from 'node:fs';
import { checkLine, type AuditEvent, type ChainBreak } from '../audit/chain.js';
import { AuditLog, readAuditFiles, verifyAuditLog } from '../audit/log.js';
import { parseLifetime } from '../cli/duration.js';
import { printable } from '../cli/render.js';
import { connectAgent } from '../cli/session.js';
import { fail, GlassdomeError } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { openPrivate } from '../store/secure-file.js';
import { loadVault } from '../store/vault-files.js';
import { wipeMap } from '../vault/payload.js';
import { wipeKeys, type VaultKeys } from '../vault/vault.js';

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

/** A verification's outcome, as the agent's `audit_verify` replies it. */
interface VerifyOutcome {
  lines: number;
  files: number;
  keyed: number;
  unkeyed: number;
  legacy: number;
  anchored_at: number | null;
  anchor_lines: number | null;
  broken: ChainBreak | null;
}

/** Checks the log; prints what held and what was checked, or throws `tampered` naming the first broken line. */
export async function auditVerifyAction(options: { passwordStdin: boolean; resetAnchor?: boolean; store?: string; replicaId?: string }, paths: VaultPaths): Promise<void> {
  if (options.resetAnchor && options.store) fail('usage', '--reset-anchor works on the file vault’s anchor, not on a head in etcd', 'a replica anchors its head again by itself; to accept a cut log, delete its head in etcd (etcdctl del PREFIX/audit/ID/head)');
  if (options.resetAnchor) return resetAnchor(paths, options.passwordStdin);
  const { outcome, via } = options.store ? await verifyAgainstEtcd(paths, options.store, options.replicaId, options.passwordStdin) : await verifyWithKey(paths, options.passwordStdin);
  const { lines, files, broken } = outcome;
  if (broken) {
    fail('tampered', `audit log broken ${broken.line > 0 ? `at ${broken.file} line ${broken.line}` : `(${broken.file})`}: ${broken.problem}`, `${lines} line(s) before it verify; keep a copy of the log before anything else writes to it`);
  }
  const parts = [`audit log intact: ${lines} line(s) in ${files} file(s)`];
  if (via === null) {
    parts.push(`checked without the key: the hash chain only; not checked: the MACs of ${outcome.keyed} line(s) and the anchor sealed in the vault, so a rebuilt chain, a cut tail or a deleted log would pass (unlock the agent, or pass --password-stdin)`);
  } else {
    parts.push(`with the key (${via}): ${outcome.keyed} MAC(s) verified`);
    if (outcome.unkeyed + outcome.legacy > 0) parts.push(`${outcome.unkeyed + outcome.legacy} line(s) carry no MAC (written while locked, or by an earlier release) and are covered only by the chain and the anchor`);
    if (outcome.anchor_lines === null) parts.push(options.store ? 'no head anchored in etcd for this replica yet' : 'no anchor sealed in the vault yet (it is sealed at the next vault write or lock)');
    else if (outcome.anchored_at !== null) parts.push(`the ${options.store ? 'head anchored in etcd' : "vault's anchor"} (line ${outcome.anchored_at}) matches; ${lines > 0 ? 'lines after it are checked by their MACs only' : ''}`.replace(/; $/, ''));
    else parts.push(`the vault's anchor (line ${outcome.anchor_lines}) was rotated away`);
  }
  process.stdout.write(`${parts.join('; ')}\n`);
}

/** Verifies with the best key at hand: the password, the agent, the keyring session; else without one (via null). */
async function verifyWithKey(paths: VaultPaths, passwordStdin: boolean): Promise<{ outcome: VerifyOutcome; via: string | null }> {
  if (passwordStdin) {
    const { unsealWithPassword } = require('../cli/unseal.js') as typeof import('../cli/unseal.js');
    const keys = await unsealWithPassword(paths, { stdin: true, message: 'Master password' });
    return { outcome: verifyLocally(paths, keys), via: 'the master password' };
  }
  const agent = await connectAgent(paths);
  if (agent) {
    try {
      return { outcome: (await agent.request('audit_verify')) as unknown as VerifyOutcome, via: 'the agent' };
    } catch (err) {
      if (!(err instanceof GlassdomeError && (err.code === 'locked' || err.code === 'expired'))) throw err;
    } finally {
      agent.close();
    }
  }
  try {
    const { resumeKeyringSession } = require('../keyring/session.js') as typeof import('../keyring/session.js');
    const session = resumeKeyringSession(paths);
    if (session) return { outcome: verifyLocally(paths, session.keys), via: 'the keyring session' };
  } catch (err) {
    if (!(err instanceof GlassdomeError && ['expired', 'keyring_unavailable', 'locked'].includes(err.code))) throw err;
  }
  const report = verifyAuditLog(paths.audit);
  return { outcome: { ...report, anchored_at: null, anchor_lines: null }, via: null };
}

/** A replica's log against the head it anchored in etcd (`audit/<replica-id>/head`): needs the master password, whose vault lives in etcd. */
async function verifyAgainstEtcd(paths: VaultPaths, store: string, replica: string | undefined, passwordStdin: boolean): Promise<{ outcome: VerifyOutcome; via: string }> {
  const { withEtcd, etcdMasterKeyText } = require('./etcd-access.js') as typeof import('./etcd-access.js');
  const { EtcdHeadAnchor, replicaId } = require('../audit/anchor-etcd.js') as typeof import('../audit/anchor-etcd.js');
  const id = replicaId(replica, paths.home);
  return withEtcd(store, async (etcd) => {
    const { unsealWithPassword } = require('../cli/unseal.js') as typeof import('../cli/unseal.js');
    const keys = await unsealWithPassword(paths, { stdin: passwordStdin, message: 'Master password', masterKeyText: await etcdMasterKeyText(etcd!) });
    try {
      const anchor = await new EtcdHeadAnchor(etcd!.client, etcd!.prefix, id, () => keys.auditKey).read();
      const report = verifyAuditLog(paths.audit, { key: keys.auditKey, anchor });
      return { outcome: { ...report, anchored_at: report.anchoredAt, anchor_lines: anchor?.lines ?? null }, via: `the master password; the head of replica ${id} from etcd` };
    } finally {
      wipeKeys(keys);
    }
  });
}

/**
 * `--reset-anchor`: the owner accepts the log as it is now (after keeping a copy of the evidence):
 * a keyed line says what was accepted, then the head is sealed as the new anchor, whatever the
 * old one named. Needs the master password: the key holder, not the log's writer, decides.
 */
async function resetAnchor(paths: VaultPaths, passwordStdin: boolean): Promise<void> {
  const { unsealWithPassword } = require('../cli/unseal.js') as typeof import('../cli/unseal.js');
  const { recordLocal } = require('../audit/local.js') as typeof import('../audit/local.js');
  const { sealHeadAsAnchor } = require('../audit/anchor.js') as typeof import('../audit/anchor.js');
  const keys = await unsealWithPassword(paths, { stdin: passwordStdin, message: 'Master password' });
  try {
    const before = verifyAuditLog(paths.audit, { key: keys.auditKey, anchor: null });
    const problem = before.broken ? `${before.broken.file} line ${before.broken.line}: ${before.broken.problem}` : 'the chain held';
    await recordLocal(paths, { event_type: 'admin_action', action: 'anchor_reset', resource: 'audit.log', result: 'success', reason: `the owner accepted the log as it was (${problem})` }, keys);
    const line = await sealHeadAsAnchor(paths, keys, new AuditLog(paths.audit));
    process.stderr.write(`glassdome: the audit log's anchor now names its line ${line}; lines before it are no longer checked against the old anchor\n`);
  } finally {
    wipeKeys(keys);
  }
}

/** Verifies with the keys in this process (then wiped): MACs and the anchor read from the vault. */
function verifyLocally(paths: VaultPaths, keys: VaultKeys): VerifyOutcome {
  try {
    const { payload } = loadVault(paths, keys);
    wipeMap(payload.map);
    const report = verifyAuditLog(paths.audit, { key: keys.auditKey, anchor: payload.anchor });
    return { ...report, anchored_at: report.anchoredAt, anchor_lines: payload.anchor?.lines ?? null };
  } finally {
    wipeKeys(keys);
  }
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
  const c = event.client;
  const client = !c ? 'agent' : 'remote' in c ? `${c.remote} ${c.accessor ? `token ${c.accessor} ` : ''}${c.cn}` : `pid ${c.pid} ${c.exe ?? '?'}`;
  const what = [event.action, event.resource].filter(Boolean).join(' ');
  const why = event.reason ? ` (${event.reason})` : '';
  const flag = 'problem' in checked ? `  !! ${checked.problem}` : '';
  process.stdout.write(`${printable(`${event.timestamp ?? '?'}  ${(event.event_type ?? '?').padEnd(15)} ${what.padEnd(28)} ${(event.result ?? '?').padEnd(12)} ${client}${why}${flag}`)}\n`);
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
