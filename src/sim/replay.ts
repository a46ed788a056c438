// `--mode replay`: the trace with its own clock. Pods arrive at creation_time, wait in a FIFO queue,
// are placed by the policy when they fit (a scheduling pass after every batch of events; a pod that
// does not fit does not block those behind it), run for their traced duration
// (deletion_time − scheduled_time, or − creation_time when never scheduled in the trace) and leave.
// Time is virtual: nothing sleeps.
import { ClusterState, getPolicy, type NodeInit, type PolicyName, type WorkloadClass } from '../core/placement/index.js';
import { defaultWorkload } from '../core/placement/default.js';
import { mulberry32 } from '../core/placement/rng.js';
import { typicalWorkload } from '../core/placement/workload.js';
import type { TracePod } from './trace.js';

export interface ReplaySummary {
  workload: string;
  mode: 'replay';
  policy: PolicyName;
  compress: number;
  pods: number;
  placed: number;
  /** Still waiting when the trace ends (no more events). */
  neverPlaced: number;
  queueDelaySeconds: { mean: number; p95: number; max: number };
  /** Share of pods placed the moment they arrived. */
  placedOnArrival: number;
  /** Allocated GPU % of capacity, time-weighted over the trace; and its peak. */
  allocation: { mean: number; peak: number };
  /** (time s, allocated GPU %) at up to ~200 evenly spaced instants. */
  allocationOverTime: [number, number][];
  placementsPerSecond: number;
  wallSeconds: number;
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
  policy: PolicyName;
  seed?: number;
  /** Arrivals come this many times faster (durations unchanged), to study the pool under load. Default 1. */
  compress?: number;
  typical?: readonly WorkloadClass[];
  now: () => number;
}

export function runReplay(o: ReplayOptions): ReplaySummary {
  const t0 = o.now();
  const cluster = new ClusterState(o.nodes);
  const cap = o.nodes.reduce((s, n) => s + n.gpus.length * 1000, 0);
  const policy = getPolicy(o.policy);
  const reqs = o.pods.map((p) => p.req);
  const ctx = { rng: mulberry32(o.seed ?? 42), workload: o.typical ?? (o.policy === 'default' ? defaultWorkload(reqs) : typicalWorkload(reqs)) };
  const k = o.compress ?? 1;
  if (!(k > 0)) throw new Error('compress must be > 0');
  const pods = o.pods
    .filter((p) => p.creationTime !== null)
    .map((p) => (k === 1 ? p : { ...p, creationTime: p.creationTime! / k }));
  const order = pods.map((_, i) => i).sort((a, b) => pods[a]!.creationTime! - pods[b]!.creationTime! || a - b);
  const duration = pods.map((p) => Math.max(0, (p.deletionTime ?? Infinity) - (p.scheduledTime ?? p.creationTime!)));
  // Shapes, so that a pass skips requests identical to one that just failed.
  const shapeOf = new Map<string, number>();
  const shape = pods.map((p) => {
    const r = p.req;
    const k = `${r.cpuMilli}|${r.memoryMiB}|${r.gpuCount}|${r.gpuMilli}|${r.models.join('|')}`;
    let id = shapeOf.get(k);
    if (id === undefined) shapeOf.set(k, (id = shapeOf.size));
    return id;
  });
  const placedAt = new Float64Array(pods.length).fill(-1);
  const where: ({ nodePos: number; gpuIdx: number[]; gpuMilli: number; gpuMemoryMiB: number } | null)[] = pods.map(() => null);
  const departures = new Heap();
  let queue: number[] = [];
  let next = 0;
  let used = 0;
  let placeMs = 0;
  let decisions = 0;
  let lastT = order.length > 0 ? pods[order[0]!]!.creationTime! : 0;
  const startT = lastT;
  let area = 0;
  let peak = 0;
  const samples: [number, number][] = [];
  let dirty = false;
  const failedShape = new Uint8Array(shapeOf.size);

  while (next < order.length || departures.size > 0) {
    const tA = next < order.length ? pods[order[next]!]!.creationTime! : Infinity;
    const tD = departures.size > 0 ? departures.peekTime() : Infinity;
    const t = Math.min(tA, tD);
    area += (used / cap) * (t - lastT);
    lastT = t;
    while (departures.size > 0 && departures.peekTime() <= t) {
      const i = departures.pop();
      const w = where[i]!;
      const r = pods[i]!.req;
      cluster.release(w.nodePos, w.gpuIdx, w.gpuMilli, w.gpuMemoryMiB, r.cpuMilli, r.memoryMiB);
      used -= w.gpuMilli * w.gpuIdx.length;
      dirty = true;
    }
    while (next < order.length && pods[order[next]!]!.creationTime! <= t) {
      queue.push(order[next]!);
      next++;
      dirty = true;
    }
    if (!dirty) continue;
    dirty = false;
    failedShape.fill(0);
    const rest: number[] = [];
    for (const i of queue) {
      if (failedShape[shape[i]!]) {
        rest.push(i);
        continue;
      }
      const r = pods[i]!.req;
      const a = o.now();
      const c = policy.choose(cluster, r, ctx);
      placeMs += o.now() - a;
      decisions++;
      if (!c) {
        // Nothing placed later in this pass can make room, so identical requests fail too.
        failedShape[shape[i]!] = 1;
        rest.push(i);
        continue;
      }
      cluster.allocate(c, r);
      where[i] = c;
      placedAt[i] = t;
      used += c.gpuMilli * c.gpuIdx.length;
      if (Number.isFinite(duration[i]!)) departures.push(t + duration[i]!, i);
    }
    queue = rest;
    const pct = (100 * used) / cap;
    if (pct > peak) peak = pct;
    samples.push([t, pct]);
  }

  const delays: number[] = [];
  let onArrival = 0;
  for (let i = 0; i < pods.length; i++) {
    if (placedAt[i]! < 0) continue;
    const d = placedAt[i]! - pods[i]!.creationTime!;
    delays.push(d);
    if (d === 0) onArrival++;
  }
  delays.sort((a, b) => a - b);
  const mean = delays.length ? delays.reduce((a, b) => a + b, 0) / delays.length : 0;
  const p95 = delays.length ? delays[Math.min(delays.length - 1, Math.ceil(0.95 * delays.length) - 1)]! : 0;
  const span = lastT - startT;
  const step = Math.max(1, Math.ceil(samples.length / 200));
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    workload: o.workload,
    mode: 'replay',
    policy: o.policy,
    compress: k,
    pods: pods.length,
    placed: delays.length,
    neverPlaced: pods.length - delays.length,
    queueDelaySeconds: { mean: r2(mean), p95: r2(p95), max: r2(delays.at(-1) ?? 0) },
    placedOnArrival: r2(delays.length ? onArrival / delays.length : 0),
    allocation: { mean: r2(span > 0 ? (100 * area) / span : 0), peak: r2(peak) },
    allocationOverTime: samples.filter((_, i) => i % step === 0).map(([t, p]) => [t - startT, r2(p)]),
    placementsPerSecond: placeMs > 0 ? Math.round(decisions / (placeMs / 1000)) : 0,
    wallSeconds: r2((o.now() - t0) / 1000),
  };
}
