// `--mode published`: the FGD paper's protocol. Shuffle the pods with the seed, append random copies
// until the requested GPU reaches `tune` × capacity, place them one at a time on an empty cluster,
// never remove any; a pod that fits nowhere is skipped. After each pod, record allocated GPU % and
// the fragmentation ratio, sampled at each whole % of arrived demand.
import {
  ClusterState,
  getPolicy,
  type NodeInit,
  type PlacementContext,
  type PolicyName,
  type ResolvedPodRequest,
  type WorkloadClass,
} from '../core/placement/index.js';
import { defaultWorkload, DEFAULT_WORKLOAD_OPTIONS } from '../core/placement/default.js';
import { fragOf } from '../core/placement/frag.js';
import { mulberry32, randInt, shuffle } from '../core/placement/rng.js';
import { typicalWorkload, WorkloadEstimator } from '../core/placement/workload.js';
import { PlacementMemos } from '../core/placement/memos.js';
import { LevelSampler } from './levels.js';
import { lpAssign, DEFAULT_LP_BUDGET_MS, DEFAULT_LP_CANDIDATES, type LpItem } from '../core/placement/lp.js';
import type { MilpSolver } from '../core/placement/lp-solver.js';
import type { PlacementChoice } from '../core/placement/types.js';
import type { TracePod } from './trace.js';

export type WorkloadEstimate = 'causal' | 'oracle';

export interface PublishedOptions {
  nodes: readonly NodeInit[];
  pods: readonly TracePod[];
  policy: PolicyName;
  seed: number;
  /** Requested GPU as a multiple of capacity (published: 1.3). */
  tune?: number;
  /** The typical-pod distribution the fragmentation metric uses; default: built from `pods` as published. */
  workload?: readonly WorkloadClass[];
  /** The distribution given to the policy; default: `workload`, except for `default`, which gets its own summary (defaultWorkload). */
  policyWorkload?: readonly WorkloadClass[];
  /**
   * What `default` plans for (the baselines always get the published typical pods, as published):
   * `causal` (the default) — a `WorkloadEstimator` fed each arrival before it is placed, exactly
   * what the live server knows; `oracle` — the whole pod list's mix, known in advance (the
   * protocol as the paper's simulator runs it). Ignored when `policyWorkload` is given.
   */
  estimate?: WorkloadEstimate;
  /** Monotonic clock in ms, for placements/s (injected: core and sim logic stay clock-free). */
  now?: () => number;
  /** `--policy lp`: MILP batches of `batch` arrivals (the policy named above places what a batch leaves). */
  lp?: PublishedLp;
  /**
   * Called after each arrival's decision (null: skipped), with the node's name as the policy saw it
   * (published prefix included): the live bench compares the server's decisions with these.
   */
  onChoice?: (i: number, req: ResolvedPodRequest, placed: { node: string; gpus: readonly number[] } | null) => void;
}

export interface PublishedLp {
  solver: MilpSolver;
  /** Arrivals handed to one MILP (1, 16, 64, …). */
  batch: number;
  budgetMs?: number;
  candidates?: number;
  /** Summed over the batches (the caller may share one across seeds). */
  counters: LpSimCounters;
}

/** Per batch: the MILP's outcome, summed. */
export interface LpSimCounters {
  batches: number;
  /** Batches whose solver gave no incumbent in time (placed one at a time by `default`). */
  fallbacks: number;
  /** Batches stopped on the budget that used their incumbent. */
  limited: number;
  solveMs: number;
  maxSolveMs: number;
}

export function newLpSimCounters(): LpSimCounters {
  return { batches: 0, fallbacks: 0, limited: 0, solveMs: 0, maxSolveMs: 0 };
}

