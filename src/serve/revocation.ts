// Revocation for `glassdome serve`: the CRL files given with --crl, loaded into Node's TLS (which
// refuses a revoked certificate at the handshake of a new connection) and into a set of revoked
// serials (checked at every request, so a keep-alive connection opened before the revocation is
// refused at its next request). The files are polled; a change is picked up within CRL_POLL_MS.
// A CRL that does not parse or is not signed by the client CA is refused and the previous set kept,
// and so is one older (by thisUpdate) than the one in force from the same file: putting back an
// earlier CRL, signed and still current, must not un-revoke a certificate.
// Past a CRL's nextUpdate, OpenSSL refuses every client certificate at the handshake, so serve
// warns (crlExpiryWarning) from CRL_WARN_MS before it, at start, at each reload and every hour.
// Other sources of revoked serials (etcd, revocations-etcd.ts) implement RevokedSerials.

import fs from 'node:fs';
import { readCrl } from '../ca/authority.js';
import { GlassdomeError } from '../errors.js';

/** How often the CRL files are checked for a change (ms). */
export const CRL_POLL_MS = 250;
/** How long before a CRL's nextUpdate serve starts warning (ms): 7 days of a 30-day CRL. */
export const CRL_WARN_MS = 7 * 24 * 3600_000;
/** How often a running serve looks at its CRLs' nextUpdate again (ms). */
export const CRL_EXPIRY_CHECK_MS = 3600_000;

/** A set of revoked certificate serials (normalized hex) that serve asks at every request: the CRLs' set, or etcd's (which throws `unavailable` when its view is not current). */
export interface RevokedSerials {
  has(serial: string): boolean;
}

/** The CRLs in force and the serials they revoke. */
export interface CrlState {
  pems: string[];
  serials: Set<string>;
  /** The earliest nextUpdate of the files (ms since the epoch), and its file; null when none has one. */
  nextUpdate: { at: number; file: string } | null;
  /** The thisUpdate of each file's CRL (ms since the epoch). */
  thisUpdate: Map<string, number>;
}

/** Reads and checks every CRL file; throws on the first bad one. */
export async function loadCrls(files: string[], caPems: string[]): Promise<CrlState> {
  const pems: string[] = [];
  const serials = new Set<string>();
  let nextUpdate: CrlState['nextUpdate'] = null;
  const thisUpdate = new Map<string, number>();
  for (const file of files) {
    let pem: string;
    try {
      pem = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new GlassdomeError('io', `cannot read the CRL ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const crl = await readCrl(pem, caPems);
    for (const s of crl.serials) serials.add(s);
    thisUpdate.set(file, crl.thisUpdate);
    if (crl.nextUpdate !== null && (nextUpdate === null || crl.nextUpdate < nextUpdate.at)) nextUpdate = { at: crl.nextUpdate, file };
    pems.push(pem);
  }
  return { pems, serials, nextUpdate, thisUpdate };
}

/** The file of `next` whose CRL is older than the one `current` holds from it, with both times; null when none is. */
export function olderCrl(current: CrlState, next: CrlState): { file: string; at: number; inForce: number } | null {
  for (const [file, at] of next.thisUpdate) {
    const inForce = current.thisUpdate.get(file);
    if (inForce !== undefined && at < inForce) return { file, at, inForce };
  }
  return null;
}

/** The warning to log when a CRL's nextUpdate is past or within CRL_WARN_MS of `now`; null otherwise. */
export function crlExpiryWarning(state: CrlState, now = Date.now()): string | null {
  const next = state.nextUpdate;
  if (next === null || next.at - now > CRL_WARN_MS) return null;
  const when = new Date(next.at).toISOString();
  const fix = `renew it: glassdome ca crl --out ${next.file}`;
  if (next.at <= now) return `warning: the CRL ${next.file} expired at ${when}: TLS refuses every client certificate until it is renewed; ${fix}`;
  return `warning: the CRL ${next.file} expires at ${when} (in ${Math.ceil((next.at - now) / 3600_000)} h): after that TLS refuses every client certificate; ${fix}`;
}

/** Watches the CRL files and calls `apply` with each new, valid state. */
export class CrlWatch {
  private reloading: Promise<void> = Promise.resolve();

  constructor(
    private readonly files: string[],
    private readonly caPems: string[],
    /** The CRLs in force (those loaded at start, then each applied one). */
    private current: CrlState,
    private readonly apply: (state: CrlState) => void,
    private readonly log: (message: string) => void,
  ) {}

  /** Starts polling. */
  start(): void {
    for (const file of this.files) {
      fs.watchFile(file, { interval: CRL_POLL_MS, persistent: false }, (now, before) => {
        if (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino || now.size !== before.size) this.reload();
      });
    }
  }

  /** Stops polling. */
  stop(): void {
    for (const file of this.files) fs.unwatchFile(file);
  }

  private reload(): void {
    this.reloading = this.reloading.then(async () => {
      try {
        const state = await loadCrls(this.files, this.caPems);
        const older = olderCrl(this.current, state);
        if (older) {
          this.log(`CRL refused, keeping the previous one: ${older.file} was made at ${new Date(older.at).toISOString()}, before the one in force (${new Date(older.inForce).toISOString()}); an older CRL cannot un-revoke a certificate: write the current one with glassdome ca crl --out ${older.file}`);
          return;
        }
        this.current = state;
        this.apply(state);
        this.log(`CRL reloaded: ${state.serials.size} revoked serials`);
      } catch (err) {
        this.log(`CRL refused, keeping the previous one: ${(err as Error).message}`);
      }
    });
  }
}
