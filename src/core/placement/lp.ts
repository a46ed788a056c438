// `lp` placement: a batch of requests assigned to nodes and GPUs at once by a mixed-integer program
// (issue 15, item 3), instead of one request at a time. The solver is a port (lp-solver.ts).
//
// Model, per priority tier (highest first; a tier is solved on what the tiers above it left, so
// priority comes first lexicographically without huge weights):
// - requests are grouped: single requests of one shape form one group (their count is a bound, so
//   the model has no symmetric copies of identical tasks); each gang is its own group;
// - each group gets candidate nodes: the nodes where it fits now, tightest first (least free GPU
//   compute, then least free CPU), at most `candidates` of them (plus the gang's size for a gang).
//   This keeps the model bounded: 1,000 groups × 1,000 nodes never makes a 1,000,000-column model;
// - integer y[s,n]: how many of group s go to node n; integer a[s,g]: how many GPU slots of group s
//   GPU g of n takes (a whole GPU: 0 or 1; a fraction: up to what fits), with Σ_g a[s,g] = k·y[s,n]
//   (k GPUs per request, all on that one node);
// - rows: each GPU's free compute and memory; each node's free CPU and RAM; each single group's
//   count; each gang Σ_n y = size·z with z ∈ {0,1} (all or nothing);
// - objective: allocated GPU milli (k·milli per request placed), then, with weights that together
//   stay below one milli, one unit per request placed (so CPU-only requests count) and a linear
//   proxy of fragmentation left: a bonus for GPUs and nodes already in use (packing leaves whole
//   GPUs whole, which is what the fragmentation measure of frag.ts rewards).
// The solver stops on the cycle's time budget with its incumbent; with no incumbent the batch is
// abandoned (`fellBack`) and the caller places those requests as `default` would.
import { amountOn, fittingGpus, gpuFits, hostFits, type ClusterState, type ResolvedPodRequest } from './cluster.js';
import { candidateNodes, freeMilli, planGreedy, type Fill, type Planned } from './lp-plan.js';
import type { MilpOutcome, MilpProblem, MilpSolver, MilpStatus } from './lp-solver.js';
import type { NodeSlot, PlacementChoice } from './types.js';

/** One entry of a batch: a request, or a gang of `size` equal requests placed all or nothing. */
export interface LpItem {
  req: ResolvedPodRequest;
  /** Equal for equal requests: single items with the same key are one group of the model. */
  key: string;
  /** How many replicas the item places: 1, or a gang's size. */
  size: number;
  gang: boolean;
  priority: number;
}

export interface LpOptions {
  /** The solver's time budget for the whole batch, ms (all tiers together). */
  budgetMs: number;
  /** Candidate nodes per group (a gang gets its size more). */
  candidates: number;
  /**
   * One-at-a-time placement (the scheduler's `default`) for what a tier's MILP left unplaced, before
   * the next tier: the candidate lists are short, and a lower tier must not take room a higher
   * one could still use.
   */
  fill?: Fill;
}

export const DEFAULT_LP_BUDGET_MS = 200;
export const DEFAULT_LP_CANDIDATES = 4;

export interface LpBatchStats {
  items: number;
  /** Columns and rows of the largest model solved. */
  cols: number;
  rows: number;
  solves: number;
  /** Solver time, all tiers, ms. */
  solveMs: number;
  /** The worst solver status of the batch (`limit` when a tier stopped on the budget). */
  status: MilpStatus | 'empty';
  /** The budget ran out with no incumbent (or the solver failed): the rest goes to `default`. */
  fellBack: boolean;
  /** Requests (replicas) the MILP placed. */
  placed: number;
  /** Requests (replicas) `fill` placed after a tier's MILP. */
  filled: number;
}

export interface LpBatchResult {
  /** Per item: its replicas' placements (already allocated in the cluster), or null. */
  choices: (PlacementChoice[] | null)[];
  stats: LpBatchStats;
}

/**
 * Assigns `items` on `cluster` with MILPs and allocates what it places. Items are taken in the
 * order given within a group (the oldest of a shape first).
 */
