// `--mode replay`: the trace with its own clock, through the live scheduler. Pods arrive at
// creation_time as PENDING tasks; at every instant where something happened (arrivals, departures)
// and tasks wait, one scheduler cycle runs — `schedule()`'s cycle, kept incremental by
// `IncrementalScheduler` — exactly as the server's control loop runs it: queue order (priority, then
// submit time), the placement policy, EASY backfill or strict order, pending reasons. Its `place`
// decisions start the tasks; each runs for its traced duration (deletion_time − scheduled_time, or
// − creation_time when never scheduled in the trace) and leaves. Time is virtual: nothing sleeps.
import { newPendingTask } from '../core/state.js';
import { defaultWorkload, DEFAULT_WORKLOAD_OPTIONS } from '../core/placement/default.js';
import type { NodeInit, PolicyName, WorkloadClass } from '../core/placement/index.js';
import { mulberry32 } from '../core/placement/rng.js';
import { WorkloadEstimator, typicalWorkload } from '../core/placement/workload.js';
import { IncrementalScheduler } from '../core/scheduler/incremental.js';
import { LpScheduler } from '../core/scheduler/lp.js';
import type { MilpSolver } from '../core/placement/lp-solver.js';
import type { SchedulerPolicy } from '../core/scheduler/types.js';
import type { NodeRecord, PendingReason, Task } from '../core/types.js';
import type { TracePod } from './trace.js';

export interface ReplaySummary {
  workload: string;
  mode: 'replay';
  policy: PolicyName;
  backfill: boolean;
  compress: number;
  pods: number;
  placed: number;
  /** Still waiting when the trace ends (no more events). */
  neverPlaced: number;
  /** Over placed pods: time from arrival to start. */
  queueDelaySeconds: { mean: number; p95: number; p99: number; max: number };
  /** Pods that waited at all, and the reason the scheduler gave each when it first waited. */
  waited: number;
  waitReasons: Partial<Record<PendingReason, number>>;
  /** Share of pods placed the moment they arrived. */
  placedOnArrival: number;
  /**
   * Allocated GPU % of capacity: time-weighted mean while pods arrive (first to last arrival) and
   * over the whole replay, and the peak.
   */
  allocation: { mean: number; meanAll: number; peak: number };
  /** (seconds since the first arrival, allocated GPU %) at 200 evenly spaced instants of the arrival window. */
  allocationOverTime: [number, number][];
  /** Scheduler cycles run, and their wall time. */
  cycles: { count: number; meanMs: number; maxMs: number };
  placementsPerSecond: number;
  wallSeconds: number;
  /** With `--policy lp`: MILP cycles, fallbacks to default (no incumbent in time), solver time per cycle. */
  lp?: { budgetMs: number; cycles: number; fallbacks: number; limited: number; skipped: number; placed: number; solveMsMean: number; solveMsMax: number };
}

/** Min-heap of (time, index). */
class Heap {
  private t: number[] = [];
  private v: number[] = [];
  get size(): number {
    return this.t.length;
  }
  peekTime(): number {
    return this.t[0]!;
  }
  push(time: number, val: number): void {
    const t = this.t;
    const v = this.v;
    t.push(time);
    v.push(val);
    let i = t.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (t[p]! <= time) break;
      t[i] = t[p]!;
      v[i] = v[p]!;
      i = p;
    }
    t[i] = time;
    v[i] = val;
  }
  pop(): number {
    const t = this.t;
    const v = this.v;
    const top = v[0]!;
    const lt = t.pop()!;
    const lv = v.pop()!;
    if (t.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= t.length) break;
        const r = l + 1;
        const c = r < t.length && t[r]! < t[l]! ? r : l;
        if (t[c]! >= lt) break;
        t[i] = t[c]!;
        v[i] = v[c]!;
        i = c;
      }
      t[i] = lt;
      v[i] = lv;
    }
    return top;
  }
}

