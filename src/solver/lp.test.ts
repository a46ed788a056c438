// `lp` with the real solver (HiGHS): it places what greedy `default` strands, gangs go all or
// nothing, and every placement it returns is feasible on the pool.
import { beforeAll, describe, expect, it } from 'vitest';
import { LpScheduler } from '../core/scheduler/lp.js';
import { schedule } from '../core/scheduler/schedule.js';
import { makeNode, makeTask, seededRng } from '../core/scheduler/testing.js';
import type { Decision, SchedulerPolicy, SchedulerSnapshot } from '../core/scheduler/types.js';
import type { NodeRecord, Placement } from '../core/types.js';
import { loadHighsSolver, type HighsMilpSolver } from './highs.js';

let solver: HighsMilpSolver;
beforeAll(async () => {
  solver = await loadHighsSolver();
});

const base = (): SchedulerPolicy => ({ placement: 'default', backfill: true, defaultRuntimeMs: 3_600_000, rng: seededRng(1) });
// A generous budget: these tests check what the model decides, not how fast (the bench does that).
const lpPolicy = () => ({ ...base(), batch: new LpScheduler({ solver, budgetMs: 5000 }) });

function placed(ds: readonly Decision[]): Map<string, Placement> {
  const m = new Map<string, Placement>();
  for (const d of ds) if (d.kind === 'place') m.set(d.taskId, d.placement);
  return m;
}

/** Fails unless every GPU, node CPU and node RAM holds what its placements take (plus what ran before). */
function expectFeasible(nodes: readonly NodeRecord[], s: SchedulerSnapshot, ps: Iterable<Placement>): void {
  const all = [...s.active.map((t) => t.placement!), ...ps];
  for (const n of nodes) {
    const on = all.filter((p) => p.nodeId === n.id);
    expect(on.reduce((a, p) => a + p.cpuMilli, 0)).toBeLessThanOrEqual(n.cpuMilli);
    expect(on.reduce((a, p) => a + p.hostMemoryMiB, 0)).toBeLessThanOrEqual(n.memoryMiB);
    for (const g of n.gpus) {
      const use = on.filter((p) => p.gpus.includes(g.index));
      expect(use.reduce((a, p) => a + p.gpuMilli, 0)).toBeLessThanOrEqual(1000);
      expect(use.reduce((a, p) => a + p.memoryMiB, 0)).toBeLessThanOrEqual(g.memoryMiB);
    }
    for (const p of on) expect(new Set(p.gpus).size).toBe(p.gpus.length);
  }
}

describe('lp placement with HiGHS', () => {
  it('places a set that greedy default cannot: default strands the 2-GPU task, lp fits all three', () => {
    const nodes = [makeNode('a', { gpus: 2, cpuMilli: 8000 }), makeNode('b', { gpus: 2, cpuMilli: 8000 })];
    const pending = [makeTask('t1', { gpu: 0.4, cpuMilli: 4000, createdAt: 1 }), makeTask('t2', { gpu: 0.5, cpuMilli: 4000, createdAt: 2 }), makeTask('t3', { gpu: 2, cpuMilli: 1000, createdAt: 3 })];
    const s: SchedulerSnapshot = { nodes, active: [], pending, reservations: [] };
    const greedy = placed(schedule(s, 0, base()).decisions);
    // One at a time, default spreads t1 and t2 over both nodes (each takes half of a node's CPU).
    expect([...greedy.keys()].sort()).toEqual(['t1', 't2']);
    const lp = placed(schedule(s, 0, lpPolicy()).decisions);
    expect([...lp.keys()].sort()).toEqual(['t1', 't2', 't3']);
    expect(lp.get('t1')!.node).toBe(lp.get('t2')!.node);
    expect(lp.get('t3')!.gpus).toHaveLength(2);
    expectFeasible(nodes, s, lp.values());
  });

  it('places a gang all or nothing, across nodes, each member on one node', () => {
    const nodes = [makeNode('a', { gpus: 2 }), makeNode('b', { gpus: 2 })];
    const gang = (id: string, size: number, gpu: number, at: number) =>
      Array.from({ length: size }, (_, i) => makeTask(`${id}-${i}`, { gpu, gang: size, gangId: id, gangIndex: i, createdAt: at }));
    // Gang big (5 × 1 GPU) can never fit the 4 GPUs: none of it runs. Gang duo (2 × 2 GPUs) takes both nodes.
    const s: SchedulerSnapshot = { nodes, active: [], pending: [...gang('big', 5, 1, 1), ...gang('duo', 2, 2, 2)], reservations: [] };
    const lp = new LpScheduler({ solver, budgetMs: 5000 });
    const got = placed(schedule(s, 0, { ...base(), batch: lp }).decisions);
    expect([...got.keys()].filter((k) => k.startsWith('big'))).toEqual([]);
    expect([...got.keys()].sort()).toEqual(['duo-0', 'duo-1']);
    expect(new Set([got.get('duo-0')!.node, got.get('duo-1')!.node]).size).toBe(2);
    expect(lp.counts.placed).toBe(2);
    expectFeasible(nodes, s, got.values());
  });

  it('keeps every placement feasible on a busy pool, with CPU, RAM and GPU memory binding', () => {
    const rng = seededRng(11);
    const nodes = Array.from({ length: 6 }, (_, i) => makeNode(`n${i}`, { gpus: 1 + (i % 4), cpuMilli: 16_000, memoryMiB: 64 * 1024, gpuMemoryMiB: 24 * 1024 }));
    const active = [makeTask('run', { gpu: 0.5, placement: { nodeId: 'n1', node: 'n1', gpus: [0], gpuUuids: ['GPU-n1-0'], gpuMilli: 500, memoryMiB: 8192, cpuMilli: 4000, hostMemoryMiB: 8192, sharing: 'simulated' } })];
    const shares = [0.25, 0.3, 0.5, 0.7, 1, 2];
    const pending = Array.from({ length: 40 }, (_, i) =>
      makeTask(`p${i}`, {
        gpu: shares[Math.floor(rng() * shares.length)]!,
        cpuMilli: 1000 * (1 + Math.floor(rng() * 6)),
        memoryMiB: 1024 * (1 + Math.floor(rng() * 16)),
        priority: i % 3 === 0 ? 80 : 50,
        createdAt: i,
      }),
    );
    const s: SchedulerSnapshot = { nodes, active, pending, reservations: [] };
    const got = placed(schedule(s, 0, lpPolicy()).decisions);
    expect(got.size).toBeGreaterThan(0);
    expectFeasible(nodes, s, got.values());
    // Priority first: the high tier is solved before the low one sees the pool, so it gets exactly
    // what it gets with no low-priority task pending at all.
    const high = pending.filter((t) => t.spec.priority === 80);
    const alone = placed(schedule({ ...s, pending: high }, 0, lpPolicy()).decisions);
    const highGot = [...got.keys()].filter((id) => high.some((t) => t.id === id)).sort();
    expect(highGot).toEqual([...alone.keys()].sort());
    expect(highGot.length).toBeGreaterThan(0);
  });
});