export function lpAssign(cluster: ClusterState, items: readonly LpItem[], solver: MilpSolver, opts: LpOptions): LpBatchResult {
  const choices: (PlacementChoice[] | null)[] = items.map(() => null);
  const stats: LpBatchStats = { items: items.length, cols: 0, rows: 0, solves: 0, solveMs: 0, status: 'empty', fellBack: false, placed: 0, filled: 0 };
  const tiers = [...new Set(items.map((i) => i.priority))].sort((a, b) => b - a);
  for (const p of tiers) {
    const tier: number[] = [];
    items.forEach((it, i) => {
      if (it.priority === p) tier.push(i);
    });
    const left = opts.budgetMs - stats.solveMs;
    if (left <= 0) {
      stats.fellBack = true;
      break;
    }
    const model = buildModel(cluster, items, tier, opts.candidates, opts.fill);
    if (!model) continue;
    stats.cols = Math.max(stats.cols, model.problem.numCols);
    stats.rows = Math.max(stats.rows, model.problem.numRows);
    const out: MilpOutcome = oneRequest(model) ?? solver.solve(model.problem, left);
    stats.solves++;
    stats.solveMs += out.solveMs;
    stats.status = worse(stats.status, out.status);
    if (!out.x) {
      stats.fellBack = true;
      break;
    }
    stats.placed += apply(cluster, items, model, out.x, choices);
    if (opts.fill) stats.filled += fillRest(cluster, items, tier, choices, opts.fill);
  }
  return { choices, stats };
}

/** Places the tier's items the MILP left, one at a time in order (gangs whole or not at all). */
function fillRest(cluster: ClusterState, items: readonly LpItem[], tier: readonly number[], choices: (PlacementChoice[] | null)[], fill: Fill): number {
  let n = 0;
  for (const i of tier) {
    if (choices[i]) continue;
    const it = items[i]!;
    const done: PlacementChoice[] = [];
    for (let m = 0; m < it.size; m++) {
      const c = fill(it.req);
      if (!c) break;
      cluster.allocate(c, it.req);
      done.push(c);
    }
    if (done.length === it.size) {
      choices[i] = done;
      n += done.length;
    } else for (const c of done) cluster.release(c.nodePos, c.gpuIdx, c.gpuMilli, c.gpuMemoryMiB, it.req.cpuMilli, it.req.memoryMiB);
  }
  return n;
}

const RANK: Record<MilpStatus | 'empty', number> = { empty: 0, optimal: 1, limit: 2, infeasible: 3, error: 4 };
function worse(a: MilpStatus | 'empty', b: MilpStatus): MilpStatus | 'empty' {
  return RANK[b] > RANK[a] ? b : a;
}

/**
 * The exact optimum of a model with one request (a batch of one): an argmax over its candidate
 * nodes, each with its best GPU columns, without calling the solver (whose fixed cost per call,
 * some 10 ms, would dominate a one-at-a-time run).
 */
function oneRequest(model: Model): MilpOutcome | null {
  const gs = model.groups;
  if (gs.length !== 1 || gs[0]!.count !== 1 || gs[0]!.gang) return null;
  const g = gs[0]!;
  const cost = model.problem.colCost;
  const x = new Float64Array(model.problem.numCols);
  let best: { value: number; y: number; cols: number[] } | null = null;
  for (const e of g.nodes) {
    const cols = e.gpus.map((s) => s.col).sort((a, b) => cost[b]! - cost[a]! || a - b).slice(0, g.req.gpuCount);
    if (cols.length < g.req.gpuCount) continue;
    let value = cost[e.y]!;
    for (const c of cols) value += cost[c]!;
    if (!best || value > best.value) best = { value, y: e.y, cols };
  }
  if (best) {
    x[best.y] = 1;
    for (const c of best.cols) x[c] = 1;
  }
  return { status: 'optimal', x, solveMs: 0 };
}

/** A group of the model: equal single items, or one gang. */
interface Group {
  req: ResolvedPodRequest;
  /** Item indices; for a gang, the one item. */
  items: number[];
  /** Replicas wanted (singles: one per item; a gang: its size). */
  count: number;
  gang: boolean;
  /** A gang's z column (1: all members placed). */
  z?: number;
  /** Per candidate node: its position, the y column, and (node GPU index, a column) pairs. */
  nodes: { pos: number; y: number; ub: number; gpus: { idx: number; col: number }[]; milli: number; mem: number; gpuCol: Map<number, number> }[];
}

