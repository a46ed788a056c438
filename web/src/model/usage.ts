// Usage per tenant × GPU model: from the server's priced report, or worked out from tasks.
import type { GpuView, TaskView, UsageReportJson } from '../types.js';

export interface UsageLine {
  tenant: string;
  gpuModel: string;
  gpuSeconds: number;
  tasks: number;
  list?: number;
  discount?: number;
  charged?: number;
  promotions: string[];
}

/** GPU-seconds per tenant × model from task placements clipped to [from, to). */
export function usageFromTasks(tasks: readonly TaskView[], gpus: readonly GpuView[], from: number, to: number): UsageLine[] {
  const model = new Map<string, string>();
  for (const g of gpus) model.set(`${g.nodeId}/${g.index}`, g.model);
  const lines = new Map<string, UsageLine & { ids: Set<string> }>();
  for (const t of tasks) {
    const p = t.placement;
    // A task inside a vGPU uses its reservation's slice; the reservation is what is metered.
    if (!p || !t.startedAt || p.gpus.length === 0 || p.vgpuId) continue;
    const start = Math.max(Date.parse(t.startedAt), from);
    const end = Math.min(t.finishedAt ? Date.parse(t.finishedAt) : Date.now(), to);
    if (!(end > start)) continue;
    const m = model.get(`${p.nodeId}/${p.gpus[0]}`) ?? 'unknown';
    const key = `${t.tenant}\u0000${m}`;
    let l = lines.get(key);
    if (!l) lines.set(key, (l = { tenant: t.tenant, gpuModel: m, gpuSeconds: 0, tasks: 0, promotions: [], ids: new Set() }));
    l.gpuSeconds += ((p.gpuMilli / 1000) * p.gpus.length * (end - start)) / 1000;
    l.ids.add(t.id);
    l.tasks = l.ids.size;
  }
  return [...lines.values()].map(({ ids: _ids, ...l }) => l).sort((a, b) => (a.tenant === b.tenant ? (a.gpuModel < b.gpuModel ? -1 : 1) : a.tenant < b.tenant ? -1 : 1));
}

/** The server's report (one row per tenant × task × model) summed per tenant × model. */
export function usageFromReport(r: UsageReportJson): UsageLine[] {
  const lines = new Map<string, UsageLine & { ids: Set<string>; promo: Set<string> }>();
  for (const row of r.rows) {
    const key = `${row.tenant}\u0000${row.gpuModel}`;
    let l = lines.get(key);
    if (!l) lines.set(key, (l = { tenant: row.tenant, gpuModel: row.gpuModel, gpuSeconds: 0, tasks: 0, list: 0, discount: 0, charged: 0, promotions: [], ids: new Set(), promo: new Set() }));
    l.gpuSeconds += row.gpuSeconds;
    l.list = (l.list ?? 0) + row.listAmount;
    l.discount = (l.discount ?? 0) + row.discountAmount;
    l.charged = (l.charged ?? 0) + row.chargedAmount;
    l.ids.add(row.taskId);
    l.tasks = l.ids.size;
    for (const p of row.promotions) l.promo.add(p);
  }
  return [...lines.values()].map(({ ids: _i, promo, ...l }) => ({ ...l, promotions: [...promo].sort() }));
}
