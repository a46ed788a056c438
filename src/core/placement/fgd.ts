// fgd: Fragmentation Gradient Descent (Weng et al., USENIX ATC'23). Place the request where it
// increases the node's fragmentation (see frag.ts) the least. As published: node score
// ⌊100·sigmoid((fragBefore − fragAfter)/1000)⌋; for a fraction of a GPU, each fitting GPU is tried
// and the best (first on ties) kept; whole GPUs are taken from the fully free ones in index order.
import { gpuFits, type PerGpuAmount, type ResolvedPodRequest } from './cluster.js';
import { fragOf } from './frag.js';
import { EvalMemo, chooseBest, type NodeEval } from './scored.js';
import { bestFitGpus } from './select.js';
import { workloadOr } from './workload.js';
import type { NodeSlot, PlacementContext, PlacementPolicy, WorkloadClass } from './types.js';

/** Per workload: memo of evaluations and of each node state's fragmentation. */
export class FragMemos {
  private readonly byWorkload = new WeakMap<readonly WorkloadClass[], { evals: EvalMemo; before: EvalMemo }>();
  get(w: readonly WorkloadClass[]): { evals: EvalMemo; before: EvalMemo } {
    let m = this.byWorkload.get(w);
    if (!m) {
      m = { evals: new EvalMemo(), before: new EvalMemo() };
      this.byWorkload.set(w, m);
    }
    return m;
  }
}

/** The caller's memos of policy `key`, or fresh ones for this call only. */
export function fragMemos(ctx: PlacementContext, key: string): FragMemos {
  return ctx.memos?.get(key, () => new FragMemos()) ?? new FragMemos();
}

/** The node's fragmentation now, memoised per node state. */
export function fragNow(nodes: readonly NodeSlot[], node: NodeSlot, w: readonly WorkloadClass[], before: EvalMemo): number {
  const m = before.memo.forNode(nodes, node.pos);
  let v = m[0];
  if (!v) {
    v = { score: fragOf(node.model, node.cpuMilliFree, node.gpus.map((g) => g.freeMilli), w), gpuIdx: [] };
    m[0] = v;
  }
  return v.score;
}

/**
 * For each way to place `req` on `node` (each distinct fitting GPU for a fraction; the packed GPUs
 * otherwise), the fragmentation after. Calls `visit(gpuIdx, fragAfter)`.
 */
export function forEachOutcome(
  node: NodeSlot,
  req: ResolvedPodRequest,
  amount: PerGpuAmount,
  w: readonly WorkloadClass[],
  visit: (gpuIdx: number[], fragAfter: number) => void,
): void {
  const frees = node.gpus.map((g) => g.freeMilli);
  const cpu = node.cpuMilliFree - req.cpuMilli;
  if (req.gpuCount === 1 && amount.gpuMilli < 1000) {
    const tried: number[] = [];
    for (let i = 0; i < frees.length; i++) {
      const f = frees[i]!;
      if (!gpuFits(node.gpus[i]!, amount) || tried.includes(f)) continue; // equal GPUs give equal outcomes
      tried.push(f);
      frees[i] = f - amount.gpuMilli;
      visit([i], fragOf(node.model, cpu, frees, w));
      frees[i] = f;
    }
    return;
  }
  const gpus = bestFitGpus(node, amount, req.gpuCount);
  if (!gpus) return;
  for (const i of gpus) frees[i]! -= amount.gpuMilli;
  visit(gpus, fragOf(node.model, cpu, frees, w));
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export const fgd: PlacementPolicy = {
  name: 'fgd',
  choose(cluster, req: ResolvedPodRequest, ctx) {
    const wl = workloadOr(ctx.workload, req);
    const { evals, before } = fragMemos(ctx, 'fgd').get(wl);
    return chooseBest(
      cluster,
      req,
      ctx,
      (node, r, amount, nodes): NodeEval | null => {
        const f0 = fragNow(nodes, node, wl, before);
        let best: NodeEval | null = null;
        forEachOutcome(node, r, amount, wl, (gpuIdx, f1) => {
          const score = Math.trunc(sigmoid((f0 - f1) / 1000) * 100);
          if (!best || score > best.score) best = { score, gpuIdx };
        });
        return best;
      },
      // Indexes pay only when kept across calls (the caller's memos).
      { memo: evals, ...(ctx.memos ? { index: evals.index } : {}) },
    );
  },
};
