// Multi-seed runs and their summary (what `fastgpu sim` prints and the bench tabulates).
import type { NodeInit, PolicyName, WorkloadClass } from '../core/placement/index.js';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { capacityMilli, newLpSimCounters, publishedArrivals, runPublishedSeed, type PublishedOptions, type SeedResult, type WorkloadEstimate } from './published.js';
import type { MilpSolver } from '../core/placement/lp-solver.js';
import { configurationBound, loadHighs, prefixAt, relaxationBound } from './bound.js';
import type { TracePod } from './trace.js';

export const REPORT_LEVELS = [90, 100, 110, 120, 130] as const;

export interface PublishedSummary {
  workload: string;
  mode: 'published';
  policy: PolicyName;
  /** What `default` planned for (see `PublishedOptions.estimate`). */
  estimate: WorkloadEstimate;
  seeds: number[];
  tune: number;
  /** Demand % → allocated GPU % of capacity, mean over seeds. */
  allocation: Record<string, number | null>;
  /** Demand % → fragmentation ratio % (fragmented / idle GPU), mean over seeds. */
  fragmentation: Record<string, number | null>;
  /** Demand % → fragmented GPU as % of capacity. */
  fragAmount: Record<string, number | null>;
  /** Full curves 0..130 (mean over seeds), for plots. */
  curve: { allocation: (number | null)[]; fragmentation: (number | null)[] };
  pods: number;
  placed: number;
  failed: number;
  /** Successful placements per second of time spent deciding. */
  placementsPerSecond: number;
  /** Decisions (placed or not) per second of time spent deciding. */
  decisionsPerSecond: number;
  wallSeconds: number;
  /** With `--policy lp`: the batch size and what the MILPs did (solver time per batch, fallbacks). */
  lp?: LpRunSummary;
}

export interface LpRunSummary {
  batch: number;
  budgetMs: number;
  batches: number;
  /** Batches with no incumbent in time: placed one at a time by `default` (counted, never hidden). */
  fallbacks: number;
  /** Batches stopped on the budget that used their incumbent. */
  limited: number;
  solveMsMean: number;
  solveMsMax: number;
}

/** `--policy lp` in a simulation: the solver and how it is used. */
export interface LpRunOptions {
  solver: MilpSolver;
  /** Published mode: arrivals per MILP. */
  batch: number;
  budgetMs: number;
  candidates?: number;
}

export function meanCurves(curves: readonly (number | null)[][]): (number | null)[] {
  const len = Math.max(...curves.map((c) => c.length));
  const out: (number | null)[] = [];
  for (let l = 0; l < len; l++) {
    const vs = curves.map((c) => c[l]).filter((v): v is number => typeof v === 'number');
    out.push(vs.length === 0 ? null : vs.reduce((a, b) => a + b, 0) / vs.length);
  }
  return out;
}

export function atLevels(curve: readonly (number | null)[], levels: readonly number[] = REPORT_LEVELS): Record<string, number | null> {
  const o: Record<string, number | null> = {};
  for (const l of levels) {
    const v = curve[l];
    o[String(l)] = v === null || v === undefined ? null : Math.round(v * 100) / 100;
  }
  return o;
}

export interface RunOptions {
  workload: string;
  nodes: readonly NodeInit[];
  pods: readonly TracePod[];
  policy: PolicyName;
  seeds: readonly number[];
  tune: number;
  typical?: readonly WorkloadClass[];
  /** `default`'s workload: causal (the default, what the server knows) or the whole-list oracle. */
  estimate?: WorkloadEstimate;
  /** Monotonic clock, ms. */
  now: () => number;
  /** `--policy lp` (with `policy` = the one-at-a-time policy for what a batch leaves: default). */
  lp?: LpRunOptions;
}

export function runPublished(o: RunOptions): PublishedSummary {
  const t0 = o.now();
  const counters = newLpSimCounters();
  const results: SeedResult[] = o.seeds.map((seed) => runPublishedSeed({ ...seedOptions(o), seed, now: o.now, ...(o.lp ? { lp: { ...o.lp, counters } } : {}) }));
  return summarise(o, results, (o.now() - t0) / 1000, counters);
}

/** What every seed of a run shares (runPublishedSeed's options but the seed, the clock and lp). */
function seedOptions(o: RunOptions): Omit<PublishedOptions, 'seed'> {
  return { nodes: o.nodes, pods: o.pods, policy: o.policy, tune: o.tune, estimate: o.estimate ?? 'causal', ...(o.typical ? { workload: o.typical } : {}) };
}

/**
 * Whether a worker thread can load the simulator: the compiled package can, and so can the
 * TypeScript sources run under tsx (the worker registers tsx itself: Node 20 does not hand
 * module hooks to workers); a test runner's own transform (Vitest's) does not reach workers.
 */
function workersCanLoad(): boolean {
  if (import.meta.url.endsWith('.js')) return true;
  return [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('tsx'));
}

/**
 * runPublished with its seeds spread over worker threads (at most `threads`, default one per
 * core): each seed runs exactly as runPublished runs it, on its own arrivals, random streams
 * and cluster, so the summary is the same, sooner. `--policy lp` (its solver lives in this
 * thread), a single seed, one thread, or code no worker can load run here instead.
 */
