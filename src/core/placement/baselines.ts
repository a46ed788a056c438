// The baseline policies of the FGD paper's simulator (hkust-adsl/kubernetes-scheduler-simulator),
// reimplemented from their descriptions there, integer scores and all, so our runs match theirs.
// Ties between nodes go to the smallest node name, as in the published simulator's scheduler. That
// simulator also prefixes every node name with a seeded random rank, so there ties follow a random
// node order; gpu-clustering and gpu-packing tie often and feel it most (docs/placement.md).
import { gpuFits, gpuTaskKind, type PerGpuAmount, type ResolvedPodRequest } from './cluster.js';
import { MAX_SPEC_CPU_MILLI, MAX_SPEC_GPU_MILLI } from './best-fit.js';
import { chooseBest, indexOpts, memoOpts, type NodeEval } from './scored.js';
import { bestFitGpus } from './select.js';
import type { ClusterView, NodeSlot, PlacementChoice, PlacementContext, PlacementPolicy } from './types.js';

function freeTotal(node: NodeSlot): number {
  let s = 0;
  for (const g of node.gpus) s += g.freeMilli;
  return s;
}

/** random: a node drawn uniformly among those where the request fits; a random fitting GPU for a fraction. */
export const randomPolicy: PlacementPolicy = {
  name: 'random',
  choose(cluster: ClusterView, req: ResolvedPodRequest, ctx: PlacementContext): PlacementChoice | null {
    // All fitting nodes tie at 0, so chooseBest draws one uniformly; the GPUs are picked after.
    const c = chooseBest(
      cluster,
      req,
      ctx,
      (node, r, amount) => (bestFitGpus(node, amount, r.gpuCount) ? { score: 0, gpuIdx: [] } : null),
      { randomTies: true },
    );
    if (!c) return null;
    const node = cluster.nodes[c.nodePos]!;
    if (req.gpuCount === 1 && c.gpuMilli < 1000) {
      let pick = -1;
      let n = 0;
      for (let i = 0; i < node.gpus.length; i++) if (gpuFits(node.gpus[i]!, c) && ctx.rng() * ++n < 1) pick = i;
      return { ...c, gpuIdx: [pick] };
    }
    return { ...c, gpuIdx: bestFitGpus(node, c, req.gpuCount)! };
  },
};

/**
 * dotprod (Tetris): the node whose free (CPU, GPU) vector, normalised by the largest node spec, has
 * the smallest dot product with the request's; score ⌊100·(1 − dot/2)⌋.
 */
export function dotProdScore(node: NodeSlot, req: ResolvedPodRequest, amount: PerGpuAmount): number {
  const dot =
    (node.cpuMilliFree / MAX_SPEC_CPU_MILLI) * (req.cpuMilli / MAX_SPEC_CPU_MILLI) +
    (freeTotal(node) / MAX_SPEC_GPU_MILLI) * ((amount.gpuMilli * req.gpuCount) / MAX_SPEC_GPU_MILLI);
  return Math.trunc(100 * (1 - dot / 2));
}

export const dotProd: PlacementPolicy = {
  name: 'dotprod',
  choose(cluster, req: ResolvedPodRequest, ctx) {
    return chooseBest(
      cluster,
      req,
      ctx,
      (node, r, amount) => {
        const gpus = bestFitGpus(node, amount, r.gpuCount);
        return gpus ? { score: dotProdScore(node, r, amount), gpuIdx: gpus } : null;
      },
      memoOpts(ctx, 'dotprod'),
    );
  },
};

/**
 * gpu-clustering: put a GPU task with tasks of its own kind (fraction, 1, 2, … whole GPUs).
 * Bands: only its kind on the node (75–100], its kind among others (50–75], an idle node (25–50],
 * other kinds only [0–25]; within a band, fuller nodes score higher. CPU-only tasks score 0 everywhere.
 */
