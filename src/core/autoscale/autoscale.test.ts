import { describe, expect, it } from 'vitest';
import { autoscale, offerHourly, type AutoscaleInput } from './autoscale.js';
import type { AutoscalePolicy, ManagedNode, PendingDemand, ProviderOffer } from './types.js';
import type { PriceBook } from '../pricing/types.js';
import type { ResourceRequest } from '../types.js';

const M = 1_000_000n; // one currency unit in micros
const book: PriceBook = { currency: 'USD', prices: new Map([['A100-80GB', 2n * M], ['H100-80GB', 4n * M]]), defaultPrice: 1n * M };

const a100x4: ProviderOffer = { provider: 'slurm', shape: 'a100x4', gpuModel: 'A100-80GB', gpuCount: 4, gpuMemoryMiB: 81920, gpuTflops: 312, cpuMilli: 64000, memoryMiB: 512 * 1024 };
const a100x1: ProviderOffer = { ...a100x4, shape: 'a100x1', gpuCount: 1, cpuMilli: 16000, memoryMiB: 128 * 1024 };
const h100x8: ProviderOffer = { provider: 'cloud', shape: 'h100x8', gpuModel: 'H100-80GB', gpuCount: 8, gpuMemoryMiB: 81920, gpuTflops: 989, cpuMilli: 192000, memoryMiB: 2048 * 1024, hourlyMicros: 30n * M };

const policy: AutoscalePolicy = {
  pendingThresholdMs: 30_000,
  idleTimeoutMs: 300_000,
  cooldownMs: 60_000,
  maxNodes: { slurm: 4, cloud: 2 },
  minNodes: {},
};
const NOW = 10_000_000;

const gpus = (milli: number, count = 1): ResourceRequest => ({ gpu: { count, share: { kind: 'milli', milli } }, cpuMilli: 1000, memoryMiB: 4096 });
const waiting = (taskId: string, resources: ResourceRequest, waitedMs = 60_000, extra: Partial<PendingDemand> = {}): PendingDemand => ({
  taskId,
  resources,
  replicas: 1,
  reason: 'Resources',
  pendingSince: NOW - waitedMs,
  ...extra,
});
const lent = (id: string, extra: Partial<ManagedNode> = {}): ManagedNode => ({
  id,
  provider: 'slurm',
  shape: 'a100x4',
  lifecycle: 'ready',
  requestedAt: NOW - 3_600_000,
  activeTasks: 0,
  reservations: 0,
  idleSince: null,
  ...extra,
});
const run = (over: Partial<AutoscaleInput>) =>
  autoscale({ nodes: [], demand: [], offers: [a100x4, a100x1], priceBook: book, now: NOW, policy, memory: { lastScaleOutAt: null, lastScaleInAt: null }, ...over });

