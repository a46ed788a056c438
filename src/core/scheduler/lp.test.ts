import { describe, expect, it } from 'vitest';
import type { MilpProblem, MilpSolver } from '../placement/lp-solver.js';
import { LpScheduler } from './lp.js';
import { schedule } from './schedule.js';
import { makeNode, makeTask, seededRng } from './testing.js';
import type { Decision, SchedulerPolicy, SchedulerSnapshot } from './types.js';

const base = (): SchedulerPolicy => ({ placement: 'default', backfill: true, defaultRuntimeMs: 3_600_000, rng: seededRng(1) });

function snapshot(): SchedulerSnapshot {
  const nodes = [makeNode('a', { gpus: 2, cpuMilli: 8000 }), makeNode('b', { gpus: 2, cpuMilli: 8000 })];
  const pending = [
    makeTask('t1', { gpu: 0.4, cpuMilli: 4000, createdAt: 1 }),
    makeTask('t2', { gpu: 0.5, cpuMilli: 4000, createdAt: 2 }),
    makeTask('t3', { gpu: 2, cpuMilli: 1000, createdAt: 3 }),
    makeTask('g0', { gpu: 1, gang: 2, gangId: 'g', gangIndex: 0, createdAt: 4 }),
    makeTask('g1', { gpu: 1, gang: 2, gangId: 'g', gangIndex: 1, createdAt: 4 }),
  ];
  return { nodes, active: [], pending, reservations: [] };
}

/** A solver that answers as a time limit does: after the budget, with or without an incumbent. */
class FakeSolver implements MilpSolver {
  calls: { problem: MilpProblem; timeLimitMs: number }[] = [];
  constructor(private readonly answer: (p: MilpProblem) => Float64Array | null) {}
  solve(problem: MilpProblem, timeLimitMs: number) {
    this.calls.push({ problem, timeLimitMs });
    const x = this.answer(problem);
    return { status: 'limit' as const, x, solveMs: timeLimitMs };
  }
}