/** One batch through `lpAssign`: per request its placement (allocated) or null; leftovers one at a time by `fill`. */
function lpBatch(lp: PublishedLp, cluster: ClusterState, batch: readonly ResolvedPodRequest[], fill: (r: ResolvedPodRequest) => PlacementChoice | null): (PlacementChoice | null)[] {
  const items: LpItem[] = batch.map((req) => ({ req, key: lpKey(req), size: 1, gang: false, priority: 0 }));
  const res = lpAssign(cluster, items, lp.solver, { budgetMs: lp.budgetMs ?? DEFAULT_LP_BUDGET_MS, candidates: lp.candidates ?? DEFAULT_LP_CANDIDATES, fill });
  const c = lp.counters;
  c.batches++;
  c.solveMs += res.stats.solveMs;
  c.maxSolveMs = Math.max(c.maxSolveMs, res.stats.solveMs);
  if (res.stats.fellBack) c.fallbacks++;
  else if (res.stats.status === 'limit') c.limited++;
  // A fallback leaves the whole batch: place it one at a time, as `default` alone would.
  return res.choices.map((ch, i) => {
    if (ch) return ch[0]!;
    if (!res.stats.fellBack) return null;
    const one = fill(batch[i]!);
    if (one) cluster.allocate(one, batch[i]!);
    return one;
  });
}

function lpKey(r: ResolvedPodRequest): string {
  return `${r.cpuMilli}|${r.memoryMiB}|${r.gpuCount}|${r.gpuMilli}|${r.gpuMemoryMiB}|${r.models.join(',')}`;
}

export interface SeedResult {
  seed: number;
  /** Index = % of arrived demand (0..maxLevel); allocated GPU as % of capacity. */
  allocation: (number | null)[];
  /** Fragmentation ratio (% of idle GPU), same index. */
  fragmentation: (number | null)[];
  /** Fragmented GPU amount as % of capacity, same index. */
  fragAmount: (number | null)[];
  pods: number;
  placed: number;
  failed: number;
  /** Time spent choosing placements, ms (0 without a clock). */
  placeMs: number;
}

/** The arrival list of one seed: the pods sorted by name, shuffled, then topped up with random copies. */
export function publishedArrivals(pods: readonly TracePod[], capacityMilli: number, seed: number, tune: number): ResolvedPodRequest[] {
  const rng = mulberry32(seed);
  const sorted = [...pods].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const order = shuffle(sorted.map((p) => p.req), rng);
  const target = tune * capacityMilli;
  let total = 0;
  for (const r of order) total += r.gpuMilli * r.gpuCount;
  if (total > target) {
    // Tune down: drop random pods until under the target.
    while (total > target && order.length > 0) {
      const [r] = order.splice(randInt(rng, order.length), 1);
      total -= r!.gpuMilli * r!.gpuCount;
    }
    return order;
  }
  // Tune up; as published, the stop test compares the per-GPU milli (not the total) of the next copy.
  for (;;) {
    const r = pods[randInt(rng, pods.length)]!.req;
    if (total + r.gpuMilli > target) break;
    total += r.gpuMilli * r.gpuCount;
    order.push(r);
  }
  return order;
}

export function capacityMilli(nodes: readonly NodeInit[]): number {
  let s = 0;
  for (const n of nodes) s += n.gpus.length * 1000;
  return s;
}

/**
 * The nodes renamed as the published simulator does before it creates them
 * (`syncClusterResourceList`): in name order, node k gets the k-th entry of a seeded random
 * permutation as a prefix. Its scheduler breaks score ties by the smallest name, so ties follow a
 * random node order, a different one per seed. Positions (first-fit's cluster order) are unchanged.
 */
export function publishedNodeNames(nodes: readonly NodeInit[], seed: number): NodeInit[] {
  const byName = nodes.map((_, i) => i).sort((a, b) => (nodes[a]!.name < nodes[b]!.name ? -1 : nodes[a]!.name > nodes[b]!.name ? 1 : a - b));
  // Its own stream, so the arrival lists (and the bounds computed on them) stay as they are.
  const perm = shuffle(byName.map((_, k) => k), mulberry32(seed ^ 0x85ebca6b));
  const width = Math.max(4, String(nodes.length - 1).length);
  const out = [...nodes];
  byName.forEach((pos, k) => (out[pos] = { ...nodes[pos]!, name: `${String(perm[k]).padStart(width, '0')}-${nodes[pos]!.name}` }));
  return out;
}

