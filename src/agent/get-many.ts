// The agent's `get_many` (docs/PROTOCOL.md): several values in one reply, each read exactly as a
// `get` of it reads (rate limit token, policy decision, identity check, its own audit line). A reply
// serves a prefix of the names asked for and stops, `more: true`, before a value that would not
// fit in one line, before a name whose own `get` would fail, and when the client's read bucket is
// empty, even before the first value (then `retry_after_ms` says when it holds enough for the rest).
// So a failing name is always the first of some request, and its error reply is the one a `get` of
// it gets, audited once. Without names, the vault is listed as a `list` lists it (a token and the
// `N of M names visible` line), and only once the bucket is seen to hold a token: a client held
// back costs the agent no work in proportion to the vault. A request may name the vault it means
// (the CLI sends it ahead of the hello's answer): another vault's agent reads nothing for it.

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
  // Held back before the vault is listed; the wait named is until the bucket is full, which says nothing of the vault.
  if (names === null && guard.reads.msUntil(key, 1) > 0) return heldBack(guard, client, guard.reads.msUntil(key, Number.POSITIVE_INFINITY), 'get_many', null);
  const store = guard.store(client, vault);
  // Listed as `list` lists (a token; denied while no policy is sealed; audited `N of M names visible`).
  const wanted = names ?? (await store.list()).filter((n) => after === null || n > after);
  const reads: Array<Promise<Uint8Array>> = [];
  let bytes = 0;
  let wait: Record<string, number> = {};
  for (const name of wanted) {
    if (guard.reads.msUntil(key, 1) > 0) {
      // The bucket is empty (even before the first value): the rest waits, and the client is told how long.
      const rest = wanted.length - reads.length + (names === null ? 1 : 0); // the next request lists again
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
  const settled = await Promise.allSettled(reads);
  const values = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
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

/** The reply to a client whose read bucket is empty before anything is done: no value, `more`, and the wait; audited (sparingly) as `rate_limited`. */
async function heldBack(guard: Guard, client: Client, retryAfterMs: number, op: string, resource: string | null): Promise<Record<string, unknown>> {
  await guard.limit(guard.reads, client, op, resource)?.catch(() => undefined);
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
