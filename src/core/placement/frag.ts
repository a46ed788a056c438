// GPU fragmentation as the FGD paper (ATC'23) and its published simulator measure it.
//
// A node's free GPU capacity is "fragmented" for a typical request when that request cannot use it:
// - the request cannot run on the node at all (too few fitting GPUs, too little CPU, wrong model,
//   or it asks for no GPU): all the node's free GPU milli count as fragmented for it;
// - it can run: the free milli of the GPUs too small for it count as fragmented.
// The node's fragmentation is the popularity-weighted sum over the typical requests; the cluster's is
// the sum over nodes, and its ratio is that sum over the free GPU milli of the cluster.
import type { ClusterView, NodeSlot, WorkloadClass } from './types.js';

/** Whether a node of `model` may run class `k` (its model list empty = any). */
export function classAllowsModel(k: WorkloadClass, model: string): boolean {
  return !k.models || k.models.length === 0 || k.models.includes(model);
}

/**
 * Fragmented GPU milli of a node state against `workload`. The state is given as numbers so that
 * what-if states can be measured without copying nodes: `frees` are the free milli of each GPU.
 * As published, only CPU and GPU compute are considered (not host RAM nor GPU memory).
 */
export function fragOf(model: string, cpuFree: number, frees: ArrayLike<number>, workload: readonly WorkloadClass[]): number {
  let total = 0;
  for (let i = 0; i < frees.length; i++) total += frees[i]!;
  if (total === 0) return 0;
  let frag = 0;
  for (const k of workload) {
    if (k.gpuMilli === 0 || k.gpuCount === 0 || !classAllowsModel(k, model) || cpuFree < k.cpuMilli) {
      frag += k.weight * total;
      continue;
    }
    let fit = 0;
    let small = 0;
    for (let i = 0; i < frees.length; i++) {
      const f = frees[i]!;
      if (f >= k.gpuMilli) fit++;
      else small += f;
    }
    frag += k.weight * (fit >= k.gpuCount ? small : total);
  }
  return frag;
}

/** Free milli of each GPU of `node`. */
export function freeList(node: NodeSlot): number[] {
  return node.gpus.map((g) => g.freeMilli);
}

/** Fragmented GPU milli of `node` as it is now. */
export function nodeFrag(node: NodeSlot, workload: readonly WorkloadClass[]): number {
  return fragOf(node.model, node.cpuMilliFree, freeList(node), workload);
}

export interface ClusterFrag {
  /** Fragmented GPU milli, summed over nodes. */
  amount: number;
  /** Free GPU milli of the cluster. */
  idle: number;
  /** amount / idle, in [0, 1]; 0 when nothing is idle. */
  ratio: number;
}

/** Fragmentation of the whole cluster against `workload`. */
export function clusterFrag(cluster: ClusterView, workload: readonly WorkloadClass[]): ClusterFrag {
  let amount = 0;
  let idle = 0;
  for (const n of cluster.nodes) {
    amount += nodeFrag(n, workload);
    for (const g of n.gpus) idle += g.freeMilli;
  }
  return { amount, idle, ratio: idle > 0 ? amount / idle : 0 };
}
