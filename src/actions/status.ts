// `glassdome status`: which source holds the key (agent, keyring, or none), until when, how many
// secrets, and which policy is in force (its source and SHA-256, and whether policy.yaml differs).
// Exits 0 when unlocked, 4 when locked.

import { connectAgent } from '../cli/session.js';
import { writeJson, writeOut } from '../cli/render.js';
import { GlassdomeError } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { readMasterKeyText } from '../store/vault-text.js';
import { vaultIdOf } from '../vault/format.js';
import { compareFile, describePolicy, policySummary, type FileState, type PolicySource } from '../policy/sealed.js';
import { readPrivate } from '../store/secure-file.js';

/** Which policy is in force, as status reports it. */
export interface PolicyStatus {
  source: PolicySource;
  sha256: string | null;
  file: FileState;
}

/** The facts `status --json` prints. */
export interface StatusResult {
  vault: string;
  vault_id: string;
  mode: 'agent' | 'keyring' | 'server' | 'locked';
  agent: { pid: number; socket: string; hardening: unknown } | null;
  /** Set when GLASSDOME_SERVER names a glassdome serve: its URL and who it takes us for. */
  server?: { url: string; pid: number; client: unknown };
  unlocked_at: string | null;
  expires_at: string | null;
  /** With an agent idle limit: when the key goes if no request comes first. */
  idle_expires_at?: string;
  secret_count: number | null;
  /** The local vault's policy in force; absent for glassdome serve, whose policy is its own. */
  policy?: PolicyStatus;
  note?: string;
}

/** Gathers the status of the vault at `paths`. */
export async function gatherStatus(paths: VaultPaths): Promise<StatusResult> {
  if (process.env.GLASSDOME_SERVER) return serverStatus();
  const result: StatusResult = {
    vault: paths.home,
    vault_id: vaultIdOf(readMasterKeyText(paths)),
    mode: 'locked',
    agent: null,
    unlocked_at: null,
    expires_at: null,
    secret_count: null,
    policy: undefined, // the agent's word, the keyring session's, or at last what policy.yaml alone says (localPolicy)
  };
  const client = await connectAgent(paths);
  if (client) {
    try {
      const st = await client.request('status');
      result.agent = { pid: Number(st.pid), socket: String(st.socket), hardening: st.hardening };
      if (st.policy && typeof st.policy === 'object') result.policy = st.policy as PolicyStatus;
      if (st.state === 'unlocked') {
        Object.assign(result, { mode: 'agent', unlocked_at: st.unlocked_at, expires_at: st.expires_at, secret_count: st.secret_count });
        if (typeof st.idle_expires_at === 'string') result.idle_expires_at = st.idle_expires_at;
      } else if (st.reason === 'expired') {
        result.note = 'the agent key expired';
      } else if (st.reason === 'idle') {
        result.note = 'the agent dropped its key after its idle time without a request';
      }
    } finally {
      client.close();
    }
    return localPolicy(result, paths);
  }
  const { resumeKeyringSession } = require('../keyring/session.js') as typeof import('../keyring/session.js');
  try {
    const session = resumeKeyringSession(paths);
    if (session) {
      const { LocalStore } = require('../store/local-store.js') as typeof import('../store/local-store.js');
      const store = new LocalStore(paths, session.keys);
      try {
        const { count, policy } = store.summary();
        const summary = policySummary(policy, readPolicyText(paths));
        Object.assign(result, {
          mode: 'keyring',
          unlocked_at: new Date(session.cache.createdAt).toISOString(),
          expires_at: new Date(session.cache.expiresAt).toISOString(),
          secret_count: count,
          policy: { ...summary, file: fileState(paths, summary.sha256) },
        });
      } finally {
        store.close();
      }
    }
  } catch (err) {
    if (!(err instanceof GlassdomeError) || !['expired', 'keyring_unavailable', 'locked'].includes(err.code)) throw err;
    result.note = err.message;
  }
  return localPolicy(result, paths);
}

/**
 * The policy a status reports when no source said which is in force: unknown, and how policy.yaml
 * stands. Read only then: the agent reports the file's state itself (one read less a status).
 */
function localPolicy(result: StatusResult, paths: VaultPaths): StatusResult {
  result.policy ??= { source: 'unknown', sha256: null, file: fileState(paths, null) };
  return result;
}

/** The status of glassdome serve at GLASSDOME_SERVER (mode `server`, or `locked` when its key is gone). */
async function serverStatus(): Promise<StatusResult> {
  const { RemoteClient } = require('../client/remote-client.js') as typeof import('../client/remote-client.js');
  const remote = RemoteClient.fromEnv(process.env);
  try {
    const st = await remote.status();
    const unlocked = st.state === 'unlocked';
    return {
      vault: remote.url.origin,
      vault_id: String(st.vault_id ?? ''),
      mode: unlocked ? 'server' : 'locked',
      agent: null,
      server: { url: remote.url.origin, pid: Number(st.pid), client: st.client },
      unlocked_at: unlocked ? String(st.unlocked_at) : null,
      expires_at: unlocked ? String(st.expires_at) : null,
      secret_count: null,
    };
  } finally {
    remote.close();
  }
}

/** Prints the status; returns the exit status (0 unlocked, 4 locked). */
export async function statusAction(options: { json: boolean }, paths: VaultPaths): Promise<number> {
  const st = await gatherStatus(paths);
  if (options.json) {
    writeJson(st);
  } else {
    const lines = [`vault:    ${st.vault} (${st.vault_id})`];
    const client = st.server?.client as { cn?: string; via?: string } | undefined;
    const agent = st.agent ? `agent pid ${st.agent.pid} at ${st.agent.socket}` : st.server ? `glassdome serve pid ${st.server.pid} at ${st.server.url}, as ${client?.via ?? '?'} ${client?.cn ?? '?'}` : '';
    if (st.mode === 'locked') {
      lines.push(`mode:     locked${agent ? ` (${agent})` : ''}`);
      if (st.note) lines.push(`note:     ${st.note}`);
    } else {
      lines.push(`mode:     ${st.mode}${agent ? ` (${agent})` : ''}`);
      lines.push(`unlocked: ${st.unlocked_at}`);
      lines.push(`expires:  ${st.expires_at} (${untilText(Date.parse(String(st.expires_at)) - Date.now())})`);
      if (st.idle_expires_at) lines.push(`idle:     ${st.idle_expires_at} (${untilText(Date.parse(st.idle_expires_at) - Date.now())}, unless a request comes first)`);
      if (st.secret_count !== null) lines.push(`secrets:  ${st.secret_count}`);
    }
    if (st.policy) lines.push(`policy:   ${describePolicy(st.policy, st.policy.file)}`);
    writeOut(`${lines.join('\n')}\n`);
  }
  return st.mode === 'locked' ? 4 : 0;
}

function readPolicyText(paths: VaultPaths): string | null {
  try {
    return readPrivate(paths.policy)?.text ?? null;
  } catch (err) {
    return `unreadable: ${(err as Error).message}`;
  }
}

function fileState(paths: VaultPaths, sha256: string | null): FileState {
  return compareFile({ sha256 }, readPolicyText(paths));
}

/** "in 7h 59m", "in 42s". */
export function untilText(ms: number): string {
  if (ms <= 0) return 'now';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `in ${h}h ${m}m`;
  if (m > 0) return `in ${m}m ${s % 60}s`;
  return `in ${s}s`;
}
