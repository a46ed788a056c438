// The greedy plan an `lp` model starts from, and the candidate nodes of each group (lp.ts).
import { amountOn, fittingGpus, nodeFits, type ClusterState, type ResolvedPodRequest } from './cluster.js';
import type { NodeSlot, PlacementChoice } from './types.js';

/** What the plan needs of a model group: its request, items (queue positions), count, and whether a gang. */
export interface PlanGroup {
  req: ResolvedPodRequest;
  items: readonly number[];
  count: number;
  gang: boolean;
}

export function freeMilli(n: NodeSlot): number {
  let s = 0;
  for (const g of n.gpus) s += g.freeMilli;
  return s;
}

/** The nodes where `req` fits now, tightest first, at most `k`. */
export function candidateNodes(cluster: ClusterState, req: ResolvedPodRequest, k: number): NodeSlot[] {
  const fit: NodeSlot[] = [];
  for (const n of cluster.nodes) if (nodeFits(n, req)) fit.push(n);
  const free = new Map(fit.map((n) => [n, freeMilli(n)]));
  fit.sort((a, b) => free.get(a)! - free.get(b)! || a.cpuMilliFree - b.cpuMilliFree || a.pos - b.pos);
  return fit.slice(0, k);
}

/** One-at-a-time placement on the cluster as it is (nothing allocated). */
export type Fill = (req: ResolvedPodRequest) => PlacementChoice | null;

/** A replica's place in the greedy plan: node position and GPU indices. */
export interface Planned {
  pos: number;
  gpuIdx: number[];
}

/**
 * The plan the model starts from: the items in queue order, each placed by `fill` (the scheduler's
 * own policy, `default`) or else on the tightest node, against what the plan used so far; a gang
 * whole or not at all. Its nodes join each group's candidates, so the model can always do what the
 * plan does, and the solver starts from it (a budget stop keeps at least the plan).
 */
export function planGreedy(cluster: ClusterState, groups: readonly PlanGroup[], fill?: Fill): Planned[][] {
  // Planned on the cluster itself (no copy of a large pool per batch), and all taken back after.
  const undo: { c: PlacementChoice; req: ResolvedPodRequest }[] = [];
  const plan: Planned[][] = groups.map(() => []);
  // In queue order (the order the items came in), as the one-at-a-time walk would place them.
  const order: { gi: number; item: number }[] = [];
  groups.forEach((g, gi) => {
    for (const item of g.items) order.push({ gi, item });
  });
  order.sort((a, b) => a.item - b.item);
  for (const { gi } of order) {
    const g = groups[gi]!;
    const n = g.gang ? g.count : 1;
    const done: PlacementChoice[] = [];
    for (let rep = 0; rep < n; rep++) {
      const c = fill ? fill(g.req) : tightest(cluster, g.req);
      if (!c) break;
      cluster.allocate(c, g.req);
      done.push(c);
    }
    if (done.length < n) {
      for (const c of done.reverse()) cluster.release(c.nodePos, c.gpuIdx, c.gpuMilli, c.gpuMemoryMiB, g.req.cpuMilli, g.req.memoryMiB);
      continue;
    }
    for (const c of done) {
      undo.push({ c, req: g.req });
      plan[gi]!.push({ pos: c.nodePos, gpuIdx: [...c.gpuIdx] });
    }
  }
  for (let i = undo.length - 1; i >= 0; i--) {
    const { c, req } = undo[i]!;
    cluster.release(c.nodePos, c.gpuIdx, c.gpuMilli, c.gpuMemoryMiB, req.cpuMilli, req.memoryMiB);
  }
  return plan;
}

/** The tightest node where `req` fits (least free GPU compute, then CPU, then position), on its fullest fitting GPUs. */
function tightest(cluster: ClusterState, req: ResolvedPodRequest): PlacementChoice | null {
  let best: NodeSlot | null = null;
  let bestFree = Infinity;
  for (const n of cluster.nodes) {
    if (!nodeFits(n, req)) continue;
    const f = freeMilli(n);
    if (f < bestFree || (f === bestFree && best && n.cpuMilliFree < best.cpuMilliFree)) {
      best = n;
      bestFree = f;
    }
  }
  if (!best) return null;
  const node = best;
  const amount = amountOn(node, req)!;
  const gpuIdx = fittingGpus(node, amount)
    .sort((a, b) => node.gpus[a]!.freeMilli - node.gpus[b]!.freeMilli || a - b)
    .slice(0, req.gpuCount);
  return { nodePos: node.pos, gpuIdx, gpuMilli: amount.gpuMilli, gpuMemoryMiB: amount.gpuMemoryMiB };
}

