// GET /v1/autoscale/nodes (issue 12): the nodes that providers lent the pool, coming and going,
// from the store's lent_nodes: provider, shape, node name, state and the time of each step. The
// dashboard's pool page shows them; `fastgpu nodes` shows the live ones among all nodes.
import { z } from 'zod';
import { authorize } from './auth.js';
import { moneyToNumber } from '../core/pricing/money.js';
import { parseInstant } from '../core/pricing/parse.js';
import { LentNodeListSchema, type LentNodeState } from '../protocol/autoscale.js';
import type { LentNodeRecord } from '../store/lent-port.js';
import type { RouteContext } from './routes/context.js';
import { isoTimeQuery } from './schemas.js';

const DEFAULT_WINDOW_MS = 86_400_000;

const LentQuerySchema = z.strictObject({
  from: isoTimeQuery.optional().describe('ISO 8601: nodes lent at some time since then (default: the last 24 hours)'),
});

export function stateOf(n: LentNodeRecord): LentNodeState {
  if (n.releasedAt !== null) return 'released';
  if (n.drainingAt !== null) return 'draining';
  return n.joinedAt !== null ? 'up' : 'joining';
}

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

export function autoscaleRoutes(ctx: RouteContext): void {
  ctx.book.add({
    method: 'GET',
    url: '/v1/autoscale/nodes',
    tag: 'pool',
    summary: 'Nodes that providers lent the pool (--autoscale), newest request first: joining, up, draining or released, with the time of each step',
    query: LentQuerySchema,
    response: LentNodeListSchema,
    handler: async ({ query, principal }) => {
      authorize(principal, 'node.list', null);
      const from = query.from !== undefined ? parseInstant(query.from, 'query.from') : ctx.clock.now() - DEFAULT_WINDOW_MS;
      const nodes = await ctx.store.listLentNodes({ from });
      return {
        nodes: nodes.reverse().map((n) => ({
          provider: n.provider,
          providerId: n.providerId,
          node: n.nodeName,
          shape: n.shape,
          state: stateOf(n),
          requestedAt: new Date(n.requestedAt).toISOString(),
          joinedAt: iso(n.joinedAt),
          drainingAt: iso(n.drainingAt),
          releasedAt: iso(n.releasedAt),
          releaseReason: n.releaseReason,
          hourlyAmount: n.hourlyMicros === null ? null : moneyToNumber(n.hourlyMicros),
        })),
      };
    },
  });
}
