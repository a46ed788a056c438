// first-fit: the first node (in cluster order) where the request fits, and its first fitting GPUs.
import { amountOn, hostFits, type ResolvedPodRequest } from './cluster.js';
import { RankedIndex } from './ranked.js';
import { chooseBest } from './scored.js';
import { choice, firstFitGpus } from './select.js';
import type { ClusterView, PlacementChoice, PlacementContext, PlacementPolicy } from './types.js';

export const firstFit: PlacementPolicy = {
  name: 'first-fit',
  choose(cluster: ClusterView, req: ResolvedPodRequest, ctx: PlacementContext): PlacementChoice | null {
    // With memos and a change feed: every fitting node scores alike and ties go to the first
    // position, which is the node the loop below finds, without walking the full nodes each time.
    const index = cluster.changes ? ctx.memos?.get('first-fit', () => new RankedIndex()) : undefined;
    if (index) {
      return chooseBest(cluster, req, ctx, (node, r, amount) => {
        const gpus = firstFitGpus(node, amount, r.gpuCount);
        return gpus ? { score: 0, gpuIdx: gpus } : null;
      }, { index, positionTies: true });
    }
    for (const node of cluster.nodes) {
      if (!hostFits(node, req)) continue;
      const amount = amountOn(node, req);
      if (!amount) continue;
      const gpus = firstFitGpus(node, amount, req.gpuCount);
      if (gpus) return choice(node, amount, gpus);
    }
    return null;
  },
};