describe('autoscale: scale out', () => {
  it('asks for the cheapest shape that holds a task that waited past the threshold', () => {
    const r = run({ demand: [waiting('t1', gpus(500))] });
    expect(r.decisions).toEqual([expect.objectContaining({ kind: 'request', provider: 'slurm', shape: 'a100x1', taskIds: ['t1'], hourlyMicros: 2n * M })]);
    expect(r.scalingUp).toEqual(['t1']);
    expect(r.memory.lastScaleOutAt).toBe(NOW);
  });

  it('waits while demand is younger than the threshold, or pending for a reason more nodes cannot fix', () => {
    expect(run({ demand: [waiting('young', gpus(500), 10_000)] }).decisions).toEqual([]);
    expect(run({ demand: [waiting('q', gpus(500), 60_000, { reason: 'Quota' })] }).decisions).toEqual([]);
    expect(run({ demand: [waiting('p', gpus(500), 60_000, { reason: 'Priority' })] }).decisions).toEqual([]);
  });

  it('packs many tasks into the fewest nodes: 7 half GPUs and a 4-GPU task take two 4-GPU nodes, not eight 1-GPU ones', () => {
    const demand = [...Array.from({ length: 7 }, (_, i) => waiting(`h${i}`, gpus(500))), waiting('big', gpus(1000, 4))];
    const r = run({ demand });
    const shapes = r.decisions.map((d) => (d.kind === 'request' ? d.shape : d.kind));
    expect(shapes).toEqual(['a100x4', 'a100x4']);
    expect(r.scalingUp).toHaveLength(8);
  });

  it('finishes the demand with the cheapest shape that holds the rest', () => {
    // One half GPU left: a 1-GPU node (2/h) finishes it as well as a 4-GPU node (8/h).
    const r = run({ demand: [waiting('t', gpus(500))], offers: [a100x4, a100x1] });
    expect(r.decisions.map((d) => (d.kind === 'request' ? d.shape : ''))).toEqual(['a100x1']);
  });

  it('counts nodes already on their way before asking for more', () => {
    const r = run({ nodes: [lent('j1', { lifecycle: 'joining', idleSince: null })], demand: [waiting('a', gpus(1000, 2)), waiting('b', gpus(1000, 2)), waiting('c', gpus(500))] });
    // a and b fill the joining 4-GPU node; c needs one more node.
    expect(r.scalingUp).toEqual(['a', 'b', 'c']);
    expect(r.decisions).toEqual([expect.objectContaining({ kind: 'request', shape: 'a100x1', taskIds: ['c'] })]);
  });

  it('asks for nothing while a lent node that just joined is still empty: the next cycle places there', () => {
    const r = run({ nodes: [lent('fresh', { lifecycle: 'ready', idleSince: NOW })], demand: [waiting('t', gpus(1000), 60_000, { reason: 'ScalingUp' })] });
    expect(r.decisions).toEqual([]);
    expect(r.scalingUp).toEqual(['t']);
    // Nor is it drained for being idle while that demand waits for it.
    expect(run({ nodes: [lent('fresh', { idleSince: NOW - 900_000 })], demand: [waiting('t', gpus(1000))] }).decisions).toEqual([]);
    // A busy one holds nothing back.
    expect(run({ nodes: [lent('busy', { activeTasks: 1 })], demand: [waiting('t', gpus(1000))] }).decisions).toHaveLength(1);
  });

  it('keeps a gang whole: it is planned on new nodes all together or not at all', () => {
    const gang = waiting('g', gpus(1000, 4), 60_000, { replicas: 3 });
    const r = run({ demand: [gang], policy: { ...policy, maxNodes: { slurm: 2 } } });
    expect(r.decisions.filter((d) => d.kind === 'request')).toEqual([]);
    expect(r.heldBack.join(' ')).toMatch(/slurm is at its limit of 2 nodes/);
    const r3 = run({ demand: [gang] });
    expect(r3.decisions.filter((d) => d.kind === 'request')).toHaveLength(3);
  });

  it('matches models and memory: an H100-only task goes to the H100 offer although it costs more', () => {
    const h100Task: ResourceRequest = { gpu: { count: 1, share: { kind: 'milli', milli: 1000 }, model: 'H100-80GB' }, cpuMilli: 1000, memoryMiB: 1024 };
    const r = run({ demand: [waiting('h', h100Task)], offers: [a100x4, a100x1, h100x8] });
    expect(r.decisions).toEqual([expect.objectContaining({ provider: 'cloud', shape: 'h100x8', hourlyMicros: 30n * M })]);
  });

  it('reports demand no shape can ever hold instead of asking for nodes', () => {
    const r = run({ demand: [waiting('huge', gpus(1000, 8))] });
    expect(r.decisions).toEqual([]);
    expect(r.unservable).toEqual([{ taskId: 'huge', why: expect.stringMatching(/no offered node shape can hold it/) }]);
    expect(run({ demand: [waiting('x', gpus(500))], offers: [] }).unservable[0]?.why).toMatch(/no provider offers/);
  });
});

