// Warm headroom and scale-ahead: the room the pool keeps ready before anything waits for it, as
// placeholder demand (the way Kubernetes users overprovision with low-priority pause pods). The
// autoscaler packs the placeholders onto the room the pool has and asks for nodes for the rest, so
// the same first-fit planning that serves real demand decides which shapes to keep warm.
import { MILLI_PER_GPU, type ResourceRequest } from '../types.js';
import { PlannedNode } from './pack.js';
import type { Arrival, HeadroomPolicy, OtherRoom, PendingDemand } from './types.js';

/** Placeholder ids start with this; they are never a task's id (tasks are `t_…`). */
export const HEADROOM_ID = 'headroom#';

export const isPlaceholder = (taskId: string): boolean => taskId.startsWith(HEADROOM_ID);

/** One idle GPU of any model: what `spareGpus` keeps ready, one each. */
const ONE_GPU: ResourceRequest = { gpu: { count: 1, share: { kind: 'milli', milli: MILLI_PER_GPU } }, cpuMilli: 0, memoryMiB: 0 };

/** What the headroom asks room for now, and why (for the decisions' reasons). */
export interface HeadroomTarget {
  placeholders: PendingDemand[];
  /** Arrivals inside the forecast window. */
  recent: number;
  /** GPUs those arrivals asked for (fractions add up), before the factor. */
  recentGpus: number;
}

/**
 * The placeholders: `spareNodes` of `nodeGpus` GPUs each (the widest offer's), `spareGpus` one-GPU
 * ones, then the arrivals of the last window again, newest first, cycled until there are
 * ceil(factor × arrivals) of them.
 */
export function headroomTarget(policy: HeadroomPolicy | undefined, arrivals: readonly Arrival[], now: number, nodeGpus = 0): HeadroomTarget {
  const placeholders: PendingDemand[] = [];
  if (policy === undefined) return { placeholders, recent: 0, recentGpus: 0 };
  const add = (resources: ResourceRequest, replicas: number): void => {
    placeholders.push({ taskId: `${HEADROOM_ID}${placeholders.length}`, resources, replicas, reason: null, pendingSince: now });
  };
  if (nodeGpus > 0) for (let i = 0; i < (policy.spareNodes ?? 0); i++) add({ ...ONE_GPU, gpu: { count: nodeGpus, share: { kind: 'milli', milli: MILLI_PER_GPU } } }, 1);
  for (let i = 0; i < policy.spareGpus; i++) add(ONE_GPU, 1);
  const recent = policy.forecastFactor > 0 ? arrivals.filter((a) => a.at <= now && now - a.at <= policy.forecastWindowMs).sort((a, b) => b.at - a.at) : [];
  const copies = Math.ceil(policy.forecastFactor * recent.length);
  for (let i = 0; i < copies; i++) {
    const a = recent[i % recent.length]!;
    add(a.resources, a.replicas);
  }
  const recentGpus = recent.reduce((sum, a) => sum + a.replicas * gpusOf(a.resources), 0);
  return { placeholders, recent: recent.length, recentGpus };
}

/** GPUs a request takes (a fraction for a shared GPU; a memory or TFLOPS share counts as one). */
function gpusOf(r: ResourceRequest): number {
  if (r.gpu === null) return 0;
  return r.gpu.count * (r.gpu.share.kind === 'milli' ? r.gpu.share.milli / MILLI_PER_GPU : 1);
}

/** The room on a node the autoscaler did not lend, as a node to pack placeholders onto. */
export function otherRoomNode(o: OtherRoom): PlannedNode {
  const offer = {
    provider: '',
    shape: o.name,
    gpuModel: o.gpuModel,
    gpuCount: o.free.gpuMilli.length,
    gpuMemoryMiB: o.gpuMemoryMiB,
    gpuTflops: o.gpuTflops,
    cpuMilli: o.free.cpuMilli,
    memoryMiB: o.free.memoryMiB,
  };
  return new PlannedNode(offer, o.free);
}
