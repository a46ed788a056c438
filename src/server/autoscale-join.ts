// How a node an autoscaler lent gets into the pool: not with a shared agent token (one secret in
// every job script, good forever), but with a join token of its own, minted when the node is asked
// for: single use, labelled with its provider, and living no longer than the join timeout (a node
// that has not joined by then is given back anyway). The agent trades it for a node credential
// (src/server/join.ts). When the node is given back or ends, its unused token and its credentials
// are revoked, so nothing a lent machine held still opens the pool.
import type { Clock } from '../core/types.js';
import type { JoinStore } from '../store/join-port.js';
import type { JoinService } from './join.js';

/** The label every lent node carries from its first registration on: which provider lent it. */
export const PROVIDER_LABEL = 'fastgpu.io/provider';

/** What the autoscaler needs to let a lent node in, and to shut it out again. */
export interface LentNodeAccess {
  /** A fresh single-use join token for one node of `provider`. */
  mint(nodeName: string, provider: string): Promise<{ tokenId: string; token: string }>;
  /** The node is gone: its token (if unused) and every credential it joined with stop working. */
  revoke(nodeName: string, tokenId: string | null): Promise<void>;
}

export class JoinTokenAccess implements LentNodeAccess {
  constructor(
    private readonly o: {
      join: JoinService;
      store: JoinStore;
      clock: Clock;
      /** How long a minted token allows a join (the join timeout). */
      ttlMs: number;
      /** Drops cached credential lookups, so a revocation bites at once. */
      invalidate: () => void;
    },
  ) {}

  async mint(_nodeName: string, provider: string): Promise<{ tokenId: string; token: string }> {
    // As text with its unit: createToken reads a bare number as seconds.
    const { record, token } = await this.o.join.createToken({ ttl: `${this.o.ttlMs}ms`, uses: 1, labels: { [PROVIDER_LABEL]: provider } });
    return { tokenId: record.id, token };
  }

  async revoke(nodeName: string, tokenId: string | null): Promise<void> {
    if (tokenId !== null) await this.o.store.revokeJoinToken(tokenId, this.o.clock.now());
    await this.o.join.revokeNode(nodeName);
    this.o.invalidate();
  }
}