describe('lp batch step (solver port)', () => {
  it('falls back to default when the budget ends with no incumbent, and counts it', () => {
    const solver = new FakeSolver(() => null);
    const lp = new LpScheduler({ solver, budgetMs: 5 });
    const withLp = schedule(snapshot(), 0, { ...base(), batch: lp });
    const plain = schedule(snapshot(), 0, base());
    expect(withLp.decisions).toEqual(plain.decisions);
    expect(lp.counts).toMatchObject({ cycles: 1, fallbacks: 1, placed: 0 });
    expect(solver.calls).toHaveLength(1);
    expect(solver.calls[0]!.timeLimitMs).toBe(5);
  });

  it('uses the incumbent of a solve stopped on the budget (here: place nothing), then places the rest one at a time', () => {
    const solver = new FakeSolver((p) => new Float64Array(p.numCols));
    const lp = new LpScheduler({ solver, budgetMs: 5 });
    const withLp = schedule(snapshot(), 0, { ...base(), batch: lp });
    const plain = schedule(snapshot(), 0, base());
    const places = (ds: typeof plain.decisions) => ds.filter((d) => d.kind === 'place').sort((a, b) => (a.taskId < b.taskId ? -1 : 1));
    expect(lp.counts).toMatchObject({ cycles: 1, fallbacks: 0, limited: 1 });
    expect(lp.last).toMatchObject({ placed: 0, status: 'limit' });
    // The incumbent placed nothing; the one-at-a-time fill then places with default everything
    // that fits now. Unlike the walk, a batch keeps no room for a blocked head (t3): the walk
    // alone holds the gang back for it.
    expect(places(withLp.decisions).map((d) => d.taskId)).toEqual(['g0', 'g1', 't1', 't2']);
    expect(places(plain.decisions).map((d) => d.taskId)).toEqual(['t1', 't2']);
    expect(lp.counts.placed).toBe(4);
  });

  it('never overcommits on a solution that does not fit: a bad answer is checked against the cluster', () => {
    // Every column at its upper bound: far more than the GPUs hold.
    const solver = new FakeSolver((p) => Float64Array.from(p.colUpper));
    const lp = new LpScheduler({ solver });
    const r = schedule(snapshot(), 0, { ...base(), batch: lp });
    const perGpu = new Map<string, number>();
    for (const d of r.decisions) {
      if (d.kind !== 'place') continue;
      for (const g of d.placement.gpus) perGpu.set(`${d.placement.node}/${g}`, (perGpu.get(`${d.placement.node}/${g}`) ?? 0) + d.placement.gpuMilli);
    }
    for (const v of perGpu.values()) expect(v).toBeLessThanOrEqual(1000);
  });

  it('hands the solver a feasible greedy start that places something', () => {
    const solver = new FakeSolver(() => null);
    schedule(snapshot(), 0, { ...base(), batch: new LpScheduler({ solver }) });
    const p = solver.calls[0]!.problem;
    const x = p.start!;
    expect(x).toHaveLength(p.numCols);
    for (let j = 0; j < p.numCols; j++) {
      expect(x[j]).toBeGreaterThanOrEqual(0);
      expect(x[j]).toBeLessThanOrEqual(p.colUpper[j]!);
      expect(Number.isInteger(x[j])).toBe(true);
    }
    for (let r = 0; r < p.numRows; r++) {
      let v = 0;
      for (let k = p.starts[r]!; k < p.starts[r + 1]!; k++) v += p.values[k]! * x[p.indices[k]!]!;
      expect(v).toBeGreaterThanOrEqual(p.rowLower[r]! - 1e-9);
      expect(v).toBeLessThanOrEqual(p.rowUpper[r]! + 1e-9);
    }
    let value = 0;
    for (let j = 0; j < p.numCols; j++) value += p.colCost[j]! * x[j]!;
    expect(value).toBeGreaterThan(0);
  });

  it("starts from default's plan: an answer equal to the start places exactly what default places", () => {
    const nodes = [makeNode('a', { gpus: 4, cpuMilli: 16_000 }), makeNode('b', { gpus: 4, cpuMilli: 16_000 }), makeNode('c', { gpus: 2, cpuMilli: 8000 })];
    const gpus = [0.3, 0.5, 1, 2, 0.7, 0.25, 1, 0.5];
    const pending = gpus.map((g, i) => makeTask(`t${i}`, { gpu: g, cpuMilli: 1000 + 500 * i, createdAt: i }));
    const s: SchedulerSnapshot = { nodes, active: [], pending, reservations: [] };
    const solver = new FakeSolver((p) => p.start!);
    const lp = new LpScheduler({ solver });
    const key = (ds: readonly Decision[]) =>
      ds
        .filter((d) => d.kind === 'place')
        .map((d) => (d.kind === 'place' ? `${d.taskId}@${d.placement.node}:${d.placement.gpus.join(',')}` : ''))
        .sort();
    const withLp = key(schedule(s, 0, { ...base(), batch: lp }).decisions);
    expect(withLp).toEqual(key(schedule(s, 0, base()).decisions));
    expect(withLp).toHaveLength(8);
    expect(lp.counts.placed).toBe(8);
  });

  it('leaves cycles with tenant GPU limits to the walk (counted as skipped)', () => {
    const solver = new FakeSolver(() => null);
    const lp = new LpScheduler({ solver });
    const s = { ...snapshot(), tenancy: { tenants: [{ name: 'default', guaranteeMilli: 0, limitMilli: 1000, weight: 1, budget: null }] } };
    schedule(s, 0, { ...base(), batch: lp });
    expect(lp.counts).toMatchObject({ cycles: 0, skipped: 1 });
    expect(solver.calls).toHaveLength(0);
  });

  it('refuses a budget or candidate count that makes no sense', () => {
    const solver = new FakeSolver(() => null);
    expect(() => new LpScheduler({ solver, budgetMs: 0 })).toThrow(/budget must be > 0/);
    expect(() => new LpScheduler({ solver, candidates: 0.5 })).toThrow(/candidates must be a whole number/);
  });
});
