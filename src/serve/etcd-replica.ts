// What a `serve` replica on etcd adds to the single-host daemon: its views of `PREFIX/tokens/`
// and `PREFIX/revoked/` (kept current by watches, refusing when not fresh), the token store and
// the revoked serials answered from them, and its audit head anchored at
// `PREFIX/audit/<replica-id>/head`. serve.ts builds it beside the etcd vault backend.

import { EtcdHeadAnchor } from '../audit/anchor-etcd.js';
import type { AuditLog } from '../audit/log.js';
import type { EtcdClient } from '../etcd/client.js';
import { EtcdView } from '../etcd/view.js';
import { EtcdRevocations } from './revocations-etcd.js';
import { EtcdTokenStore, TokenKeys } from './tokens-etcd.js';

/** The token, revocation and audit parts of one replica. */
export class EtcdReplica {
  readonly tokens: EtcdTokenStore;
  readonly revocations: EtcdRevocations;
  readonly anchor: EtcdHeadAnchor;
  private readonly views: { tokens: EtcdView; revoked: EtcdView };

  constructor(
    client: EtcdClient,
    prefix: string,
    replica: string,
    tokenKey: Uint8Array,
    auditKey: () => Uint8Array | undefined,
    private readonly log: (message: string) => void,
  ) {
    const keys = new TokenKeys(prefix);
    const onTrouble = (what: string): ((err: Error) => void) => {
      let last = '';
      return (err) => {
        if (err.message !== last) log(`etcd view of ${what}: ${err.message}`); // once per distinct trouble, not at every heartbeat
        last = err.message;
      };
    };
    this.views = { tokens: new EtcdView(client, keys.tokens, { onTrouble: onTrouble('tokens') }), revoked: new EtcdView(client, keys.revoked, { onTrouble: onTrouble('revocations') }) };
    this.tokens = new EtcdTokenStore(client, prefix, tokenKey, this.views);
    this.revocations = new EtcdRevocations(this.views.revoked);
    this.anchor = new EtcdHeadAnchor(client, prefix, replica, auditKey);
  }

  /** Loads both views and starts anchoring the audit head; `unavailable` when etcd cannot be read. */
  async start(audit: AuditLog, onBreak: (why: string) => void): Promise<void> {
    await Promise.all([this.views.tokens.start(), this.views.revoked.start()]);
    this.anchor.start(audit, onBreak, this.log);
  }

  /** Anchors the audit head a last time (best effort) and stops the views. */
  async stop(audit: AuditLog): Promise<void> {
    this.anchor.stop();
    await this.anchor.advance(audit, () => undefined).catch((err: Error) => this.log(`audit head not anchored in etcd: ${err.message}`));
    this.views.tokens.stop();
    this.views.revoked.stop();
  }
}