interface Model {
  problem: MilpProblem;
  groups: Group[];
}

class Rows {
  readonly lo: number[] = [];
  readonly hi: number[] = [];
  readonly starts: number[] = [0];
  readonly idx: number[] = [];
  readonly val: number[] = [];
  add(cols: readonly number[], vals: readonly number[], lo: number, hi: number): void {
    for (let i = 0; i < cols.length; i++) {
      this.idx.push(cols[i]!);
      this.val.push(vals[i]!);
    }
    this.starts.push(this.idx.length);
    this.lo.push(lo);
    this.hi.push(hi);
  }
}

function groupsOf(items: readonly LpItem[], tier: readonly number[]): Group[] {
  const groups: Group[] = [];
  const byKey = new Map<string, Group>();
  for (const i of tier) {
    const it = items[i]!;
    if (it.gang) {
      groups.push({ req: it.req, items: [i], count: it.size, gang: true, nodes: [] });
      continue;
    }
    let g = byKey.get(it.key);
    if (!g) {
      g = { req: it.req, items: [], count: 0, gang: false, nodes: [] };
      byKey.set(it.key, g);
      groups.push(g);
    }
    g.items.push(i);
    g.count++;
  }
  return groups;
}

function buildModel(cluster: ClusterState, items: readonly LpItem[], tier: readonly number[], k: number, fill?: Fill): Model | null {
  const groups = groupsOf(items, tier);
  let replicas = 0;
  for (const g of groups) replicas += g.count;
  // Secondary terms: per replica at most 2 (node) + 8 (GPUs) units of eps, below one milli in all.
  const eps = 1 / (16 * (replicas + 1));
  const cost: number[] = [];
  const upper: number[] = [];
  const col = (c: number, u: number): number => {
    cost.push(c);
    upper.push(u);
    return cost.length - 1;
  };
  // Per node position: y columns with their CPU and RAM; per node and GPU: a columns with milli, memory.
  const nodeUse = new Map<number, { cols: number[]; cpu: number[]; mem: number[]; ubCpu: number; ubMem: number }>();
  const gpuUse = new Map<string, { pos: number; idx: number; cols: number[]; milli: number[]; mem: number[]; ubMilli: number; ubMem: number }>();
  const rows = new Rows();
  const plan = planGreedy(cluster, groups, fill);
  groups.forEach((g, gi) => {
    const r = g.req;
    // Candidates: the nodes the greedy plan uses for this group, then the tightest ones now.
    const nodes: NodeSlot[] = [];
    const seen = new Set<number>();
    const planGpus = new Set<string>();
    for (const pl of plan[gi]!) {
      if (!seen.has(pl.pos)) nodes.push(cluster.nodes[pl.pos]!);
      seen.add(pl.pos);
      for (const i of pl.gpuIdx) planGpus.add(`${pl.pos}:${i}`);
    }
    const planNodes = new Set(seen);
    for (const n of candidateNodes(cluster, r, k + (g.gang ? g.count : 0))) {
      if (!seen.has(n.pos)) nodes.push(n);
      seen.add(n.pos);
    }
    for (const n of nodes) {
      const amount = amountOn(n, r);
      if (!amount) continue;
      const whole = r.gpuCount > 0 && amount.gpuMilli >= 1000;
      const fits = r.gpuCount > 0 ? fittingGpus(n, amount) : [];
      // Slots per GPU: a whole GPU holds one request's share; a fraction as many as fit.
      const slots = fits.map((gi) => {
        const gpu = n.gpus[gi]!;
        if (whole || gpu.exclusive) return 1;
        let s = Math.floor(gpu.freeMilli / Math.max(1, amount.gpuMilli));
        if (amount.gpuMemoryMiB > 0) s = Math.min(s, Math.floor(gpu.freeMemoryMiB / amount.gpuMemoryMiB));
        return Math.min(s, g.count);
      });
      let ub = g.count;
      if (r.cpuMilli > 0) ub = Math.min(ub, Math.floor(n.cpuMilliFree / r.cpuMilli));
      if (r.memoryMiB > 0) ub = Math.min(ub, Math.floor(n.memoryMiBFree / r.memoryMiB));
      if (r.gpuCount > 0) ub = Math.min(ub, Math.floor(slots.reduce((a, b) => a + b, 0) / r.gpuCount));
      if (ub <= 0) continue;
      // The fragmentation proxy: with the scheduler's policy as the plan, agreement with its
      // choices (default's choices are those of least fragmentation growth); without, packing.
      const total = n.gpus.length * 1000;
      const used = total > 0 ? 1 - freeMilli(n) / total : 1 - n.cpuMilliFree / Math.max(1, n.cpuMilliTotal);
      const y = col(r.gpuCount * amount.gpuMilli + eps * (1 + (fill ? (planNodes.has(n.pos) ? 1 : 0) : used)), ub);
      const entry = { pos: n.pos, y, ub, gpus: [] as { idx: number; col: number }[], milli: amount.gpuMilli, mem: amount.gpuMemoryMiB, gpuCol: new Map<number, number>() };
      g.nodes.push(entry);
      let nu = nodeUse.get(n.pos);
      if (!nu) nodeUse.set(n.pos, (nu = { cols: [], cpu: [], mem: [], ubCpu: 0, ubMem: 0 }));
      nu.cols.push(y);
      nu.cpu.push(r.cpuMilli);
      nu.mem.push(r.memoryMiB);
      nu.ubCpu += ub * r.cpuMilli;
      nu.ubMem += ub * r.memoryMiB;
      if (r.gpuCount === 0) continue;
      const link: number[] = [];
      const linkV: number[] = [];
      fits.forEach((gi, j) => {
        const gpu = n.gpus[gi]!;
        const a = col(fill ? (planGpus.has(`${n.pos}:${gi}`) ? eps : 0) : whole ? 0 : eps * (1 - gpu.freeMilli / 1000), slots[j]!);
        entry.gpus.push({ idx: gi, col: a });
        entry.gpuCol.set(gi, a);
        link.push(a);
        linkV.push(1);
        const key = `${n.pos}:${gi}`;
        let gu = gpuUse.get(key);
        if (!gu) gpuUse.set(key, (gu = { pos: n.pos, idx: gi, cols: [], milli: [], mem: [], ubMilli: 0, ubMem: 0 }));
        // A whole request takes the GPU's whole free compute (an exclusive GPU: all of it).
        const milli = whole ? Math.max(amount.gpuMilli, gpu.totalMilli) : amount.gpuMilli;
        gu.cols.push(a);
        gu.milli.push(milli);
        gu.mem.push(amount.gpuMemoryMiB);
        gu.ubMilli += slots[j]! * milli;
        gu.ubMem += slots[j]! * amount.gpuMemoryMiB;
      });
      link.push(y);
      linkV.push(-r.gpuCount);
      rows.add(link, linkV, 0, 0);
    }
    if (g.nodes.length === 0) return;
    const ys = g.nodes.map((e) => e.y);
    if (g.gang) {
      const z = col(0, 1);
      g.z = z;
      rows.add([...ys, z], [...ys.map(() => 1), -g.count], 0, 0);
    } else {
      let ubSum = 0;
      for (const y of ys) ubSum += upper[y]!;
      if (ubSum > g.count) rows.add(ys, ys.map(() => 1), 0, g.count);
    }
  });
  if (cost.length === 0) return null;
  // Capacity rows, only where the columns could together exceed it.
  for (const [pos, nu] of nodeUse) {
    const n = cluster.nodes[pos]!;
    if (nu.ubCpu > n.cpuMilliFree) rows.add(nu.cols, nu.cpu, 0, n.cpuMilliFree);
    if (nu.ubMem > n.memoryMiBFree) rows.add(nu.cols, nu.mem, 0, n.memoryMiBFree);
  }
  for (const gu of gpuUse.values()) {
    const gpu = cluster.nodes[gu.pos]!.gpus[gu.idx]!;
    if (gu.ubMilli > gpu.freeMilli) rows.add(gu.cols, gu.milli, 0, gpu.freeMilli);
    if (gu.ubMem > gpu.freeMemoryMiB) rows.add(gu.cols, gu.mem, 0, gpu.freeMemoryMiB);
  }
  const problem: MilpProblem = {
    numCols: cost.length,
    numRows: rows.lo.length,
    colCost: Float64Array.from(cost),
    colUpper: Float64Array.from(upper),
    rowLower: Float64Array.from(rows.lo),
    rowUpper: Float64Array.from(rows.hi),
    starts: Int32Array.from(rows.starts),
    indices: Int32Array.from(rows.idx),
    values: Float64Array.from(rows.val),
  };
  problem.start = startOf(groups, plan, problem.numCols);
  return { problem, groups };
}

