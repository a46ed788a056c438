// The common shape of score-based policies: evaluate every node where the request fits and keep the
// best, optionally memoised per node state. Ties go to the smallest node name, as in the published
// simulator (its scheduler replaced Kubernetes' random tie-break by this, for reproducibility), or,
// with `randomTies`, to a node drawn uniformly among them.
import { NodeMemo, ShapeIds } from './cache.js';
import { amountOn, gpuFits, type PerGpuAmount, type ResolvedPodRequest } from './cluster.js';
import { RankedIndex } from './ranked.js';
import type { ClusterView, NodeChanges, NodeSlot, PlacementChoice, PlacementContext } from './types.js';

/** A node's score for a request (higher is better) and the GPUs it would use there. */
export interface NodeEval {
  score: number;
  gpuIdx: number[];
}

/**
 * Scores one node; null when the request does not fit there. Must depend only on that node (with a
 * memo: only on its free state). `nodes` is the array the node is read from (for per-node memos).
 */
export type Evaluate = (node: NodeSlot, req: ResolvedPodRequest, amount: PerGpuAmount, nodes: readonly NodeSlot[]) => NodeEval | null;

const ranks = new WeakMap<readonly NodeSlot[], Int32Array>();

/** Each node's rank in name order (cached per nodes array), for cheap name tie-breaks. */
export function nameRanks(cluster: { readonly nodes: readonly NodeSlot[] }): Int32Array {
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
  /** Ranked indexes for the same evaluations. */
  readonly index = new RankedIndex();
}

/** The caller's evaluation memo for policy `key` (none when the caller keeps no memos). */
export function evalMemo(ctx: PlacementContext, key: string): EvalMemo | undefined {
  return ctx.memos?.get(key, () => new EvalMemo());
}

/** chooseBest options for a policy whose score reads only the node's free state: memo and index. */
export function memoOpts(ctx: PlacementContext, key: string): ChooseOptions {
  const memo = evalMemo(ctx, key);
  return memo ? { memo, index: memo.index } : {};
}

/** chooseBest options for a policy whose score reads more of the node (its tasks): an index only. */
export function indexOpts(ctx: PlacementContext, key: string): ChooseOptions {
  const index = ctx.memos?.get(key, () => new RankedIndex());
  return index ? { index } : {};
}

/** How chooseBest may go about it. */
export interface ChooseOptions {
  /** Reuse an evaluation until the node's free state changes (policies whose score reads only that). */
  memo?: EvalMemo;
  /**
   * Keep ranked indexes (ranked.ts) here, so that on a view with a change feed only the nodes that
   * changed are re-scored. Any policy whose score depends only on the node may pass one.
   */
  index?: RankedIndex;
  /** Ties drawn uniformly with `ctx.rng` instead of going to the smallest name (always a scan). */
  randomTies?: boolean;
  /** Ties go to the first node in cluster order instead of the smallest name (first-fit). */
  positionTies?: boolean;
}

/**
 * The best node for `req` by `evaluate` (highest score, then smallest name, or a random tie with
 * `randomTies`), and the GPUs it would use. With `opts.index` and a view that carries its cluster's
 * change feed, answers from ranked indexes; otherwise scans every node where the host part fits.
 * Both give the same choice.
 */
export function chooseBest(cluster: ClusterView, req: ResolvedPodRequest, ctx: PlacementContext, evaluate: Evaluate, opts: ChooseOptions = {}): PlacementChoice | null {
  if (opts.index && cluster.changes && !opts.randomTies) return chooseRanked(cluster, cluster.changes, req, evaluate, opts.index, opts.positionTies ?? false);
  if (opts.positionTies) throw new Error('chooseBest: position ties need a view with a change feed and an index');
  return chooseScan(cluster, req, ctx, evaluate, opts.memo, opts.randomTies ?? false);
}

/**
 * A node's evaluation as the scan makes it (host fit, model, enough GPUs, then the score). No
 * per-node memo here: the ranked index itself keeps each evaluation until its node changes.
 */
