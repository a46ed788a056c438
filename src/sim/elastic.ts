// `fastgpu sim --mode replay --autoscale`: the trace's arrivals and durations through the live
// scheduler on a pool that grows and shrinks by core's autoscaler, against the fixed pool of the
// trace's nodes. The trace's node shapes are what the provider offers (at most as many of each as
// the trace has), a requested node joins after `bootSeconds`, an idle one is drained and given back
// after `idleTimeoutSeconds`. Time is virtual: every wake-up (an arrival, a departure, a node that
// joins, a threshold or idle timeout running out) is an event; nothing sleeps.
import { autoscale } from '../core/autoscale/autoscale.js';
import { freeRoom } from '../core/autoscale/room.js';
import type { Arrival, AutoscaleMemory, AutoscalePolicy, ManagedNode, PendingDemand, ProviderOffer } from '../core/autoscale/types.js';
import { findGpuModel } from '../core/catalogue.js';
import type { NodeInit, PolicyName } from '../core/placement/index.js';
import { mulberry32 } from '../core/placement/rng.js';
import { formatMoney, type Micros } from '../core/pricing/money.js';
import type { PriceBook } from '../core/pricing/types.js';
import { IncrementalScheduler } from '../core/scheduler/incremental.js';
import type { SchedulerPolicy } from '../core/scheduler/types.js';
import type { PendingReason, Task } from '../core/types.js';
import { podTask, replayPods, traceNodeRecords } from './replay.js';
import type { TracePod } from './trace.js';

export interface ElasticOptions {
  workload: string;
  /** The trace's nodes: their shapes are the offers, their count per shape the provider's limit. */
  nodes: readonly NodeInit[];
  pods: readonly TracePod[];
  policy: PolicyName;
  compress?: number;
  seed?: number;
  /** Seconds from a node's request to its agent joining. Default 60. */
  bootSeconds?: number;
  /** Demand waits this long before nodes are asked for it. Default 30. */
  pendingThresholdSeconds?: number;
  idleTimeoutSeconds?: number;
  cooldownSeconds?: number;
  /** Nodes kept warm. Default 0. */
  minNodes?: number;
  /** Warm headroom: idle GPUs kept ready. Default 0. */
  spareGpus?: number;
  /** Warm headroom: whole empty nodes of the widest shape kept ready. */
  spareNodes?: number;
  /** Scale-ahead: room for what arrived in the last forecast window, × this. Default 0 (off). */
  forecastFactor?: number;
  /** The forecast's window. Default: the boot time. */
  forecastWindowSeconds?: number;
  /** Cap on the pool's cost per hour. */
  maxHourlyMicros?: Micros;
  priceBook?: PriceBook;
  /**
   * The fixed pool to compare with: `peak` (default) is sized for the peak: the nodes a replay on
   * the trace's whole node list ever used; `trace` is that whole list.
   */
  fixedPool?: 'trace' | 'peak';
}

export interface PoolRun {
  nodeHours: number;
  cost: string;
  /** Over placed pods: arrival → start. */
  waitSeconds: { mean: number; p95: number; p99: number };
  /** Placed pods that waited at all (start later than arrival). */
  waited: number;
  placed: number;
  neverPlaced: number;
  peakNodes: number;
}

export interface ElasticSummary {
  workload: string;
  mode: 'replay';
  /** The fixed pool compared against: `peak` is the trace's nodes that a replay on all of them ever used. */
  fixedPool: { kind: 'trace' | 'peak'; nodes: number };
  autoscale: ElasticSettings;
  fixed: PoolRun;
  elastic: PoolRun & { scaleOuts: number; scaleIns: number };
  /** Elastic node-hours saved against the fixed pool, % (positive: fewer). */
  nodeHoursSavedPct: number;
  /** Elastic mean wait against the fixed pool's, % (positive: longer). */
  meanWaitIncreasePct: number;
  wallSeconds: number;
}

/** A flat price per GPU-hour for every model, when the caller gives no price book. */
const FLAT_BOOK: PriceBook = { currency: 'USD', prices: new Map(), defaultPrice: 2_000_000n };

