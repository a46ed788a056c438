// Node-hours by provider in `GET /v1/usage` (issue 12): what the nodes that providers lent were
// joined for over the report's period, from the store's lent_nodes (core/autoscale/usage.ts does
// the sums). Pool-level figures, so only admins get them.
import { z } from 'zod';
import { nodeHoursByProvider } from '../core/autoscale/usage.js';
import { moneyToNumber } from '../core/pricing/money.js';
import type { LentNodeStore } from '../store/lent-port.js';

const HOUR_MS = 3_600_000;
const hours = (ms: number): number => Math.round((ms / HOUR_MS) * 1000) / 1000;

export const NodeHoursSchema = z
  .array(
    z.object({
      provider: z.string(),
      requested: z.number().int().describe('nodes asked for that were lent at some time in the period'),
      joined: z.number().int().describe('of those, nodes whose agent joined'),
      nodeHours: z.number().describe('hours joined within the period, to 3 decimals'),
      costAmount: z.number().nullable().describe('those hours at each node’s own price; null when no node had one'),
      costMicros: z.string().nullable(),
      unpricedNodeHours: z.number().describe('node-hours of nodes without a price (not in costAmount)'),
    }),
  )
  .describe('admins: node-hours of the nodes that providers lent (--autoscale), by provider, from join to release');
export type NodeHoursJson = z.infer<typeof NodeHoursSchema>;

/** Node-hours by provider over [from, to), up to `now`. */
export async function lentNodeHours(store: LentNodeStore, period: { from?: number; to?: number; now: number }): Promise<NodeHoursJson> {
  const nodes = await store.listLentNodes({ ...(period.from !== undefined ? { from: period.from } : {}), ...(period.to !== undefined ? { to: period.to } : {}) });
  return nodeHoursByProvider(nodes, period).map((r) => ({
    provider: r.provider,
    requested: r.requested,
    joined: r.joined,
    nodeHours: hours(r.nodeMs),
    costAmount: r.costMicros === null ? null : moneyToNumber(r.costMicros),
    costMicros: r.costMicros === null ? null : r.costMicros.toString(),
    unpricedNodeHours: hours(r.unpricedMs),
  }));
}
