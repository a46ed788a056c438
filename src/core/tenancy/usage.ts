// Adapters from the domain model (tasks, reservations, nodes) to what fair share, quotas and
// preemption read, so the scheduler and the server derive them the same way.
import type { GpuRequest, NodeRecord, Task, VgpuReservation } from '../types.js';
import type { FairShareTask } from './fairshare.js';
import type { RunningTaskInfo } from './preemption.js';
import type { ResourceVector } from './types.js';

/** GPU capacity of the READY nodes: 1000 milli and the memory of each GPU. */
export function poolCapacity(nodes: readonly NodeRecord[]): ResourceVector {
  const cap: ResourceVector = { gpuMilli: 0, gpuMemoryMiB: 0 };
  for (const n of nodes) {
    if (n.state !== 'READY') continue;
    for (const g of n.gpus) {
      cap.gpuMilli += 1000;
      cap.gpuMemoryMiB += g.memoryMiB;
    }
  }
  return cap;
}

/**
 * GPU resources held per tenant: placed tasks plus placed vGPU reservations. A task running
 * inside a reservation holds nothing of its own (the reservation holds the slice).
 */
export function tenantUsage(active: readonly Task[], reservations: readonly VgpuReservation[] = []): Map<string, ResourceVector> {
  const out = new Map<string, ResourceVector>();
  const add = (tenant: string, gpuMilli: number, gpuMemoryMiB: number): void => {
    let u = out.get(tenant);
    if (!u) out.set(tenant, (u = { gpuMilli: 0, gpuMemoryMiB: 0 }));
    u.gpuMilli += gpuMilli;
    u.gpuMemoryMiB += gpuMemoryMiB;
  };
  for (const t of active) {
    const p = t.placement;
    if (!p || p.vgpuId !== undefined) continue;
    add(t.spec.tenant, p.gpuMilli * p.gpus.length, p.memoryMiB * p.gpus.length);
  }
  for (const r of reservations) {
    const p = r.placement;
    if (r.state !== 'ACTIVE' || !p) continue;
    add(r.tenant, p.gpuMilli * p.gpus.length, p.memoryMiB * p.gpus.length);
  }
  return out;
}

/** GPU milli held per tenant (what quota checks and preemption read). */
export function tenantMilli(usage: ReadonlyMap<string, ResourceVector>): Map<string, number> {
  return new Map([...usage].map(([k, v]) => [k, v.gpuMilli]));
}

/**
 * What a GPU request asks for in total, before placement. A memory share counts its memory and
 * no milli; a TFLOPS share counts nothing unless `resolve` (e.g. the smallest fitting model)
 * says what it becomes.
 */
export function gpuDemand(gpu: GpuRequest | null, resolve?: (gpu: GpuRequest) => { milli: number; memoryMiB: number } | undefined): ResourceVector {
  if (!gpu) return { gpuMilli: 0, gpuMemoryMiB: 0 };
  const r = resolve?.(gpu);
  if (r) return { gpuMilli: r.milli * gpu.count, gpuMemoryMiB: r.memoryMiB * gpu.count };
  const milli = gpu.share.kind === 'milli' ? gpu.share.milli : 0;
  const mem = gpu.memoryMiB ?? (gpu.share.kind === 'memory' ? gpu.share.memoryMiB : 0);
  return { gpuMilli: milli * gpu.count, gpuMemoryMiB: mem * gpu.count };
}

/** A pending task as the fair-share order reads it. */
export function fairShareTaskOf(task: Task, resolve?: Parameters<typeof gpuDemand>[1]): FairShareTask & { task: Task } {
  const d = gpuDemand(task.spec.resources.gpu, resolve);
  return { id: task.id, tenant: task.spec.tenant, priority: task.spec.priority, submittedAt: task.createdAt, gpuMilli: d.gpuMilli, gpuMemoryMiB: d.gpuMemoryMiB, task };
}

/**
 * A placed task as preemption reads it. `borrowed`: it was admitted above its tenant's
 * guarantee, which makes it preemptible whatever its spec says.
 */
export function runningInfoOf(task: Task, borrowed = false): RunningTaskInfo & { task: Task } {
  const p = task.placement;
  return {
    id: task.id,
    tenant: task.spec.tenant,
    priority: task.spec.priority,
    startedAt: task.startedAt ?? task.scheduledAt ?? task.createdAt,
    preemptible: task.spec.preemptible || borrowed,
    gpuMilli: p && p.vgpuId === undefined ? p.gpuMilli * p.gpus.length : 0,
    task,
  };
}
