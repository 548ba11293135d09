// The agent's `get_many` (docs/PROTOCOL.md): several values in one reply, each read exactly as a
// `get` of it reads (rate limit token, policy decision, identity check, its own audit line). A reply
// serves a prefix of the names asked for and stops, `more: true`, before a value that would not
// fit in one line, before a name whose own `get` would fail, and when the client's read bucket is
// empty, even before the first value (then `retry_after_ms` says when it holds enough for the rest).
// So a failing name is always the first of some request, and its error reply is the one a `get` of
// it gets, audited once. Without names, the vault is listed as a `list` lists it (the `N of M names
// visible` line, in the values' append), and only once the bucket is seen to hold a token: a
// client held back costs the agent no work in proportion to the vault. A request may name the
// vault it means (the CLI sends it ahead of the hello's answer): another vault's agent reads
// nothing for it, and the agent never looks that path up.

import fs from 'node:fs';
import { GlassdomeError } from '../errors.js';
import { SecretBytes } from '../protocol/codec.js';
import { GET_MANY_REPLY_BYTES } from '../protocol/limits.js';
import { clientKey, type Client } from '../policy/client.js';
import type { Guard } from '../policy/guard.js';
import { base64Length } from '../vault/base64.js';
import { secretBuffer } from '../vault/bytes.js';
import type { AgentVault } from './agent-vault.js';

/** What a get_many asks (src/protocol/messages.ts). */
export interface GetMany {
  names: readonly string[] | null;
  after: string | null;
  vault: string | null;
}

/**
 * The reply fields of a get_many (names null: every secret `client` may read, after `after`), from
 * the agent of the vault at `home`: one that names another vault is `wrong_vault`, and reads nothing.
 */
export async function getMany(guard: Guard, client: Client, vault: AgentVault, { names, after, vault: meant }: GetMany, home: string): Promise<Record<string, unknown>> {
  if (meant !== null && !servesVault(meant, home)) {
    throw new GlassdomeError('wrong_vault', `this agent serves ${home}, not ${meant}`, 'give this vault its own agent: eval "$(glassdome agent -a /tmp/glassdome-other.sock)"');
  }
  const key = clientKey(client);
  // Held back before the vault is listed. The wait named, until the bucket is full (the most the
  // rest could need), says nothing of the vault, and a wait the client will not make fails at once.
  if (names === null && guard.reads.msUntil(key, 1) > 0) return heldBack(guard, client, guard.reads.msUntil(key, Number.POSITIVE_INFINITY));
  const listing = names === null ? await listVisible(guard, client, vault, after) : null;
  const wanted = listing?.names ?? names!;
  const store = guard.store(client, vault);
  const reads: Array<Promise<Uint8Array>> = [];
  let bytes = 0;
  let wait: Record<string, number> = {};
  for (const name of wanted) {
    if (guard.reads.msUntil(key, 1) > 0) {
      // The bucket is empty (even before the first value): the rest waits, and the client is told how long.
      const rest = wanted.length - reads.length;
      wait = { retry_after_ms: guard.reads.msUntil(key, rest), all_after_ms: guard.reads.msUntilAll(key, rest) };
      await guard.limit(guard.reads, client, 'get', name)?.catch(() => undefined); // audited (sparingly), as a get held back is
      break;
    }
    const size = vault.sizeOf(name);
    const ready = size !== undefined && guard.mayRead(client, name);
    if (!ready && reads.length > 0) break; // the next request starts with it, and its own get's error answers it then
    const cost = ready ? lineBytes(name, size) : 0;
    if (reads.length > 0 && bytes + cost > GET_MANY_REPLY_BYTES) break;
    bytes += cost;
    reads.push(store.get(name)); // a first name that is not ready fails here, exactly as its own get
    if (!ready) break;
  }
  // A listing that serves no value costs a token of its own (one that serves some is paid for by them).
  if (listing && reads.length === 0 && Object.keys(wait).length === 0) guard.reads.take(key);
  // The list line goes in the same append as the values' lines: they stand or fall together.
  const settled = await Promise.allSettled([...reads, listing?.audited ?? Promise.resolve()]);
  const values = settled.flatMap((s) => (s.status === 'fulfilled' && s.value instanceof Uint8Array ? [s.value] : []));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  const lengths = values.map((v) => v.length);
  const joined = failed ? undefined : secretBuffer(lengths.reduce((a, b) => a + b, 0));
  let offset = 0;
  for (const value of values) {
    joined?.set(value, offset);
    offset += value.length;
    value.fill(0);
  }
  if (failed) throw failed.reason;
  const served = wanted.slice(0, reads.length);
  return { names: served, lengths, values: new SecretBytes(joined!), more: served.length < wanted.length, ...wait };
}

/**
 * The names `client` may read after `after`, listed as `list` lists them (refused while no policy
 * is sealed), and its `N of M names visible` line, appended now and awaited with the values'.
 */
async function listVisible(guard: Guard, client: Client, vault: AgentVault, after: string | null): Promise<{ names: string[]; audited: Promise<void> }> {
  if (guard.refusesAll) {
    guard.reads.take(clientKey(client)); // a refusal costs a token, as a get's does
    return guard.authorizeNow(client, 'read', 'get_many', null) as Promise<never>; // denied and audited, as each get would be
  }
  const all = await vault.list();
  const visible = all.filter((n) => guard.mayRead(client, n));
  const event = { event_type: 'secret_access', action: 'list', resource: null, result: 'success', reason: `${visible.length} of ${all.length} names visible` };
  const audited = guard.record(client, event, guard.identityCheck(client, 'list', null)).catch((err: unknown) => {
    if (err instanceof GlassdomeError && err.code === 'audit_failed') throw new GlassdomeError('audit_failed', `${err.message}, so the names are withheld`, err.hint);
    throw err;
  });
  audited.catch(() => undefined); // awaited with the values' lines; a failure is thrown there
  return { names: visible.filter((n) => after === null || n > after), audited };
}

/** The reply to a client whose read bucket is empty before anything is done: no value, `more`, and the wait; audited (sparingly) as `rate_limited`. */
async function heldBack(guard: Guard, client: Client, retryAfterMs: number): Promise<Record<string, unknown>> {
  await guard.limit(guard.reads, client, 'get_many', null)?.catch(() => undefined);
  return { names: [], lengths: [], values: new SecretBytes(secretBuffer(0)), more: true, retry_after_ms: retryAfterMs };
}

/** The agent's own home, links resolved (once: its files are there, so it answers, or nothing would). */
let resolvedHome: { home: string; real: string } | undefined;

/**
 * Whether `meant` is the home this agent serves, as given or with its links resolved. The client's
 * text is never looked up: a path on a stalled mount would stall the agent for every client. A
 * client that reaches the vault by another link is told `wrong_vault`, and its hello check (which
 * resolves both on the client's side) decides (src/client/agent-client.ts asks again with the text
 * the agent gave).
 */
function servesVault(meant: string, home: string): boolean {
  if (meant === home) return true;
  if (resolvedHome?.home !== home) {
    let real = home;
    try {
      real = fs.realpathSync(home);
    } catch {
      // not there now: only its own text names it
    }
    resolvedHome = { home, real };
  }
  return meant === resolvedHome.real;
}

/** What a value adds to the reply line at most: its quoted name, its length, its base64. */
function lineBytes(name: string, size: number): number {
  return JSON.stringify(name).length + String(size).length + 2 + base64Length(size);
}