/** Runs one seed of the published protocol. */
export function runPublishedSeed(opts: PublishedOptions, maxLevel = 130): SeedResult {
  const cluster = new ClusterState(publishedNodeNames(opts.nodes, opts.seed));
  const cap = capacityMilli(opts.nodes);
  const totalGpus = cap / 1000;
  const workload = opts.workload ?? typicalWorkload(opts.pods.map((p) => p.req));
  const arrivals = publishedArrivals(opts.pods, cap, opts.seed, opts.tune ?? 1.3);
  const policy = getPolicy(opts.policy);
  // Tie-breaks use their own stream so that arrivals are the same for every policy.
  const ownSummary = opts.policyWorkload === undefined && opts.policy === 'default' && !opts.workload;
  // Causal: the same estimator the server keeps, fed the same way (every accepted request, before its cycle).
  const causal = ownSummary && (opts.estimate ?? 'causal') === 'causal' ? new WorkloadEstimator(DEFAULT_WORKLOAD_OPTIONS) : null;
  const policyWorkload = opts.policyWorkload ?? (ownSummary ? defaultWorkload(opts.pods.map((p) => p.req)) : workload);
  const ctx: PlacementContext = { rng: mulberry32(opts.seed ^ 0x9e3779b9), workload: policyWorkload, memos: new PlacementMemos() };
  const now = opts.now;

  const nodeFrag = cluster.nodes.map((n) => fragOf(n.model, n.cpuMilliFree, n.gpus.map((g) => g.freeMilli), workload));
  let fragSum = nodeFrag.reduce((a, b) => a + b, 0);
  let used = 0;
  let arrived = 0;
  let placed = 0;
  let skipped = 0;
  let placeMs = 0;
  const sampler = new LevelSampler(maxLevel, 3);
  const rec = [0, 0, 0];

  // `lp` takes the arrivals `batch` at a time (one MILP per batch); every other policy one at a time.
  const k = opts.lp ? opts.lp.batch : 1;
  for (let at = 0; at < arrivals.length; at += k) {
    const batch = k === 1 ? [arrivals[at]!] : arrivals.slice(at, at + k);
    for (const req of batch) arrived += req.gpuMilli * req.gpuCount;
    const t0 = now ? now() : 0;
    if (causal) {
      for (const req of batch) causal.observe(req);
      ctx.workload = causal.current();
    }
    const choices = opts.lp ? lpBatch(opts.lp, cluster, batch, (r) => policy.choose(cluster, r, ctx)) : [policy.choose(cluster, batch[0]!, ctx)];
    if (now) placeMs += now() - t0;
    batch.forEach((req, i) => {
      const choice = choices[i] ?? null;
      opts.onChoice?.(placed + skipped, req, choice ? { node: cluster.nodes[choice.nodePos]!.name, gpus: [...choice.gpuIdx] } : null);
      if (!choice) {
        skipped++;
        return;
      }
      // lp allocated its choices already.
      if (!opts.lp) cluster.allocate(choice, req);
      placed++;
      used += choice.gpuMilli * choice.gpuIdx.length;
      const n = cluster.nodes[choice.nodePos]!;
      const f = fragOf(n.model, n.cpuMilliFree, n.gpus.map((g) => g.freeMilli), workload);
      fragSum += f - nodeFrag[choice.nodePos]!;
      nodeFrag[choice.nodePos] = f;
    });
    const idle = cap - used;
    // As the analysis scripts: allocation rounded to 2 decimals, the ratio as printed (2 decimals).
    rec[0] = Math.round((used / totalGpus / 10) * 100) / 100;
    rec[1] = idle > 0 ? Math.round((10000 * fragSum) / idle) / 100 : 0;
    rec[2] = fragSum / totalGpus / 10;
    sampler.add(arrived / totalGpus / 10, rec);
  }
  return {
    seed: opts.seed,
    allocation: sampler.values(0),
    fragmentation: sampler.values(1),
    fragAmount: sampler.values(2),
    pods: arrivals.length,
    placed,
    failed: arrivals.length - placed,
    placeMs,
  };
}