/** The trace's node shapes as offers of one provider (`sim`), with how many of each it may lend. */
export function traceOffers(nodes: readonly NodeInit[]): { offers: ProviderOffer[]; counts: Map<string, number>; shapeOf: (n: NodeInit) => string } {
  const shapeOf = (n: NodeInit): string => `${n.gpus.length}x${n.gpus[0]?.model ?? 'cpu'}:${n.cpuMilli}m:${n.memoryMiB}Mi`;
  const offers = new Map<string, ProviderOffer>();
  const counts = new Map<string, number>();
  for (const n of nodes) {
    const shape = shapeOf(n);
    counts.set(shape, (counts.get(shape) ?? 0) + 1);
    if (offers.has(shape)) continue;
    const g = n.gpus[0];
    offers.set(shape, {
      provider: 'sim',
      shape,
      gpuModel: g === undefined ? null : (findGpuModel(g.model)?.name ?? g.model),
      gpuCount: n.gpus.length,
      gpuMemoryMiB: g?.memoryMiB ?? 0,
      gpuTflops: g?.tflops ?? 0,
      cpuMilli: n.cpuMilli,
      memoryMiB: n.memoryMiB,
    });
  }
  return { offers: [...offers.values()], counts, shapeOf };
}

interface SimNode {
  managed: ManagedNode;
  init: NodeInit;
  joinAt: number;
  releasedAt: number | null;
  running: Set<string>;
}

/** The fixed pool an elastic run is compared with, and how it did. */
export interface FixedBaseline {
  kind: 'trace' | 'peak';
  nodes: number;
  run: PoolRun;
}

/** Runs the replay on the fixed pool and on the elastic one, and compares them. */
export function runElastic(o: ElasticOptions, now: () => number): ElasticSummary {
  const t0 = now();
  return compareElastic(o, fixedBaseline(o), now, t0);
}

/** The replay on the fixed pool: the whole node list, or the nodes a replay on it used (the peak). */
export function fixedBaseline(o: ElasticOptions): FixedBaseline {
  const whole = runPool(o, false, o.nodes);
  const kind = o.fixedPool ?? 'peak';
  if (kind === 'trace') return { kind, nodes: o.nodes.length, run: whole.run };
  return { kind, nodes: whole.used.size, run: runPool(o, false, o.nodes.filter((n) => whole.used.has(n.id))).run };
}

/** The replay on the elastic pool, against a fixed baseline (one baseline serves many settings). */
export function compareElastic(o: ElasticOptions, fixed: FixedBaseline, now: () => number, t0 = now()): ElasticSummary {
  const elastic = runPool(o, true, o.nodes);
  const pct = (a: number, b: number) => (b === 0 ? 0 : Math.round((10_000 * a) / b) / 100);
  return {
    workload: o.workload,
    mode: 'replay',
    fixedPool: { kind: fixed.kind, nodes: fixed.nodes },
    autoscale: elasticSettings(o),
    fixed: fixed.run,
    elastic: { ...elastic.run, scaleOuts: elastic.scaleOuts, scaleIns: elastic.scaleIns },
    nodeHoursSavedPct: pct(fixed.run.nodeHours - elastic.run.nodeHours, fixed.run.nodeHours),
    meanWaitIncreasePct: pct(elastic.run.waitSeconds.mean - fixed.run.waitSeconds.mean, Math.max(fixed.run.waitSeconds.mean, 1)),
    wallSeconds: Math.round(now() - t0) / 1000,
  };
}

export interface ElasticSettings {
  bootSeconds: number;
  pendingThresholdSeconds: number;
  idleTimeoutSeconds: number;
  cooldownSeconds: number;
  minNodes: number;
  spareGpus: number;
  spareNodes: number;
  forecastFactor: number;
  forecastWindowSeconds: number;
}

export function elasticSettings(o: ElasticOptions): ElasticSettings {
  const bootSeconds = o.bootSeconds ?? 60;
  return {
    bootSeconds,
    pendingThresholdSeconds: o.pendingThresholdSeconds ?? 30,
    idleTimeoutSeconds: o.idleTimeoutSeconds ?? 300,
    cooldownSeconds: o.cooldownSeconds ?? 30,
    minNodes: o.minNodes ?? 0,
    spareGpus: o.spareGpus ?? 0,
    spareNodes: o.spareNodes ?? 0,
    forecastFactor: o.forecastFactor ?? 0,
    forecastWindowSeconds: o.forecastWindowSeconds ?? bootSeconds,
  };
}

