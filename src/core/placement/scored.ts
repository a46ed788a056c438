// The common shape of score-based policies: evaluate every node where the request fits and keep the
// best, optionally memoised per node state. Ties go to the smallest node name, as in the published
// simulator (its scheduler replaced Kubernetes' random tie-break by this, for reproducibility), or,
// with `randomTies`, to a node drawn uniformly among them.
import { NodeMemo, ShapeIds } from './cache.js';
import { amountOn, gpuFits, type PerGpuAmount, type ResolvedPodRequest } from './cluster.js';
import type { ClusterView, NodeSlot, PlacementChoice, PlacementContext } from './types.js';

/** A node's score for a request (higher is better) and the GPUs it would use there. */
export interface NodeEval {
  score: number;
  gpuIdx: number[];
}

/** Scores one node; null when the request does not fit there. Must depend only on the node's free state. */
export type Evaluate = (node: NodeSlot, req: ResolvedPodRequest, amount: PerGpuAmount) => NodeEval | null;

const ranks = new WeakMap<readonly NodeSlot[], Int32Array>();

/** Each node's rank in name order (cached per nodes array), for cheap name tie-breaks. */
export function nameRanks(cluster: ClusterView): Int32Array {
  let r = ranks.get(cluster.nodes);
  if (!r || r.length !== cluster.nodes.length) {
    const order = cluster.nodes.map((n, i) => i);
    order.sort((a, b) => {
      const x = cluster.nodes[a]!.name;
      const y = cluster.nodes[b]!.name;
      return x < y ? -1 : x > y ? 1 : a - b;
    });
    r = new Int32Array(order.length);
    order.forEach((pos, rank) => (r![pos] = rank));
    ranks.set(cluster.nodes, r);
  }
  return r;
}

export class EvalMemo {
  readonly memo = new NodeMemo<NodeEval | null>();
  readonly shapes = new ShapeIds();
}

/** The caller's evaluation memo for policy `key` (none when the caller keeps no memos). */
export function evalMemo(ctx: PlacementContext, key: string): EvalMemo | undefined {
  return ctx.memos?.get(key, () => new EvalMemo());
}

/**
 * Runs `evaluate` over the nodes where the host part fits and returns the best choice.
 * With `memo`, an evaluation is reused until the node's free state changes.
 */
export function chooseBest(
  cluster: ClusterView,
  req: ResolvedPodRequest,
  ctx: PlacementContext,
  evaluate: Evaluate,
  memo?: EvalMemo,
  randomTies = false,
): PlacementChoice | null {
  let bestNode: NodeSlot | null = null;
  let bestEval: NodeEval | null = null;
  let bestAmount: PerGpuAmount | null = null;
  let bestScore = -Infinity;
  let bestPos = -1;
  let ties = 0;
  let lastModel: string | null = null;
  let amount: PerGpuAmount | null = null;
  let shape = -1;
  let lastShapeAmount: PerGpuAmount | null = null;
  const rank = randomTies ? null : nameRanks(cluster);
  const nodes = cluster.nodes;
  for (let pos = 0; pos < nodes.length; pos++) {
    const node = nodes[pos]!;
    if (node.cpuMilliFree < req.cpuMilli || node.memoryMiBFree < req.memoryMiB) continue;
    if (node.model !== lastModel) {
      lastModel = node.model;
      amount = amountOn(node, req);
      if (amount && memo && (!lastShapeAmount || lastShapeAmount.gpuMilli !== amount.gpuMilli || lastShapeAmount.gpuMemoryMiB !== amount.gpuMemoryMiB)) {
        shape = memo.shapes.id(req.cpuMilli, req.memoryMiB, req.gpuCount, amount.gpuMilli, amount.gpuMemoryMiB);
        lastShapeAmount = amount;
      }
    }
    if (!amount) continue;
    if (req.gpuCount > 0) {
      // Cheap reject before the memo: enough GPUs with room?
      let n = 0;
      const gpus = node.gpus;
      for (let i = 0; i < gpus.length && n < req.gpuCount; i++) if (gpuFits(gpus[i]!, amount)) n++;
      if (n < req.gpuCount) continue;
    }
    let ev: NodeEval | null | undefined;
    if (memo) {
      const m = memo.memo.forNode(nodes, pos);
      ev = m[shape];
      if (ev === undefined) {
        ev = evaluate(node, req, amount);
        m[shape] = ev;
      }
    } else {
      ev = evaluate(node, req, amount);
    }
    if (!ev) continue;
    if (ev.score > bestScore) {
      bestScore = ev.score;
      bestNode = node;
      bestEval = ev;
      bestAmount = amount;
      bestPos = pos;
      ties = 1;
    } else if (ev.score === bestScore) {
      ties++;
      if (rank ? rank[pos]! < rank[bestPos]! : ctx.rng() * ties < 1) {
        bestNode = node;
        bestPos = pos;
        bestEval = ev;
        bestAmount = amount;
      }
    }
  }
  if (!bestNode || !bestEval || !bestAmount) return null;
  return { nodePos: bestNode.pos, gpuIdx: bestEval.gpuIdx, gpuMilli: bestAmount.gpuMilli, gpuMemoryMiB: bestAmount.gpuMemoryMiB };
}
