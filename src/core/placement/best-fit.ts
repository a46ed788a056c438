// best-fit: the node left with the least free capacity after placing the request.
// As the published simulator's BestFit: score = Σ wᵢ (freeᵢ − reqᵢ) / maxSpecᵢ over CPU and GPU
// (weights ½, ½; maxSpec 128 cores and 8 GPUs), lowest wins; inside the node the fullest fitting GPUs.
import type { ResolvedPodRequest } from './cluster.js';
import { chooseBest, memoOpts } from './scored.js';
import { bestFitGpus, type Candidate } from './select.js';
import type { ClusterView, PlacementChoice, PlacementContext, PlacementPolicy } from './types.js';

export const MAX_SPEC_CPU_MILLI = 128_000;
export const MAX_SPEC_GPU_MILLI = 8_000;

/** Free GPU milli summed over the node's GPUs. */
export function nodeFreeMilli(c: Candidate): number {
  let s = 0;
  for (const g of c.node.gpus) s += g.freeMilli;
  return s;
}

/** The published integer score in [0, 100], higher is better. */
export function bestFitScore(c: Candidate, req: ResolvedPodRequest): number {
  const cpuLeft = c.node.cpuMilliFree - req.cpuMilli;
  const gpuLeft = nodeFreeMilli(c) - c.amount.gpuMilli * req.gpuCount;
  const waste = (0.5 * cpuLeft) / MAX_SPEC_CPU_MILLI + (0.5 * gpuLeft) / MAX_SPEC_GPU_MILLI;
  return Math.trunc((1 - waste) * 100);
}

export const bestFit: PlacementPolicy = {
  name: 'best-fit',
  choose(cluster: ClusterView, req: ResolvedPodRequest, ctx: PlacementContext): PlacementChoice | null {
    return chooseBest(
      cluster,
      req,
      ctx,
      (node, r, amount) => {
        const gpus = bestFitGpus(node, amount, r.gpuCount);
        return gpus ? { score: bestFitScore({ node, amount }, r), gpuIdx: gpus } : null;
      },
      memoOpts(ctx, 'best-fit'),
    );
  },
};