function evalNode(nodes: readonly NodeSlot[], pos: number, req: ResolvedPodRequest, amounts: Map<string, PerGpuAmount | null>, evaluate: Evaluate): { ev: NodeEval; amount: PerGpuAmount } | null {
  const node = nodes[pos]!;
  if (node.cpuMilliFree < req.cpuMilli || node.memoryMiBFree < req.memoryMiB) return null;
  let amount = amounts.get(node.model);
  if (amount === undefined) amounts.set(node.model, (amount = amountOn(node, req)));
  if (!amount) return null;
  if (req.gpuCount > 0) {
    let n = 0;
    const gpus = node.gpus;
    for (let i = 0; i < gpus.length && n < req.gpuCount; i++) if (gpuFits(gpus[i]!, amount)) n++;
    if (n < req.gpuCount) return null;
  }
  const ev = evaluate(node, req, amount, nodes);
  // The scan never picks a NaN or -Infinity score (it starts from -Infinity and ties need a rank).
  return ev && ev.score > -Infinity ? { ev, amount } : null;
}

const reqKeys = new WeakMap<ResolvedPodRequest, string>();

/** A string equal for requests that every policy treats alike. */
function requestKey(req: ResolvedPodRequest): string {
  let k = reqKeys.get(req);
  if (k === undefined) {
    const per = req.perModel ? [...req.perModel].map(([m, a]) => `${m}=${a.gpuMilli}/${a.gpuMemoryMiB}`).join(',') : '';
    k = `${req.cpuMilli}|${req.memoryMiB}|${req.gpuCount}|${req.gpuMilli}|${req.gpuMemoryMiB}|${req.models.join(',')}|${per}`;
    reqKeys.set(req, k);
  }
  return k;
}

const positions = new WeakMap<readonly NodeSlot[], Int32Array>();

/** Each node's own position as its rank (cached per nodes array). */
function positionRanks(nodes: readonly NodeSlot[]): Int32Array {
  let r = positions.get(nodes);
  if (!r || r.length !== nodes.length) {
    r = Int32Array.from(nodes, (_, i) => i);
    positions.set(nodes, r);
  }
  return r;
}

function chooseRanked(view: ClusterView, feed: NodeChanges, req: ResolvedPodRequest, evaluate: Evaluate, index: RankedIndex, byPosition: boolean): PlacementChoice | null {
  const rank = byPosition ? positionRanks(feed.nodes) : nameRanks({ nodes: feed.nodes });
  const amounts = new Map<string, PerGpuAmount | null>();
  const score = (pos: number): { ev: NodeEval; amount: PerGpuAmount } | null => evalNode(feed.nodes, pos, req, amounts, evaluate);
  const top = index.heap(feed, `${byPosition ? 'p' : 'n'}|${requestKey(req)}`, rank, score).best(score, view.overridden);
  let bestPos = top ? top.pos : -1;
  let bestScore = top ? top.score : -Infinity;
  let best = top ? { ev: top.ev, amount: top.amount } : null;
  // Where the view differs from the cluster (a backfill guard's shadow nodes), score its nodes.
  if (view.overridden) {
    for (const pos of view.overridden) {
      const e = evalNode(view.nodes, pos, req, amounts, evaluate);
      if (e && (e.ev.score > bestScore || (e.ev.score === bestScore && rank[pos]! < rank[bestPos]!))) {
        bestPos = pos;
        bestScore = e.ev.score;
        best = e;
      }
    }
  }
  if (!best) return null;
  return { nodePos: bestPos, gpuIdx: best.ev.gpuIdx, gpuMilli: best.amount.gpuMilli, gpuMemoryMiB: best.amount.gpuMemoryMiB };
}

/** Runs `evaluate` over the nodes where the host part fits and returns the best choice. */
function chooseScan(cluster: ClusterView, req: ResolvedPodRequest, ctx: PlacementContext, evaluate: Evaluate, memo: EvalMemo | undefined, randomTies: boolean): PlacementChoice | null {
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
        ev = evaluate(node, req, amount, nodes);
        m[shape] = ev;
      }
    } else {
      ev = evaluate(node, req, amount, nodes);
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
