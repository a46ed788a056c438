// Node-hours by provider (issue 12, `fastgpu usage`): a lent node counts from the moment its
// agent joined to the moment it was given back (or now, while it is still lent), clipped to the
// report's period. A node that never joined cost the pool no node-hour it could use, and counts
// as asked for only. Pure: `now` is passed in.
import type { Micros } from '../pricing/money.js';
import { MS_PER_HOUR } from '../pricing/money.js';

/** What the report needs of a lent node (the store's LentNodeRecord has it). */
export interface LentPeriod {
  provider: string;
  hourlyMicros: Micros | null;
  requestedAt: number;
  joinedAt: number | null;
  releasedAt: number | null;
}

export interface ProviderNodeHours {
  provider: string;
  /** Nodes asked for that were lent at some time in the period. */
  requested: number;
  /** Of those, nodes whose agent joined. */
  joined: number;
  /** Node-milliseconds joined within the period. */
  nodeMs: number;
  /** What those node-hours cost at each node's own price; null when no node of it had one. */
  costMicros: Micros | null;
  /** Node-milliseconds of nodes without a price (not in `costMicros`). */
  unpricedMs: number;
}

/** Node-hours by provider over [from, to), providers by name. */
export function nodeHoursByProvider(nodes: readonly LentPeriod[], period: { from?: number; to?: number; now: number }): ProviderNodeHours[] {
  const from = period.from ?? -Infinity;
  const to = Math.min(period.to ?? Infinity, period.now);
  const by = new Map<string, ProviderNodeHours>();
  for (const n of nodes) {
    const end = n.releasedAt ?? period.now;
    if (n.requestedAt >= to || end <= from) continue;
    let row = by.get(n.provider);
    if (!row) by.set(n.provider, (row = { provider: n.provider, requested: 0, joined: 0, nodeMs: 0, costMicros: null, unpricedMs: 0 }));
    row.requested++;
    if (n.joinedAt === null) continue;
    row.joined++;
    const ms = Math.max(0, Math.min(end, to) - Math.max(n.joinedAt, from));
    row.nodeMs += ms;
    if (n.hourlyMicros === null) row.unpricedMs += ms;
    else row.costMicros = (row.costMicros ?? 0n) + (n.hourlyMicros * BigInt(ms)) / MS_PER_HOUR;
  }
  return [...by.values()].sort((a, b) => a.provider.localeCompare(b.provider));
}
