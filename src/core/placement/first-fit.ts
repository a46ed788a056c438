// first-fit: the first node (in cluster order) where the request fits, and its first fitting GPUs.
import { amountOn, hostFits, type ResolvedPodRequest } from './cluster.js';
import { choice, firstFitGpus } from './select.js';
import type { ClusterView, PlacementChoice, PlacementPolicy } from './types.js';

export const firstFit: PlacementPolicy = {
  name: 'first-fit',
  choose(cluster: ClusterView, req: ResolvedPodRequest): PlacementChoice | null {
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