describe('autoscale: limits', () => {
  it('never goes past a provider’s node limit', () => {
    const demand = Array.from({ length: 10 }, (_, i) => waiting(`t${i}`, gpus(1000, 4)));
    const r = run({ demand, nodes: [lent('n1', { activeTasks: 1 })] });
    expect(r.decisions.filter((d) => d.kind === 'request')).toHaveLength(3);
    expect(r.heldBack.join(' ')).toMatch(/limit of 4 nodes/);
  });

  it('never goes past the hourly cost cap', () => {
    const demand = Array.from({ length: 3 }, (_, i) => waiting(`t${i}`, gpus(1000, 4)));
    const r = run({ demand, policy: { ...policy, maxHourlyMicros: 20n * M } }); // 8/h each: two fit under 20
    expect(r.decisions.filter((d) => d.kind === 'request')).toHaveLength(2);
    expect(r.heldBack.join(' ')).toMatch(/cost cap of 20\.00\/h/);
  });

  it('asks for no more of a shape than the provider has left to start', () => {
    const demand = Array.from({ length: 3 }, (_, i) => waiting(`t${i}`, gpus(1000, 4)));
    const r = run({ demand, offers: [{ ...a100x4, available: 1 }, a100x1] });
    expect(r.decisions.map((d) => (d.kind === 'request' ? d.shape : d.kind))).toEqual(['a100x4']);
    expect(r.heldBack.join(' ')).toMatch(/slurm has 0 more a100x4 node\(s\) to start/);
  });

  it('counts the cost of nodes already lent against the cap', () => {
    const r = run({ demand: [waiting('t', gpus(1000, 4))], nodes: [lent('n1', { activeTasks: 2 }), lent('n2', { activeTasks: 1 })], policy: { ...policy, maxHourlyMicros: 20n * M } });
    expect(r.decisions).toEqual([]); // 16/h lent; another 8/h would pass 20
  });

  it('holds scale-out during the cool-down, but still marks demand that nodes on their way will take', () => {
    const memory = { lastScaleOutAt: NOW - 30_000, lastScaleInAt: null };
    const r = run({ memory, demand: [waiting('a', gpus(500)), waiting('b', gpus(1000, 4))], nodes: [lent('r1', { lifecycle: 'requested', shape: 'a100x1' })] });
    expect(r.decisions).toEqual([]);
    expect(r.scalingUp).toEqual(['a']);
    expect(r.heldBack[0]).toMatch(/cool-down/);
    expect(r.memory).toEqual(memory);
    expect(run({ memory: { lastScaleOutAt: NOW - 60_000, lastScaleInAt: null }, demand: [waiting('b', gpus(1000, 4))] }).decisions).toHaveLength(1);
  });

  it('keeps the minimum warm on the provider’s cheapest shape', () => {
    const r = run({ policy: { ...policy, minNodes: { slurm: 2 } }, nodes: [lent('n1')] });
    expect(r.decisions).toEqual([expect.objectContaining({ kind: 'request', shape: 'a100x1', taskIds: [], reason: 'slurm keeps at least 2 node(s) warm' })]);
  });

  it('gives back a node that never joined', () => {
    const r = run({ nodes: [lent('stuck', { lifecycle: 'requested', requestedAt: NOW - 700_000 })], policy: { ...policy, joinTimeoutMs: 600_000 }, demand: [waiting('t', gpus(500))] });
    expect(r.decisions[0]).toEqual(expect.objectContaining({ kind: 'release', nodeId: 'stuck', reason: 'did not join within 600 s' }));
    // The demand it was for is planned anew.
    expect(r.decisions[1]).toEqual(expect.objectContaining({ kind: 'request', taskIds: ['t'] }));
  });
});

describe('autoscale: scale in', () => {
  it('drains a node idle past the timeout, then releases it once drained and empty', () => {
    const idle = lent('n1', { idleSince: NOW - 300_000 });
    const r = run({ nodes: [idle] });
    expect(r.decisions).toEqual([expect.objectContaining({ kind: 'drain', nodeId: 'n1', reason: 'idle for 300 s (idle timeout 300 s)' })]);
    expect(r.memory.lastScaleInAt).toBe(NOW);
    const r2 = run({ nodes: [{ ...idle, lifecycle: 'draining' }], memory: r.memory });
    expect(r2.decisions).toEqual([expect.objectContaining({ kind: 'release', nodeId: 'n1', reason: 'drained and empty' })]);
  });

  it('never releases or drains a node with running tasks or vGPU reservations', () => {
    const busy = [
      lent('tasks', { activeTasks: 1, idleSince: null }),
      lent('vgpu', { reservations: 1, idleSince: null }),
      lent('d-tasks', { lifecycle: 'draining', activeTasks: 2 }),
      lent('d-vgpu', { lifecycle: 'draining', reservations: 1 }),
    ];
    expect(run({ nodes: busy }).decisions).toEqual([]);
  });

  it('keeps a node idle for less than the timeout, and the warm minimum', () => {
    expect(run({ nodes: [lent('n1', { idleSince: NOW - 299_999 })] }).decisions).toEqual([]);
    expect(run({ nodes: [lent('n1', { idleSince: NOW - 900_000 })], policy: { ...policy, minNodes: { slurm: 1 } } }).decisions).toEqual([]);
    const two = [lent('old', { idleSince: NOW - 900_000 }), lent('new', { idleSince: NOW - 400_000 })];
    expect(run({ nodes: two, policy: { ...policy, minNodes: { slurm: 1 } } }).decisions).toEqual([expect.objectContaining({ kind: 'drain', nodeId: 'old' })]);
  });

  it('drains nothing more during the scale-in cool-down, but releases what was drained', () => {
    const memory = { lastScaleOutAt: null, lastScaleInAt: NOW - 10_000 };
    const r = run({ memory, nodes: [lent('idle', { idleSince: NOW - 900_000 }), lent('done', { lifecycle: 'draining' })] });
    expect(r.decisions).toEqual([expect.objectContaining({ kind: 'release', nodeId: 'done' })]);
    expect(r.heldBack[0]).toMatch(/idle but the last scale-in/);
  });
});

