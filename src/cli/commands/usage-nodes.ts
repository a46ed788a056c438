// The node-hours part of `fastgpu usage` (issue 12): the nodes that providers lent, by provider,
// each from its agent's join to its release. Admins only (the server sends it to them alone).
import type { UsageReport } from '../../sdk/billing.js';
import { table } from '../format.js';

/** The node-hours section, or nothing when the report has none (not an admin, or no autoscaling ever). */
export function nodeHoursTable(r: UsageReport): string {
  const rows = r.nodeHours ?? [];
  if (rows.length === 0) return '';
  const cells = rows.map((x) => [
    x.provider,
    String(x.requested),
    String(x.joined),
    x.nodeHours.toFixed(3),
    x.costAmount === null ? '-' : x.costAmount.toFixed(2),
    x.unpricedNodeHours > 0 ? `${x.unpricedNodeHours.toFixed(3)} h unpriced` : '',
  ]);
  return `\nlent nodes by provider (from join to release), in ${r.currency}\n` + table(['PROVIDER', 'REQUESTED', 'JOINED', 'NODE-HOURS', 'COST', 'NOTE'], cells);
}
