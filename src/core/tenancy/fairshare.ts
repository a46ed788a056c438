// Weighted dominant-resource fair share (DRF) over GPU milli and GPU memory, and the queue
// order it gives: priority within a tenant; across tenants, the lowest weighted dominant share
// goes next, the share growing as its tasks are notionally admitted, so that one tenant does
// not take everything; then submit time.
import type { ResourceVector, Tenant } from './types.js';

/**
 * max(usage/capacity over GPU milli and GPU memory) / weight. A resource with no capacity
 * counts as 0; a weight ≤ 0 gives Infinity (such a tenant is served last).
 * @example dominantShare({gpuMilli: 2000, gpuMemoryMiB: 10240}, {gpuMilli: 8000, gpuMemoryMiB: 655360}, 2) // 0.125
 */
export function dominantShare(usage: ResourceVector, capacity: ResourceVector, weight: number): number {
  if (!(weight > 0)) return Infinity;
  const milli = capacity.gpuMilli > 0 ? usage.gpuMilli / capacity.gpuMilli : 0;
  const mem = capacity.gpuMemoryMiB > 0 ? usage.gpuMemoryMiB / capacity.gpuMemoryMiB : 0;
  return Math.max(milli, mem) / weight;
}

/** What the queue order needs of a pending task; GPU amounts are totals over its GPUs. */
export interface FairShareTask {
  id: string;
  tenant: string;
  priority: number;
  submittedAt: number;
  gpuMilli: number;
  gpuMemoryMiB: number;
}

export interface FairShareOptions {
  /**
   * Compare the head tasks' priorities across tenants before their shares (a global priority
   * order with fair share breaking ties). Default false: priority orders within a tenant only.
   */
  priorityFirst?: boolean;
}

/** Tenants by name, as a map or a list; an unknown tenant has weight 1. */
export type TenantsArg = ReadonlyMap<string, Pick<Tenant, 'weight'>> | readonly Tenant[];

export function weightLookup(tenants: TenantsArg): (name: string) => number {
  const map = Array.isArray(tenants) ? new Map((tenants as readonly Tenant[]).map((t) => [t.name, t])) : (tenants as ReadonlyMap<string, Pick<Tenant, 'weight'>>);
  return (name) => map.get(name)?.weight ?? 1;
}

/** Within a tenant: higher priority, then earlier submitted, then id. */
export function withinTenantOrder(a: FairShareTask, b: FairShareTask): number {
  return b.priority - a.priority || a.submittedAt - b.submittedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The queue order of pending tasks. `usageByTenant` is what each tenant holds now (running
 * tasks); `capacity` the pool's total. Pure and deterministic; O(n log t) for n tasks, t tenants.
 * @example orderByFairShare(pending, usage, {gpuMilli: 8000, gpuMemoryMiB: 655360}, tenants).map((t) => t.id)
 */
export function orderByFairShare<T extends FairShareTask>(
  pendingTasks: readonly T[],
  usageByTenant: ReadonlyMap<string, ResourceVector>,
  capacity: ResourceVector,
  tenants: TenantsArg,
  opts: FairShareOptions = {},
): T[] {
  const weightOf = weightLookup(tenants);
  const queues = new Map<string, T[]>();
  for (const t of pendingTasks) {
    let q = queues.get(t.tenant);
    if (!q) queues.set(t.tenant, (q = []));
    q.push(t);
  }
  interface Lane {
    tenant: string;
    queue: T[];
    next: number;
    usage: ResourceVector;
    weight: number;
    share: number;
  }
  const lanes: Lane[] = [];
  for (const [tenant, queue] of queues) {
    queue.sort(withinTenantOrder);
    const u = usageByTenant.get(tenant) ?? { gpuMilli: 0, gpuMemoryMiB: 0 };
    const usage = { gpuMilli: u.gpuMilli, gpuMemoryMiB: u.gpuMemoryMiB };
    const weight = weightOf(tenant);
    lanes.push({ tenant, queue, next: 0, usage, weight, share: dominantShare(usage, capacity, weight) });
  }
  const out: T[] = [];
  const goesBefore = (a: Lane, b: Lane): boolean => {
    const ha = a.queue[a.next]!;
    const hb = b.queue[b.next]!;
    if (opts.priorityFirst && ha.priority !== hb.priority) return ha.priority > hb.priority;
    if (a.share !== b.share) return a.share < b.share;
    if (ha.submittedAt !== hb.submittedAt) return ha.submittedAt < hb.submittedAt;
    return a.tenant < b.tenant;
  };
  // A binary heap of lanes by `goesBefore`: O(n log t).
  const heap = lanes.filter((l) => l.queue.length > 0);
  const swap = (i: number, j: number): void => {
    const t = heap[i]!;
    heap[i] = heap[j]!;
    heap[j] = t;
  };
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && goesBefore(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && goesBefore(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  };
  for (let i = Math.floor(heap.length / 2) - 1; i >= 0; i--) down(i);
  while (heap.length > 0) {
    const best = heap[0]!;
    const task = best.queue[best.next++]!;
    out.push(task);
    best.usage.gpuMilli += task.gpuMilli;
    best.usage.gpuMemoryMiB += task.gpuMemoryMiB;
    best.share = dominantShare(best.usage, capacity, best.weight);
    if (best.next >= best.queue.length) {
      const last = heap.pop()!;
      if (heap.length > 0) heap[0] = last;
    }
    down(0);
  }
  return out;
}
