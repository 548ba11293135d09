// Revocation for `glassdome serve`: the CRL files given with --crl, loaded into Node's TLS (which
// refuses a revoked certificate at the handshake of a new connection) and into a set of revoked
// serials (checked at every request, so a keep-alive connection opened before the revocation is
// refused at its next request). The files are polled; a change is picked up within CRL_POLL_MS.
// A CRL that does not parse or is not signed by the client CA is refused and the previous set kept.
// Other sources of revoked serials (etcd, revocations-etcd.ts) implement RevokedSerials.

import fs from 'node:fs';
import { crlSerials } from '../ca/authority.js';
import { GlassdomeError } from '../errors.js';

/** How often the CRL files are checked for a change (ms). */
export const CRL_POLL_MS = 250;

/** A set of revoked certificate serials (normalized hex) that serve asks at every request: the CRLs' set, or etcd's (which throws `unavailable` when its view is not current). */
export interface RevokedSerials {
  has(serial: string): boolean;
}

/** The CRLs in force and the serials they revoke. */
export interface CrlState {
  pems: string[];
  serials: Set<string>;
}

/** Reads and checks every CRL file; throws on the first bad one. */
export async function loadCrls(files: string[], caPems: string[]): Promise<CrlState> {
  const pems: string[] = [];
  const serials = new Set<string>();
  for (const file of files) {
    let pem: string;
    try {
      pem = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new GlassdomeError('io', `cannot read the CRL ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    for (const s of await crlSerials(pem, caPems)) serials.add(s);
    pems.push(pem);
  }
  return { pems, serials };
}

/** Watches the CRL files and calls `apply` with each new, valid state. */
export class CrlWatch {
  private reloading: Promise<void> = Promise.resolve();

  constructor(
    private readonly files: string[],
    private readonly caPems: string[],
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
        this.apply(state);
        this.log(`CRL reloaded: ${state.serials.size} revoked serials`);
      } catch (err) {
        this.log(`CRL refused, keeping the previous one: ${(err as Error).message}`);
      }
    });
  }
}
