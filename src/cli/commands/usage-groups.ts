// The per-group part of `fastgpu usage` (issue 14): one row per array, map and sweep with usage
// in the period, after the per-task table. Kept apart from usage.ts so that file stays about the
// report itself.
import type { UsageReport } from '../../sdk/billing.js';
import { table } from '../format.js';

/** `4 SUCCEEDED, 1 FAILED`: most first, ties by state name. */
export function formatCounts(counts: Readonly<Record<string, number>>): string {
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1));
  return parts.length === 0 ? '-' : parts.map(([s, n]) => `${n} ${s}`).join(', ');
}

/** The groups as a table under a blank line; empty when the report has none. */
export function usageGroupsTable(r: Pick<UsageReport, 'groups'>): string {
  const groups = r.groups ?? [];
  if (groups.length === 0) return '';
  const rows = groups.map((g) => [g.kind.toUpperCase(), g.id, g.name, g.tenant, String(g.size), formatCounts(g.counts), g.gpuSeconds.toFixed(1), g.chargedAmount.toFixed(2), g.promotions.join(',') || '-']);
  return '\nper array, map and sweep\n' + table(['KIND', 'ID', 'NAME', 'TENANT', 'SIZE', 'STATES', 'GPU-SECONDS', 'CHARGED', 'PROMOTIONS'], rows);
}