const S = 1000;

function runPool(o: ElasticOptions, elastic: boolean, fixedNodes: readonly NodeInit[]): { run: PoolRun; scaleOuts: number; scaleIns: number; used: Set<string> } {
  const cfg = elasticSettings(o);
  const book = o.priceBook ?? FLAT_BOOK;
  const { offers, shapeOf } = traceOffers(o.nodes);
  const offerBy = new Map(offers.map((x) => [x.shape, x]));
  const hourlyOf = (shape: string): Micros => {
    const x = offerBy.get(shape);
    return x === undefined || x.gpuModel === null ? 0n : (book.prices.get(x.gpuModel) ?? book.defaultPrice) * BigInt(x.gpuCount);
  };
  // Spare nodes of each shape the "provider" can hand out (the trace's own, in order).
  const spare = new Map<string, NodeInit[]>();
  for (const n of o.nodes) spare.set(shapeOf(n), [...(spare.get(shapeOf(n)) ?? []), n]);

  const { pods, arrival, duration, ids, tasks } = replayPods(o.pods, o.compress ?? 1, true);
  const indexOf = new Map(ids.map((id, i) => [id, i]));
  const order = pods.map((_, i) => i).sort((a, b) => arrival[a]! - arrival[b]! || a - b);
  const policy: SchedulerPolicy = { placement: o.policy, backfill: true, defaultRuntimeMs: 3_600_000, rng: mulberry32(o.seed ?? 42) };
  const asPolicy: AutoscalePolicy = {
    pendingThresholdMs: cfg.pendingThresholdSeconds * S,
    idleTimeoutMs: cfg.idleTimeoutSeconds * S,
    cooldownMs: cfg.cooldownSeconds * S,
    maxNodes: { sim: o.nodes.length },
    minNodes: { sim: cfg.minNodes },
    ...(cfg.spareGpus > 0 || cfg.spareNodes > 0 || cfg.forecastFactor > 0
      ? { headroom: { spareGpus: cfg.spareGpus, spareNodes: cfg.spareNodes, forecastFactor: cfg.forecastFactor, forecastWindowMs: cfg.forecastWindowSeconds * S } }
      : {}),
    ...(o.maxHourlyMicros !== undefined ? { maxHourlyMicros: o.maxHourlyMicros } : {}),
  };

  const nodes = new Map<string, SimNode>();
  /** Nodes given back (a trace node can be lent again later, under the same id). */
  const gone: SimNode[] = [];
  const start = order.length > 0 ? arrival[order[0]!]! : 0;
  if (!elastic) {
    for (const n of fixedNodes) nodes.set(n.id, { managed: managed(n.id, shapeOf(n), start * S), init: n, joinAt: start, releasedAt: null, running: new Set() });
  }
  if (elastic) {
    // The warm minimum is there before the first arrival.
    const warm = autoscale({ nodes: [], demand: [], offers, priceBook: book, now: start * S, policy: asPolicy, memory: { lastScaleOutAt: null, lastScaleInAt: null } });
    for (const d of warm.decisions) {
      const init = d.kind === 'request' ? spare.get(d.shape)?.shift() : undefined;
      if (d.kind === 'request' && init !== undefined) nodes.set(init.id, { managed: managed(init.id, d.shape, start * S), init, joinAt: start, releasedAt: null, running: new Set() });
    }
  }
  let sched = new IncrementalScheduler(traceNodeRecords([...nodes.values()].map((n) => n.init)));
  const placedAt = new Float64Array(pods.length).fill(-1);
  const nodeOfTask = new Map<string, string>();
  const pendingSince = new Map<string, { reason: PendingReason; since: number }>();
  const departures: [number, number][] = []; // (time, pod index), kept sorted on insert
  // Future instants at which something may change without an arrival or a departure.
  const wakeups = new Set<number>();
  const wake = (at: number): void => {
    if (at > t) wakeups.add(at);
  };
  let pending: Task[] = [];
  /** Arrivals inside the forecast window, oldest first. */
  const arrivals: Arrival[] = [];
  let next = 0;
  let memory: AutoscaleMemory = { lastScaleOutAt: null, lastScaleInAt: null };
  let scaleOuts = 0;
  let scaleIns = 0;
  let peakNodes = nodes.size;
  let t = start;

  const rebuild = (): void => {
    sched = new IncrementalScheduler(traceNodeRecords([...nodes.values()].filter((n) => n.managed.lifecycle === 'ready' || n.managed.lifecycle === 'draining').map((n) => n.init)));
    for (const [taskId] of nodeOfTask) {
      const i = indexOf.get(taskId)!;
      sched.add({ ...tasks[i]!, state: 'RUNNING', placement: placements.get(taskId)!, attempts: 1 });
    }
  };
  const placements = new Map<string, NonNullable<Task['placement']>>();
  const used = new Set<string>();
  const insertSorted = (arr: [number, number][], item: [number, number]): void => {
    let lo = 0;
    let hi = arr.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (arr[mid]![0] <= item[0]) lo = mid + 1;
      else hi = mid;
    }
    arr.splice(lo, 0, item);
  };

  for (let guard = 0; guard < 50_000_000; guard++) {
    const tA = next < order.length ? arrival[order[next]!]! : Infinity;
    const tD = departures.length > 0 ? departures[0]![0] : Infinity;
    let tW = Infinity;
    for (const w of wakeups) if (w < tW) tW = w;
    const tn = Math.min(tA, tD, tW);
    if (tn === Infinity) break;
    t = tn;
    for (const w of wakeups) if (w <= t) wakeups.delete(w);
    let changed = false;
    while (departures.length > 0 && departures[0]![0] <= t) {
      const i = departures.shift()![1];
      const id = ids[i]!;
      sched.remove(id);
      const node = nodes.get(nodeOfTask.get(id) ?? '');
      node?.running.delete(id);
      if (node && node.running.size === 0) {
        node.managed.idleSince = t * S;
        if (elastic) wake(t + cfg.idleTimeoutSeconds);
      }
      nodeOfTask.delete(id);
      placements.delete(id);
      changed = true;
    }
    while (next < order.length && arrival[order[next]!]! <= t) {
      const task = tasks[order[next++]!]!;
      pending.push(task);
      changed = true;
      if (elastic && asPolicy.headroom !== undefined && asPolicy.headroom.forecastFactor > 0) {
        arrivals.push({ at: t * S, resources: task.spec.resources, replicas: 1 });
        // The forecast shrinks when the arrival leaves the window: a node it kept may go then.
        wake(t + cfg.forecastWindowSeconds + 1e-3);
      }
    }
    while (arrivals.length > 0 && arrivals[0]!.at < (t - cfg.forecastWindowSeconds) * S) arrivals.shift();
    // Nodes whose boot finished join the pool.
    let joined = false;
    for (const n of nodes.values()) {
      if ((n.managed.lifecycle === 'requested' || n.managed.lifecycle === 'joining') && n.joinAt <= t) {
        n.managed.lifecycle = 'ready';
        n.managed.idleSince = t * S;
        wake(t + cfg.idleTimeoutSeconds);
        joined = true;
      }
    }
    if (joined) {
      rebuild();
      changed = true;
    }
    if (changed && pending.length > 0) {
      const result = sched.cycle(pending, t * S, policy);
      const placedNow = new Set<string>();
      for (const d of result.decisions) {
        if (d.kind === 'pending') {
          const prev = pendingSince.get(d.taskId);
          if (prev === undefined || prev.reason !== d.reason) pendingSince.set(d.taskId, { reason: d.reason, since: t * S });
          continue;
        }
        if (d.kind !== 'place') continue;
        const i = indexOf.get(d.taskId)!;
        sched.add({ ...tasks[i]!, state: 'RUNNING', placement: d.placement, attempts: 1 });
        placedAt[i] = t;
        placedNow.add(d.taskId);
        nodeOfTask.set(d.taskId, d.placement.nodeId);
        used.add(d.placement.nodeId);
        placements.set(d.taskId, d.placement);
        pendingSince.delete(d.taskId);
        const node = nodes.get(d.placement.nodeId)!;
        node.running.add(d.taskId);
        node.managed.idleSince = null;
        if (Number.isFinite(duration[i]!)) insertSorted(departures, [t + duration[i]!, i]);
      }
      if (placedNow.size > 0) pending = pending.filter((x) => !placedNow.has(x.id));
    }
    if (!elastic) continue;

    // The autoscaler sees what a server would: lent nodes, waiting demand with its reason and age.
    const demand: PendingDemand[] = pending.flatMap((task) => {
      const p = pendingSince.get(task.id);
      return p === undefined ? [] : [{ taskId: task.id, resources: task.spec.resources, replicas: 1, reason: p.reason, pendingSince: p.since }];
    });
    const live = [...nodes.values()].filter((n) => n.releasedAt === null);
    for (const n of live) {
      n.managed.activeTasks = n.running.size;
      if (asPolicy.headroom === undefined) continue;
      // What is left on it, for the headroom.
      if (n.running.size === 0) delete n.managed.free;
      else n.managed.free = freeRoom(n.init, [...n.running].map((id) => placements.get(id)!));
    }
    // The provider offers what it can still start: the trace has so many nodes of each shape.
    const open = offers.map((x) => ({ ...x, available: spare.get(x.shape)?.length ?? 0 }));
    const r = autoscale({ nodes: live.map((n) => n.managed), demand, offers: open, priceBook: book, now: t * S, policy: asPolicy, memory, arrivals });
    memory = r.memory;
    let poolChanged = false;
    for (const d of r.decisions) {
      if (d.kind === 'request') {
        const init = spare.get(d.shape)?.shift();
        if (init === undefined) continue; // the provider has no more of this shape
        nodes.set(init.id, { managed: managed(init.id, d.shape, t * S, 'requested'), init, joinAt: t + cfg.bootSeconds, releasedAt: null, running: new Set() });
        wake(t + cfg.bootSeconds);
        scaleOuts++;
      } else if (d.kind === 'drain') {
        const n = nodes.get(d.nodeId)!;
        n.managed.lifecycle = 'draining';
        wake(t + 1); // given back on a later pass, once empty
        poolChanged = true;
      } else {
        const n = nodes.get(d.nodeId)!;
        n.managed.lifecycle = 'released';
        n.releasedAt = t;
        nodes.delete(d.nodeId);
        gone.push(n);
        spare.get(n.managed.shape)?.unshift(n.init);
        scaleIns++;
        poolChanged = true;
      }
    }
    // A threshold or cool-down that runs out later is a reason to look again then.
    for (const d of demand) wake(d.pendingSince / S + cfg.pendingThresholdSeconds);
    if (memory.lastScaleOutAt !== null && demand.length > 0) wake(memory.lastScaleOutAt / S + cfg.cooldownSeconds);
    if (memory.lastScaleInAt !== null) wake(memory.lastScaleInAt / S + cfg.cooldownSeconds);
    if (poolChanged) rebuild();
    const lent = [...nodes.values()].filter((n) => n.releasedAt === null).length;
    if (lent > peakNodes) peakNodes = lent;
  }

  const end = t;
  let nodeSeconds = 0;
  let cost = 0n;
  for (const n of [...nodes.values(), ...gone]) {
    const from = n.managed.requestedAt / S;
    const to = n.releasedAt ?? end;
    nodeSeconds += to - from;
    cost += (hourlyOf(n.managed.shape) * BigInt(Math.round(to - from))) / 3600n;
  }
  const waits: number[] = [];
  for (let i = 0; i < pods.length; i++) if (placedAt[i]! >= 0) waits.push(placedAt[i]! - arrival[i]!);
  waits.sort((a, b) => a - b);
  const q = (p: number) => (waits.length ? waits[Math.min(waits.length - 1, Math.ceil(p * waits.length) - 1)]! : 0);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    run: {
      nodeHours: r2(nodeSeconds / 3600),
      cost: formatMoney(cost),
      waitSeconds: { mean: r2(waits.length ? waits.reduce((a, b) => a + b, 0) / waits.length : 0), p95: r2(q(0.95)), p99: r2(q(0.99)) },
      waited: waits.filter((w) => w > 0).length,
      placed: waits.length,
      neverPlaced: pods.length - waits.length,
      peakNodes,
    },
    scaleOuts,
    scaleIns,
    used,
  };
}

function managed(id: string, shape: string, at: number, lifecycle: ManagedNode['lifecycle'] = 'ready'): ManagedNode {
  return { id, provider: 'sim', shape, lifecycle, requestedAt: at, activeTasks: 0, reservations: 0, idleSince: lifecycle === 'ready' ? at : null };
}
