// Usage per array, map and sweep (issue 14 item 5), for `GET /v1/usage`'s `groups`: the report's
// rows (already clipped to the period, promotions included) summed per group, with each group's
// name, size and element counts by state from the store. Amounts are added in micro-units, so a
// group's total is exact; GPU-seconds come from the exact milli-GPU-milliseconds.
import { moneyToNumber, type Micros } from '../core/pricing/money.js';
import type { UsageReport } from '../core/pricing/report.js';
import type { UsageGroup } from '../protocol/arrays.js';
import type { GroupRef, GroupStore } from '../store/groups.js';


interface Sum {
  ref: GroupRef;
  tasks: Set<string>;
  milliMs: bigint;
  list: Micros;
  discount: Micros;
  charged: Micros;
  promotions: Set<string>;
}

/** The report's rows summed per array, map and sweep; tasks in none are left out. Newest group first within a tenant. */
export async function usageGroups(report: Pick<UsageReport, 'rows'>, store: GroupStore): Promise<UsageGroup[]> {
  const of = await store.groupsOfTasks(report.rows.map((r) => r.taskId));
  const sums = new Map<string, Sum>();
  for (const r of report.rows) {
    const ref = of.get(r.taskId);
    if (!ref) continue;
    let s = sums.get(ref.id);
    if (!s) sums.set(ref.id, (s = { ref, tasks: new Set(), milliMs: 0n, list: 0n, discount: 0n, charged: 0n, promotions: new Set() }));
    s.tasks.add(r.taskId);
    s.milliMs += r.gpuMilliMs;
    s.list += r.listAmount;
    s.discount += r.discountAmount;
    s.charged += r.chargedAmount;
    for (const p of r.promotions) s.promotions.add(p);
  }
  if (sums.size === 0) return [];
  const out: UsageGroup[] = [];
  for (const g of await store.summarizeGroups([...sums.keys()])) {
    const s = sums.get(g.id)!;
    out.push({
      kind: g.kind,
      id: g.id,
      name: g.name,
      tenant: g.tenant,
      createdAt: new Date(g.createdAt).toISOString(),
      size: g.size,
      counts: g.counts,
      tasks: s.tasks.size,
      // 1e6 milli-GPU-ms is one GPU-second, as the report's rows.
      gpuSeconds: Number(s.milliMs) / 1e6,
      listAmount: moneyToNumber(s.list),
      discountAmount: moneyToNumber(s.discount),
      chargedAmount: moneyToNumber(s.charged),
      listMicros: s.list.toString(),
      discountMicros: s.discount.toString(),
      chargedMicros: s.charged.toString(),
      promotions: [...s.promotions].sort(),
    });
  }
  return out.sort((a, b) => (a.tenant === b.tenant ? b.createdAt.localeCompare(a.createdAt) || (a.id < b.id ? -1 : 1) : a.tenant < b.tenant ? -1 : 1));
}