export interface ReplayOptions {
  workload: string;
  nodes: readonly NodeInit[];
  pods: readonly TracePod[];
  /** Placement policy of the scheduler. */
  policy: PolicyName;
  /** EASY backfill (the server's default) or strict queue order. Default true. */
  backfill?: boolean;
  seed?: number;
  /** Arrivals come this many times faster (durations unchanged), to study the pool under load. Default 1. */
  compress?: number;
  /**
   * Task time limits, which backfill reads: `exact` (each task's traced duration: users who know their
   * run times) or `none` (running tasks count as ending after `defaultRuntimeMs`). Default `exact`.
   */
  timeLimits?: 'exact' | 'none';
  /** The request mix given to the policy; default: per `estimate`. */
  typical?: readonly WorkloadClass[];
  /**
   * Without `typical`: `causal` (default) — a `WorkloadEstimator` fed every arrival, as the server
   * feeds every accepted submit; `oracle` — the whole list's mix known in advance.
   */
  estimate?: 'causal' | 'oracle';
  now: () => number;
  /** `--policy lp`: each cycle starts with a MILP batch of the queue (`policy` places the rest: default). */
  lp?: { solver: MilpSolver; budgetMs: number; candidates?: number };
}

/** The trace's nodes as the scheduler sees registered nodes: READY, GPUs shareable (simulated). */
export function traceNodeRecords(nodes: readonly NodeInit[]): NodeRecord[] {
  return nodes.map((n) => ({
    id: n.id,
    name: n.name,
    cpuMilli: n.cpuMilli,
    memoryMiB: n.memoryMiB,
    labels: {},
    gpus: n.gpus.map((g) => ({ index: g.index, uuid: `${n.id}-gpu${g.index}`, model: g.model, memoryMiB: g.memoryMiB, tflops: g.tflops, sharing: g.exclusive ? 'exclusive' : 'simulated' })),
    state: 'READY',
    simulated: true,
    agentVersion: 'sim',
    registeredAt: 0,
    lastHeartbeatAt: 0,
  }));
}

const SECOND = 1000;

/** A trace pod as a submitted task (PENDING, priority 50, created at `atSec`). */
export function podTask(p: TracePod, id: string, atSec: number, timeLimitSec: number | null): Task {
  const r = p.req;
  // One allowed model is the API's `model`; several (`A|B`) are `anyOf`, which the resolver honours.
  const models = r.models.length === 1 ? { model: r.models[0]! } : r.models.length > 1 ? { anyOf: [...r.models] } : {};
  const gpu = r.gpuCount === 0 ? null : { count: r.gpuCount, share: { kind: 'milli' as const, milli: r.gpuMilli }, ...models };
  const spec: Task['spec'] = {
    name: p.name,
    command: [],
    env: {},
    resources: { gpu, cpuMilli: r.cpuMilli, memoryMiB: r.memoryMiB },
    priority: 50,
    ...(timeLimitSec !== null ? { timeLimitMs: Math.max(1, timeLimitSec * SECOND) } : {}),
    retries: 0,
    preemptible: false,
    gang: 1,
    tenant: 'trace',
  };
  return newPendingTask(id, spec, atSec * SECOND);
}

/** The pods with a creation time, as tasks: arrival (seconds, compressed by `k`), traced duration, id. */
export function replayPods(all: readonly TracePod[], k: number, exactLimits: boolean) {
  // A list without any arrival times (the multigpu lists) arrives whole at 0 and never leaves;
  // in a timed list, a pod without a creation time is left out.
  const timed = all.some((p) => p.creationTime !== null);
  const pods = timed ? all.filter((p) => p.creationTime !== null) : [...all];
  const arrival = pods.map((p) => (p.creationTime ?? 0) / k);
  const duration = pods.map((p) => Math.max(0, (p.deletionTime ?? Infinity) - (p.scheduledTime ?? p.creationTime ?? 0)));
  const width = String(pods.length).length;
  const ids = pods.map((_, i) => `pod-${String(i).padStart(width, '0')}`);
  const tasks = pods.map((p, i) => podTask(p, ids[i]!, arrival[i]!, exactLimits && Number.isFinite(duration[i]!) ? duration[i]! : null));
  return { pods, arrival, duration, ids, tasks };
}