export function gpuClusteringScore(node: NodeSlot, req: ResolvedPodRequest, amount: PerGpuAmount): number {
  if (req.gpuCount === 0) return 0;
  const kinds = node.gpuTaskKinds ?? new Map<string, number>();
  const mine = kinds.get(gpuTaskKind(req.gpuCount, amount.gpuMilli)) ?? 0;
  // Integer arithmetic as published: 100/4 · (8000 − left) / 8000, truncated.
  const fill = Math.trunc((25 * (MAX_SPEC_GPU_MILLI - freeTotal(node))) / MAX_SPEC_GPU_MILLI);
  if (mine > 0) return kinds.size === 1 ? fill + 75 : fill + 50;
  return kinds.size === 0 ? fill + 25 : fill;
}

export const gpuClustering: PlacementPolicy = {
  name: 'gpu-clustering',
  choose(cluster, req: ResolvedPodRequest, ctx) {
    // No memo: the score reads the task kinds, which the free state does not determine. chooseBest
    // has already checked that enough GPUs fit, so the GPUs are picked on the chosen node only.
    const c = chooseBest(cluster, req, ctx, (node, r, amount) => ({ score: gpuClusteringScore(node, r, amount), gpuIdx: [] }), indexOpts(ctx, 'gpu-clustering'));
    if (!c) return null;
    return { ...c, gpuIdx: bestFitGpus(cluster.nodes[c.nodePos]!, c, req.gpuCount)! };
  },
};

/**
 * gpu-packing: prefer, in order, (1) sharing already-used GPUs (the less they have left, the better),
 * (2) whole free GPUs on a node already in use (the fewer, the better), (3) an idle node (the fewer
 * GPUs, the better). CPU-only tasks score 0 everywhere.
 */
export function gpuPackingScore(node: NodeSlot, req: ResolvedPodRequest, amount: PerGpuAmount, gpuIdx: readonly number[]): number {
  if (req.gpuCount === 0 || amount.gpuMilli <= 0) return 0;
  let fullyFree = 0;
  for (const g of node.gpus) if (g.freeMilli === g.totalMilli) fullyFree++;
  if (fullyFree === node.gpus.length) return Math.max(33 - fullyFree, fullyFree);
  let freeUsed = 0;
  let ratioSum = 0;
  for (const i of gpuIdx) {
    const g = node.gpus[i]!;
    if (g.freeMilli === g.totalMilli) freeUsed++;
    ratioSum += Math.trunc((g.freeMilli * 100) / 1000);
  }
  if (freeUsed > 0) return Math.max(50 - freeUsed, 33);
  return Math.max(100 - Math.trunc(ratioSum / 10), 50);
}

export const gpuPacking: PlacementPolicy = {
  name: 'gpu-packing',
  choose(cluster, req: ResolvedPodRequest, ctx) {
    return chooseBest(
      cluster,
      req,
      ctx,
      (node, r, amount): NodeEval | null => {
        const gpus = bestFitGpus(node, amount, r.gpuCount);
        return gpus ? { score: gpuPackingScore(node, r, amount, gpus), gpuIdx: gpus } : null;
      },
      memoOpts(ctx, 'gpu-packing'),
    );
  },
};

/** spread: the node with the most free GPU capacity (then CPU), and its emptiest fitting GPUs. */
export const spread: PlacementPolicy = {
  name: 'spread',
  choose(cluster, req: ResolvedPodRequest, ctx) {
    return chooseBest(cluster, req, ctx, (node, r, amount) => {
      const fit: number[] = [];
      for (let i = 0; i < node.gpus.length; i++) if (gpuFits(node.gpus[i]!, amount)) fit.push(i);
      if (fit.length < r.gpuCount) return null;
      fit.sort((a, b) => node.gpus[b]!.freeMilli - node.gpus[a]!.freeMilli || a - b);
      return { score: freeTotal(node) * 1e6 + node.cpuMilliFree, gpuIdx: fit.slice(0, r.gpuCount) };
    }, indexOpts(ctx, 'spread'));
  },
};