export async function runPublishedParallel(o: RunOptions, threads = availableParallelism()): Promise<PublishedSummary> {
  const n = Math.min(threads, o.seeds.length);
  if (o.lp || n <= 1 || !workersCanLoad()) return runPublished(o);
  const t0 = o.now();
  const shares: number[][] = Array.from({ length: n }, () => []);
  o.seeds.forEach((seed, i) => shares[i % n]!.push(seed));
  const parts = await Promise.all(shares.map((seeds) => seedsInWorker({ ...seedOptions(o), seeds })));
  const bySeed = new Map(parts.flat().map((r) => [r.seed, r]));
  const results = o.seeds.map((seed) => bySeed.get(seed)!);
  return summarise(o, results, (o.now() - t0) / 1000, newLpSimCounters());
}

function seedsInWorker(data: Omit<PublishedOptions, 'seed'> & { seeds: number[] }): Promise<SeedResult[]> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./published-worker.mjs', import.meta.url), { workerData: data });
    let answer: SeedResult[] | null = null;
    w.once('message', (m: SeedResult[]) => {
      answer = m;
    });
    w.once('error', reject);
    w.once('exit', (code) => (answer ? resolve(answer) : reject(new Error(`a simulation worker exited with code ${code} before it answered`))));
  });
}

function summarise(o: RunOptions, results: readonly SeedResult[], wallSeconds: number, counters: ReturnType<typeof newLpSimCounters>): PublishedSummary {
  const alloc = meanCurves(results.map((r) => r.allocation));
  const frag = meanCurves(results.map((r) => r.fragmentation));
  const amount = meanCurves(results.map((r) => r.fragAmount));
  const pods = results.reduce((a, r) => a + r.pods, 0);
  const placeMs = results.reduce((a, r) => a + r.placeMs, 0);
  return {
    workload: o.workload,
    mode: 'published',
    policy: o.policy,
    estimate: o.estimate ?? 'causal',
    seeds: [...o.seeds],
    tune: o.tune,
    allocation: atLevels(alloc),
    fragmentation: atLevels(frag),
    fragAmount: atLevels(amount),
    curve: { allocation: alloc, fragmentation: frag },
    pods,
    placed: results.reduce((a, r) => a + r.placed, 0),
    failed: results.reduce((a, r) => a + r.failed, 0),
    // Successful placements per second of time spent deciding; decisions (failed ones too) apart.
    placementsPerSecond: placeMs > 0 ? Math.round(results.reduce((a, r) => a + r.placed, 0) / (placeMs / 1000)) : 0,
    decisionsPerSecond: placeMs > 0 ? Math.round(pods / (placeMs / 1000)) : 0,
    wallSeconds: Math.round(wallSeconds * 100) / 100,
    ...(o.lp ? { lp: lpSummary(o.lp, counters) } : {}),
  };
}

function lpSummary(lp: LpRunOptions, c: ReturnType<typeof newLpSimCounters>): LpRunSummary {
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return { batch: lp.batch, budgetMs: lp.budgetMs, batches: c.batches, fallbacks: c.fallbacks, limited: c.limited, solveMsMean: r2(c.batches ? c.solveMs / c.batches : 0), solveMsMax: r2(c.maxSolveMs) };
}

export interface BoundSummary {
  /** Demand % → min(arrived, 100). */
  capacity: Record<string, number>;
  /** Demand % → HiGHS aggregate relaxation bound, % of capacity, mean over seeds. */
  relaxation: Record<string, number>;
  /** Demand % → HiGHS per-GPU configuration bound (tighter), % of capacity, mean over seeds. */
  configurations: Record<string, number>;
}

/** Bounds at the report levels, averaged over the seeds' arrival lists. */
export async function bounds(nodes: readonly NodeInit[], pods: readonly TracePod[], seeds: readonly number[], tune: number): Promise<BoundSummary> {
  const highs = await loadHighs();
  const cap = capacityMilli(nodes);
  const capacity: Record<string, number> = {};
  const relaxation: Record<string, number> = {};
  const configurations: Record<string, number> = {};
  const arrivals = seeds.map((seed) => publishedArrivals(pods, cap, seed, tune));
  for (const l of REPORT_LEVELS) {
    capacity[String(l)] = Math.min(l, 100);
    let sum = 0;
    let sumC = 0;
    for (const a of arrivals) {
      const prefix = prefixAt(a, cap, l);
      sum += (100 * relaxationBound(highs, nodes, prefix)) / cap;
      sumC += (100 * configurationBound(highs, nodes, prefix)) / cap;
    }
    relaxation[String(l)] = Math.round((sum / seeds.length) * 100) / 100;
    configurations[String(l)] = Math.round((sumC / seeds.length) * 100) / 100;
  }
  return { capacity, relaxation, configurations };
}

/** Parses "42-51", "42,45,47" or "42". */
export function parseSeeds(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new Error(`--seeds: expected e.g. 42-51 or 42,43, got '${s}'`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`--seeds: empty range '${part}'`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}