/** The plan as a solution vector of the model. */
function startOf(groups: readonly Group[], plan: readonly Planned[][], numCols: number): Float64Array {
  const x = new Float64Array(numCols);
  groups.forEach((g, gi) => {
    const byPos = new Map(g.nodes.map((e) => [e.pos, e]));
    for (const p of plan[gi]!) {
      const e = byPos.get(p.pos)!;
      x[e.y] = x[e.y]! + 1;
      for (const i of p.gpuIdx) x[e.gpuCol.get(i)!] = x[e.gpuCol.get(i)!]! + 1;
    }
    if (g.gang && plan[gi]!.length === g.count) x[g.z!] = 1;
  });
  return x;
}

/** Turns a solution into placements, allocating each; returns the replicas placed. */
function apply(cluster: ClusterState, items: readonly LpItem[], model: Model, x: Float64Array, choices: (PlacementChoice[] | null)[]): number {
  let placed = 0;
  for (const g of model.groups) {
    const r = g.req;
    // The replicas' placements, in candidate order: per node, its count, each on its GPU slots.
    const planned: PlacementChoice[] = [];
    for (const e of g.nodes) {
      const y = Math.round(x[e.y]!);
      if (y <= 0) continue;
      const slots: number[] = [];
      for (const s of e.gpus) for (let c = Math.round(x[s.col]!); c > 0; c--) slots.push(s.idx);
      for (let i = 0; i < y; i++) {
        const gpuIdx = slots.slice(i * r.gpuCount, (i + 1) * r.gpuCount);
        if (gpuIdx.length < r.gpuCount) break;
        planned.push({ nodePos: e.pos, gpuIdx, gpuMilli: r.gpuCount > 0 ? e.milli : 0, gpuMemoryMiB: r.gpuCount > 0 ? e.mem : 0 });
      }
    }
    if (g.gang) {
      if (planned.length < g.count) continue;
      const done = allocateAll(cluster, r, planned.slice(0, g.count));
      if (done) {
        choices[g.items[0]!] = done;
        placed += done.length;
      }
      continue;
    }
    let next = 0;
    for (const c of planned) {
      if (next >= g.items.length) break;
      const done = allocateAll(cluster, r, [c]);
      if (!done) continue;
      choices[g.items[next++]!] = done;
      placed++;
    }
  }
  return placed;
}

/**
 * Allocates every choice or none. The solver's answer is checked against the cluster itself, so a
 * rounding or tolerance slip in a solution can never overcommit a GPU or node.
 */
function allocateAll(cluster: ClusterState, req: ResolvedPodRequest, cs: readonly PlacementChoice[]): PlacementChoice[] | null {
  const done: PlacementChoice[] = [];
  for (const c of cs) {
    const n = cluster.nodes[c.nodePos]!;
    const ok = hostFits(n, req) && new Set(c.gpuIdx).size === c.gpuIdx.length && c.gpuIdx.every((i) => gpuFits(n.gpus[i]!, c));
    if (!ok) break;
    cluster.allocate(c, req);
    done.push(c);
  }
  if (done.length === cs.length) return done;
  for (const c of done) cluster.release(c.nodePos, c.gpuIdx, c.gpuMilli, c.gpuMemoryMiB, req.cpuMilli, req.memoryMiB);
  return null;
}
