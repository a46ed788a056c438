// Cluster totals of the pool page, from GET /v1/gpus.
import type { GpuView } from '../types.js';

export interface Totals {
  capacityMilli: number;
  allocatedMilli: number;
  memoryMiB: number;
  allocatedMemoryMiB: number;
  fragmentedMilli: number;
  partlyUsed: number;
  idleGpus: number;
  largestFreeMilli: number;
  gpuCount: number;
  byTenant: Map<string, number>;
  utilSum: number;
  utilCount: number;
}

/** Totals over READY nodes' GPUs. Fragmented: free compute that lies only in partly used GPUs. */
export function totalsOf(list: readonly GpuView[]): Totals {
  const t: Totals = {
    capacityMilli: 0,
    allocatedMilli: 0,
    memoryMiB: 0,
    allocatedMemoryMiB: 0,
    fragmentedMilli: 0,
    partlyUsed: 0,
    idleGpus: 0,
    largestFreeMilli: 0,
    gpuCount: 0,
    byTenant: new Map(),
    utilSum: 0,
    utilCount: 0,
  };
  for (const g of list) {
    for (const s of g.slices) if (!(s.taskId && s.vgpuId)) t.byTenant.set(s.tenant, (t.byTenant.get(s.tenant) ?? 0) + s.milli);
    if (g.nodeState !== 'READY') continue;
    t.gpuCount++;
    t.capacityMilli += 1000;
    t.allocatedMilli += g.allocatedMilli;
    t.memoryMiB += g.memoryMiB;
    t.allocatedMemoryMiB += g.allocatedMemoryMiB;
    const free = Math.max(0, 1000 - g.allocatedMilli);
    if (g.allocatedMilli === 0) t.idleGpus++;
    else if (free > 0) {
      t.partlyUsed++;
      t.fragmentedMilli += free;
    }
    if (free > t.largestFreeMilli) t.largestFreeMilli = free;
    if (g.utilPercent !== undefined) {
      t.utilSum += g.utilPercent;
      t.utilCount++;
    }
  }
  return t;
}