export function runReplay(o: ReplayOptions): ReplaySummary {
  const t0 = o.now();
  const cap = o.nodes.reduce((s, n) => s + n.gpus.length * 1000, 0);
  const k = o.compress ?? 1;
  if (!(k > 0)) throw new Error('compress must be > 0');
  const backfill = o.backfill ?? true;
  const { pods, arrival, duration, ids, tasks } = replayPods(o.pods, k, (o.timeLimits ?? 'exact') === 'exact');
  const order = pods.map((_, i) => i).sort((a, b) => arrival[a]! - arrival[b]! || a - b);
  const indexOf = new Map(ids.map((id, i) => [id, i]));

  const inc = new IncrementalScheduler(traceNodeRecords(o.nodes));
  // The policy's view of the request mix: given, or the pods arrived so far (as a server could keep it).
  const given = o.typical ?? (o.estimate === 'oracle' ? traceWorkload(o.policy, o.pods) : undefined);
  const seen = given ? null : new WorkloadEstimator(o.policy === 'default' ? DEFAULT_WORKLOAD_OPTIONS : {});
  const policy: SchedulerPolicy = { placement: o.policy, backfill, defaultRuntimeMs: 3_600_000, rng: mulberry32(o.seed ?? 42) };
  if (given) policy.workload = given;
  const lp = o.lp ? new LpScheduler({ solver: o.lp.solver, budgetMs: o.lp.budgetMs, ...(o.lp.candidates !== undefined ? { candidates: o.lp.candidates } : {}) }) : null;
  if (lp) policy.batch = lp;

  const placedAt = new Float64Array(pods.length).fill(-1);
  const waitedFirst: (PendingReason | null)[] = pods.map(() => null);
  const usedBy = new Float64Array(pods.length);
  const departures = new Heap();
  let pending: Task[] = [];
  let next = 0;
  let used = 0;
  let cycleMs = 0;
  let maxCycleMs = 0;
  let cycles = 0;
  let placements = 0;
  const startT = order.length > 0 ? arrival[order[0]!]! : 0;
  const lastArrival = order.length > 0 ? arrival[order.at(-1)!]! : 0;
  let lastT = startT;
  let area = 0;
  let areaArrivals = 0;
  let peak = 0;
  const steps: [number, number][] = [[startT, 0]]; // (time, allocated % from then on)

  while (next < order.length || departures.size > 0) {
    const tA = next < order.length ? arrival[order[next]!]! : Infinity;
    const tD = departures.size > 0 ? departures.peekTime() : Infinity;
    const t = Math.min(tA, tD);
    const pct = (100 * used) / cap;
    area += pct * (t - lastT);
    if (lastT < lastArrival) areaArrivals += pct * (Math.min(t, lastArrival) - lastT);
    lastT = t;
    let changed = false;
    while (departures.size > 0 && departures.peekTime() <= t) {
      const i = departures.pop();
      inc.remove(ids[i]!);
      used -= usedBy[i]!;
      changed = true;
    }
    while (next < order.length && arrival[order[next]!]! <= t) {
      const i = order[next++]!;
      pending.push(tasks[i]!);
      seen?.observe(pods[i]!.req);
      changed = true;
    }
    if (changed && pending.length > 0) {
      if (seen) policy.workload = seen.current();
      const a = o.now();
      const result = inc.cycle(pending, t * SECOND, policy);
      const ms = o.now() - a;
      cycleMs += ms;
      if (ms > maxCycleMs) maxCycleMs = ms;
      cycles++;
      let placedNow = 0;
      for (const d of result.decisions) {
        if (d.kind === 'pending') {
          const i = indexOf.get(d.taskId)!;
          waitedFirst[i] ??= d.reason;
          continue;
        }
        if (d.kind !== 'place') continue;
        const i = indexOf.get(d.taskId)!;
        const task = tasks[i]!;
        const running: Task = { ...task, state: 'RUNNING', placement: d.placement, attempts: 1, scheduledAt: t * SECOND, startedAt: t * SECOND };
        inc.add(running);
        placedAt[i] = t;
        usedBy[i] = d.placement.gpuMilli * d.placement.gpus.length;
        used += usedBy[i]!;
        if (Number.isFinite(duration[i]!)) departures.push(t + duration[i]!, i);
        placedNow++;
      }
      placements += placedNow;
      if (placedNow > 0) pending = pending.filter((x) => placedAt[indexOf.get(x.id)!]! < 0);
    }
    const now = (100 * used) / cap;
    if (now > peak) peak = now;
    if (t <= lastArrival) steps.push([t, now]);
  }

  const delays: number[] = [];
  let onArrival = 0;
  for (let i = 0; i < pods.length; i++) {
    if (placedAt[i]! < 0) continue;
    const d = placedAt[i]! - arrival[i]!;
    delays.push(d);
    if (d === 0) onArrival++;
  }
  const waitReasons: Partial<Record<PendingReason, number>> = {};
  let waited = 0;
  for (const r of waitedFirst) {
    if (r === null) continue;
    waited++;
    waitReasons[r] = (waitReasons[r] ?? 0) + 1;
  }
  delays.sort((a, b) => a - b);
  const mean = delays.length ? delays.reduce((a, b) => a + b, 0) / delays.length : 0;
  const pct = (q: number) => (delays.length ? delays[Math.min(delays.length - 1, Math.ceil(q * delays.length) - 1)]! : 0);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  const span = lastT - startT;
  const window = lastArrival - startT;
  return {
    workload: o.workload,
    mode: 'replay',
    policy: o.policy,
    backfill,
    compress: k,
    pods: pods.length,
    placed: delays.length,
    neverPlaced: pods.length - delays.length,
    queueDelaySeconds: { mean: r2(mean), p95: r2(pct(0.95)), p99: r2(pct(0.99)), max: r2(delays.at(-1) ?? 0) },
    waited,
    waitReasons,
    placedOnArrival: r2(delays.length ? onArrival / delays.length : 0),
    allocation: { mean: r2(window > 0 ? areaArrivals / window : 0), meanAll: r2(span > 0 ? area / span : 0), peak: r2(peak) },
    allocationOverTime: sampleSteps(steps, startT, lastArrival, 200).map(([t, p]) => [r2(t - startT), r2(p)]),
    cycles: { count: cycles, meanMs: r2(cycles ? cycleMs / cycles : 0), maxMs: r2(maxCycleMs) },
    placementsPerSecond: cycleMs > 0 ? Math.round(placements / (cycleMs / 1000)) : 0,
    wallSeconds: r2((o.now() - t0) / 1000),
    ...(lp && o.lp ? { lp: { budgetMs: o.lp.budgetMs, ...lpCounts(lp) } } : {}),
  };
}

function lpCounts(lp: LpScheduler) {
  const c = lp.counts;
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return { cycles: c.cycles, fallbacks: c.fallbacks, limited: c.limited, skipped: c.skipped, placed: c.placed, solveMsMean: r2(c.cycles ? c.solveMs / c.cycles : 0), solveMsMax: r2(c.maxSolveMs) };
}

/** The step function `steps` (time, value from then on; times ascending) at `n` even instants of [from, to]. */
function sampleSteps(steps: readonly [number, number][], from: number, to: number, n: number): [number, number][] {
  const out: [number, number][] = [];
  let j = 0;
  for (let s = 0; s < n; s++) {
    const t = n === 1 ? from : from + ((to - from) * s) / (n - 1);
    while (j + 1 < steps.length && steps[j + 1]![0] <= t) j++;
    out.push([t, steps[j]![1]]);
  }
  return out;
}

/** The workload summary a policy gets from a whole pod list (for callers that want the trace's own). */
export function traceWorkload(policy: PolicyName, pods: readonly TracePod[]): WorkloadClass[] {
  const reqs = pods.map((p) => p.req);
  return policy === 'default' ? defaultWorkload(reqs) : typicalWorkload(reqs);
}
