// Revoked certificate serials in etcd, `PREFIX/revoked/serials/<HEX>` (the serial as
// normalizeSerial writes it): `glassdome ca revoke --store etcd://…` puts one beside the CRL file,
// and every replica's view of `PREFIX/revoked/` sees it. serve asks at every request (so an open
// keep-alive connection is refused at its next one) and refuses (`unavailable`) while its view is
// not fresh: a revocation reaches every answering replica within the view's bound (1 s).

import type { EtcdClient } from '../etcd/client.js';
import { etcdKey, REVOKED_SERIALS } from '../etcd/layout.js';
import { clockPut, type EtcdView } from '../etcd/view.js';
import type { RevokedSerials } from './revocation.js';

/** `PREFIX/revoked/`: the prefix a replica's revocations view watches (serials and token markers). */
export function revokedPrefix(prefix: string): Uint8Array {
  return etcdKey(prefix, REVOKED_SERIALS.split('/')[0]!, '');
}

/** A serial's key relative to the revocations view (`serials/<HEX>`). */
function inView(serial: string): string {
  return `${REVOKED_SERIALS.slice('revoked/'.length)}/${serial}`;
}

/** The serials revoked in etcd, as one replica's view holds them. */
export class EtcdRevocations implements RevokedSerials {
  constructor(private readonly view: EtcdView) {}

  /** Whether `serial` is revoked; `unavailable` when the view is not fresh. */
  has(serial: string): boolean {
    this.view.assertFresh();
    return this.view.get(inView(serial)) !== undefined;
  }

  /** How many serials are revoked. */
  get size(): number {
    let n = 0;
    for (const key of this.view.entries.keys()) if (key.startsWith(inView(''))) n++;
    return n;
  }
}

/** Records a revoked serial (normalized) in etcd; true when it was not there yet. */
export async function revokeSerialInEtcd(client: EtcdClient, prefix: string, serial: string, cn: string | null): Promise<boolean> {
  const key = etcdKey(prefix, REVOKED_SERIALS, serial);
  const value = new TextEncoder().encode(JSON.stringify({ cn, revoked_at: new Date().toISOString() }));
  const r = await client.txn([{ key, target: 'VERSION', result: 'EQUAL', version: 0 }], [{ put: { key, value } }, clockPut(revokedPrefix(prefix))]);
  return r.succeeded;
}
