// The reserved-start walk as it was before the kept what-if cluster (what-if.ts): on a fresh copy of
// the cluster per head, whose memos and indexes start cold. The reference that backfill.test.ts checks
// reserveStart against, and the baseline `bench:placement -- --reserve` times it against.
import { nodeFits, type ClusterState, type ResolvedPodRequest } from '../placement/cluster.js';
import type { PlacementContext, PlacementPolicy } from '../placement/types.js';
import { placeAll, type Shadow } from './backfill.js';
import type { Hold } from './capacity.js';

export function reserveStartOnCopy(cluster: ClusterState, holds: readonly Hold[], reqs: readonly ResolvedPodRequest[], placer: PlacementPolicy, ctx: PlacementContext): Shadow | null {
  const sorted = [...holds].sort((a, b) => a.end - b.end);
  const c = cluster.clone();
  for (let i = 0; i < sorted.length; ) {
    const end = sorted[i]!.end;
    const changed = new Set<number>();
    for (; i < sorted.length && sorted[i]!.end === end; i++) {
      const h = sorted[i]!;
      c.release(h.nodePos, h.gpuIdx, h.gpuMilli, h.gpuMemoryMiB, h.cpuMilli, h.memoryMiB);
      changed.add(h.nodePos);
    }
    if (![...changed].some((p) => nodeFits(c.nodes[p]!, reqs[0]!))) continue;
    // The caller's memos, as the scheduler passed them: keyed by the copy's nodes, so cold.
    const choices = placeAll(c, c, reqs, placer, ctx);
    if (choices) return { startAt: end, state: c, choices, nodes: new Set(choices.map((ch) => ch.nodePos)) };
  }
  return null;
}