describe('autoscale: warm headroom and scale-ahead', () => {
  const spare = (n: number, extra: Partial<AutoscalePolicy> = {}): AutoscalePolicy => ({ ...policy, headroom: { spareGpus: n, forecastFactor: 0, forecastWindowMs: 60_000 }, ...extra });
  const room = (gpuMilli: number[], cpuMilli = 32000) => ({ gpuMilli, gpuMemoryMiB: gpuMilli.map((m) => (81920 * m) / 1000), cpuMilli, memoryMiB: 256 * 1024 });

  it('keeps spare GPUs ready before anything waits, on the cheapest nodes that hold them', () => {
    const r = run({ policy: spare(2) });
    expect(r.decisions).toEqual([
      expect.objectContaining({ kind: 'request', shape: 'a100x1', taskIds: [], reason: 'warm headroom: room kept ready for 2 spare GPU(s)' }),
      expect.objectContaining({ kind: 'request', shape: 'a100x1', taskIds: [] }),
    ]);
    expect(r.scalingUp).toEqual([]);
    expect(r.memory.lastScaleOutAt).toBe(NOW);
  });

  it('counts the room the pool has: coming nodes, empty ones, what busy ones have left, nodes it did not lend', () => {
    expect(run({ policy: spare(4), nodes: [lent('j', { lifecycle: 'joining' })] }).decisions).toEqual([]);
    // A busy node with two whole GPUs free, and a hand-started node with one idle GPU: one more is needed.
    const busy = lent('b', { activeTasks: 2, free: room([0, 500, 1000, 1000]) });
    const other = { name: 'own-1', gpuModel: 'A100-80GB', gpuMemoryMiB: 81920, gpuTflops: 312, free: room([1000]) };
    const r = run({ policy: spare(4), nodes: [busy], otherRooms: [other] });
    expect(r.decisions).toEqual([expect.objectContaining({ kind: 'request', shape: 'a100x1' })]);
    // A busy node that does not say what it has left counts as full.
    expect(run({ policy: spare(1), nodes: [lent('b', { activeTasks: 1 })] }).decisions).toHaveLength(1);
  });

  it('does not give back an idle node whose GPUs are the headroom, but does give back one beyond it', () => {
    const old = lent('old', { idleSince: NOW - 900_000 });
    const recent = lent('recent', { idleSince: NOW - 400_000 });
    expect(run({ policy: spare(4), nodes: [old] }).decisions).toEqual([]);
    // Either node holds the four spare GPUs: the one idle longest goes.
    expect(run({ policy: spare(4), nodes: [old, recent] }).decisions).toEqual([expect.objectContaining({ kind: 'drain', nodeId: 'old' })]);
  });

  it('skips the pending threshold while the headroom is short, and not when it is met', () => {
    const young = waiting('t', gpus(1000, 4), 1_000);
    // No headroom: a task that waited 1 s of a 30 s threshold gets nothing.
    expect(run({ demand: [young] }).decisions).toEqual([]);
    const r = run({ policy: spare(1), demand: [young] });
    expect(r.decisions[0]).toEqual(expect.objectContaining({ kind: 'request', shape: 'a100x4', taskIds: ['t'], reason: expect.stringMatching(/waited over 0 s for room \(the warm headroom is short\)/) }));
    // The spare GPU is asked for as well: the 4-GPU node is full with the task.
    expect(r.decisions.slice(1)).toEqual([expect.objectContaining({ kind: 'request', shape: 'a100x1', taskIds: [] })]);
    // Headroom met (an idle 1-GPU node is there) yet a 4-GPU task waits: the threshold applies again.
    const idle1 = lent('n1', { shape: 'a100x1', idleSince: NOW - 10_000 });
    expect(run({ policy: spare(1), demand: [young], nodes: [idle1] }).decisions).toEqual([]);
  });

  it('keeps whole spare nodes of the widest offer, which spare GPUs spread over busy nodes are not', () => {
    const nodes = (n: number, extra: Partial<AutoscalePolicy> = {}): AutoscalePolicy => ({ ...policy, headroom: { spareGpus: 0, spareNodes: n, forecastFactor: 0, forecastWindowMs: 60_000 }, ...extra });
    // Four free GPUs, but on a busy node and one at a time elsewhere: no whole 4-GPU node.
    const busy = lent('b', { activeTasks: 1, free: room([1000, 1000, 1000, 0]) });
    const other = { name: 'own-1', gpuModel: 'A100-80GB', gpuMemoryMiB: 81920, gpuTflops: 312, free: room([1000]) };
    expect(run({ policy: spare(4), nodes: [busy], otherRooms: [other] }).decisions).toEqual([]);
    const r = run({ policy: nodes(1), nodes: [busy], otherRooms: [other] });
    expect(r.decisions).toEqual([expect.objectContaining({ kind: 'request', shape: 'a100x4', taskIds: [], reason: 'warm headroom: room kept ready for 1 spare whole node(s)' })]);
    // An empty 4-GPU node is the spare node: nothing asked, and it is not given back when idle.
    const idle = lent('idle', { idleSince: NOW - 900_000 });
    expect(run({ policy: nodes(1), nodes: [busy, idle] }).decisions).toEqual([]);
    // A whole-node task that arrives while the spare is missing skips the threshold.
    const young = waiting('t', gpus(1000, 4), 1_000);
    expect(run({ policy: nodes(1), demand: [young] }).decisions[0]).toEqual(expect.objectContaining({ kind: 'request', shape: 'a100x4', taskIds: ['t'] }));
  });

  it('scales ahead: room for what arrived in the last window again, times the factor', () => {
    const arrived = (at: number, r: ResourceRequest) => ({ at, resources: r, replicas: 1 });
    const forecast = (factor: number): AutoscalePolicy => ({ ...policy, headroom: { spareGpus: 0, forecastFactor: factor, forecastWindowMs: 60_000 } });
    // Two one-GPU tasks in the last minute (one before it does not count), factor 2: room for four GPUs.
    const arrivals = [arrived(NOW - 10_000, gpus(1000)), arrived(NOW - 50_000, gpus(1000)), arrived(NOW - 70_000, gpus(1000, 4))];
    const r = run({ policy: forecast(2), arrivals });
    expect(r.decisions).toEqual([expect.objectContaining({ kind: 'request', shape: 'a100x4', taskIds: [], reason: 'warm headroom: room kept ready for 2 × the 2 task(s) (2 GPU(s)) that arrived in the last 60 s' })]);
    expect(run({ policy: forecast(2), arrivals: arrivals.slice(2) }).decisions).toEqual([]);
    // Factor 0.5 of two arrivals: room for one.
    expect(run({ policy: forecast(0.5), arrivals }).decisions).toEqual([expect.objectContaining({ shape: 'a100x1' })]);
  });

  it('keeps to the limits and the cool-down, and ignores what no offer can hold', () => {
    // Nine spare GPUs, two nodes at most: two 4-GPU nodes, and the limit is said.
    const capped = run({ policy: spare(9, { maxNodes: { slurm: 2 } }) });
    expect(capped.decisions.map((d) => (d.kind === 'request' ? d.shape : d.kind))).toEqual(['a100x4', 'a100x4']);
    expect(capped.heldBack.join(' ')).toMatch(/limit of 2 nodes/);
    const r = run({ policy: spare(2), memory: { lastScaleOutAt: NOW - 10_000, lastScaleInAt: null } });
    expect(r.decisions).toEqual([]);
    expect(r.heldBack[0]).toMatch(/cool-down/);
    const h100only: ResourceRequest = { gpu: { count: 1, share: { kind: 'milli', milli: 1000 }, model: 'H100-80GB' }, cpuMilli: 0, memoryMiB: 0 };
    expect(run({ policy: { ...policy, headroom: { spareGpus: 0, forecastFactor: 1, forecastWindowMs: 60_000 } }, arrivals: [{ at: NOW, resources: h100only, replicas: 1 }] }).decisions).toEqual([]);
  });
});

describe('offerHourly', () => {
  it('uses the offer’s own price, else the book’s GPU price times the count', () => {
    expect(offerHourly(h100x8, book)).toBe(30n * M);
    expect(offerHourly(a100x4, book)).toBe(8n * M);
    expect(offerHourly({ ...a100x4, gpuModel: 'T4' }, book)).toBe(4n * M); // the default price
    expect(offerHourly({ ...a100x4, gpuModel: null, gpuCount: 0 }, book)).toBe(0n);
  });
});
