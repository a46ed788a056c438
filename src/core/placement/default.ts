// FastGPU's default placement: fragmentation gradient descent made CPU-aware and consolidating.
//
// For each node where the request fits, and each way to place it there, score
//   ⌊(Δfrag − β·Δstranded) / B⌋ − waste
// where
// - Δfrag = frag(before) − frag(after): the FGD gradient against the expected workload (frag.ts);
// - stranded(s) = max(0, freeGpuMilli − cpuFree / c̄): GPU capacity the node's remaining CPU cannot
//   feed at the workload's average CPU per GPU milli c̄ (FGD sees CPU only as fit/no-fit per class);
// - B (40 milli) buckets near-equal gradients so that the next criteria decide among them;
// - waste ∈ [0, 1): the best-fit measure (free CPU and GPU left on the node, normalised), so among
//   equally good nodes the fullest wins; then the smallest node name (stable, reproducible).
// The workload comes from ctx.workload (the caller's estimate, e.g. a WorkloadEstimator) or, when
// absent, is the request itself. Evaluations are memoised per node state and request shape in the
// caller's ctx.memos, so a scheduler cycle only re-scores the nodes that changed.
import type { ResolvedPodRequest } from './cluster.js';
import { MAX_SPEC_CPU_MILLI, MAX_SPEC_GPU_MILLI } from './best-fit.js';
import { fragNow, forEachOutcome, fragMemos } from './fgd.js';
import { EvalMemo, chooseBest, type NodeEval } from './scored.js';
import { typicalWorkload, workloadOr, type TypicalOptions } from './workload.js';
import type { NodeSlot, PlacementPolicy, PodRequest, WorkloadClass } from './types.js';

/** Gradient bucket, milli-GPU. */
export const BUCKET_MILLI = 40;
/** Weight of stranded GPU milli against fragmented milli. */
export const STRANDED_WEIGHT = 0.5;

const cpuPerMilliCache = new WeakMap<readonly WorkloadClass[], number>();

/** Average CPU milli per GPU milli over the GPU classes of `w` (popularity-weighted). */
export function cpuPerGpuMilli(w: readonly WorkloadClass[]): number {
  let v = cpuPerMilliCache.get(w);
  if (v === undefined) {
    let cpu = 0;
    let milli = 0;
    for (const k of w) {
      if (k.gpuCount === 0) continue;
      cpu += k.weight * k.cpuMilli;
      milli += k.weight * k.gpuMilli * k.gpuCount;
    }
    v = milli > 0 && cpu > 0 ? cpu / milli : 0;
    cpuPerMilliCache.set(w, v);
  }
  return v;
}

/** GPU milli the CPU left cannot feed (0 when the workload asks no CPU with its GPUs). */
export function strandedMilli(freeGpuMilli: number, cpuFree: number, cpuPerMilli: number): number {
  return cpuPerMilli > 0 ? Math.max(0, freeGpuMilli - cpuFree / cpuPerMilli) : 0;
}

function freeTotal(node: NodeSlot): number {
  let s = 0;
  for (const g of node.gpus) s += g.freeMilli;
  return s;
}

/**
 * How the default policy summarises a request mix: every shape (no popularity cut), weighted 90 % by
 * how often it comes and 10 % by the GPU it brings, so rare large requests keep a place to land.
 */
export const DEFAULT_WORKLOAD_OPTIONS: TypicalOptions = { coverage: 1, gpuWeightShare: 0.1 };

/** The workload the default policy expects for a list of requests (pass it as ctx.workload). */
export function defaultWorkload(requests: readonly PodRequest[]): WorkloadClass[] {
  return typicalWorkload(requests, DEFAULT_WORKLOAD_OPTIONS);
}

/** Exponent of the scarcity weighting (0: off). */
export const SCARCITY_EXPONENT: number = 1;

const scarce = new WeakMap<readonly WorkloadClass[], WeakMap<readonly NodeSlot[], WorkloadClass[]>>();

/**
 * `w` with each class's weight divided by the share of the pool's GPUs that could hold it if empty
 * (model, GPU count, CPU and RAM of the node), then renormalised: a request that few nodes can hold
 * weighs more, because its room is hard to find again once broken (8 whole GPUs with 120 cores fit
 * only the largest nodes). Depends only on the nodes' totals, so per-node memos stay valid.
 */
export function scarcityWeighted(w: readonly WorkloadClass[], nodes: readonly NodeSlot[]): readonly WorkloadClass[] {
  if (SCARCITY_EXPONENT === 0 || w.length === 0) return w;
  let byNodes = scarce.get(w);
  if (!byNodes) scarce.set(w, (byNodes = new WeakMap()));
  let out = byNodes.get(nodes);
  if (out) return out;
  let total = 0;
  for (const n of nodes) total += n.gpus.length;
  const sum = w.reduce((a, k) => a + k.weight, 0);
  const raw = w.map((k) => {
    if (k.gpuCount === 0 || total === 0) return k.weight;
    let able = 0;
    for (const n of nodes) {
      if (n.gpus.length < k.gpuCount || n.cpuMilliTotal < k.cpuMilli || n.memoryMiBTotal < k.memoryMiB) continue;
      if (k.models && k.models.length > 0 && !k.models.includes(n.model)) continue;
      able += n.gpus.length;
    }
    return able === 0 ? 0 : k.weight * Math.pow(total / able, SCARCITY_EXPONENT);
  });
  const rawSum = raw.reduce((a, b) => a + b, 0);
  out = w.map((k, i) => ({ ...k, weight: rawSum > 0 ? (raw[i]! * sum) / rawSum : k.weight }));
  byNodes.set(nodes, out);
  return out;
}

export const defaultPolicy: PlacementPolicy = {
  name: 'default',
  choose(cluster, req: ResolvedPodRequest, ctx) {
    const w = workloadOr(ctx.workload, req, DEFAULT_WORKLOAD_OPTIONS);
    const c = cpuPerGpuMilli(w);
    // The cluster's own nodes when the view narrows one: same totals, so the same weights, and one
    // workload object (hence one set of memos and indexes) for the cluster and its views.
    const wl = scarcityWeighted(w, cluster.changes?.nodes ?? cluster.nodes);
    const { evals, before } = fragMemos(ctx, 'default').get(wl);
    return chooseBest(
      cluster,
      req,
      ctx,
      (node, r, amount, nodes): NodeEval | null => {
        const f0 = fragNow(nodes, node, wl, before);
        const free = freeTotal(node);
        const left = free - amount.gpuMilli * r.gpuCount;
        const cpuLeft = node.cpuMilliFree - r.cpuMilli;
        const dStranded = strandedMilli(left, cpuLeft, c) - strandedMilli(free, node.cpuMilliFree, c);
        const waste = (0.5 * left) / MAX_SPEC_GPU_MILLI + (0.5 * cpuLeft) / MAX_SPEC_CPU_MILLI;
        let best: NodeEval | null = null;
        forEachOutcome(node, r, amount, wl, (gpuIdx, f1) => {
          const score = Math.floor((f0 - f1 - STRANDED_WEIGHT * dStranded) / BUCKET_MILLI) - Math.min(waste, 0.999999);
          if (!best || score > best.score) best = { score, gpuIdx };
        });
        return best;
      },
      // Indexes pay only when kept across calls (the caller's memos).
      { memo: evals, ...(ctx.memos ? { index: evals.index } : {}) },
    );
  },
};
