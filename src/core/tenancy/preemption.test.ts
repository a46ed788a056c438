import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { selectVictims, type RunningTaskInfo, type WaitingTaskInfo } from './preemption.js';
import type { Tenant } from './types.js';

const tenant = (name: string, guaranteeMilli = 0): Tenant => ({ name, guaranteeMilli, limitMilli: null, weight: 1, budget: null });
const run = (id: string, over: Partial<RunningTaskInfo> = {}): RunningTaskInfo => ({ id, tenant: 'a', priority: 50, startedAt: 0, preemptible: true, gpuMilli: 1000, ...over });
const wait = (over: Partial<WaitingTaskInfo> = {}): WaitingTaskInfo => ({ id: 'w', tenant: 'a', priority: 80, gpuMilli: 1000, ...over });

/** A pool measured in milli only: it fits when free + released ≥ need. */
const poolFits = (free: number, need: number) => (released: RunningTaskInfo[]) => free + released.reduce((s, r) => s + r.gpuMilli, 0) >= need;
const usageOf = (running: RunningTaskInfo[]): Map<string, number> => {
  const m = new Map<string, number>();
  for (const r of running) m.set(r.tenant, (m.get(r.tenant) ?? 0) + r.gpuMilli);
  return m;
};
const ids = (v: RunningTaskInfo[] | null): string[] | null => (v === null ? null : v.map((x) => x.id));

describe('selectVictims', () => {
  it('preempts nothing when the task already fits', () => {
    expect(selectVictims(wait(), [run('r1')], poolFits(1000, 1000), [], new Map())).toEqual([]);
  });

  it('victims: lowest priority first, then most recently started', () => {
    const running = [run('old10', { priority: 10, startedAt: 1 }), run('new10', { priority: 10, startedAt: 5 }), run('p20', { priority: 20, startedAt: 9 }), run('p30', { priority: 30 })];
    expect(ids(selectVictims(wait({ gpuMilli: 1000 }), running, poolFits(0, 1000), [], usageOf(running)))).toEqual(['new10']);
    expect(ids(selectVictims(wait({ gpuMilli: 2000 }), running, poolFits(0, 2000), [], usageOf(running)))).toEqual(['new10', 'old10']);
    expect(ids(selectVictims(wait({ gpuMilli: 3000 }), running, poolFits(0, 3000), [], usageOf(running)))).toEqual(['new10', 'old10', 'p20']);
  });

  it('never preempts when the task would still not fit: null, not a partial set', () => {
    const running = [run('r1', { priority: 10 }), run('r2', { priority: 10 }), run('keep', { priority: 90 })];
    expect(selectVictims(wait({ gpuMilli: 3000 }), running, poolFits(0, 3000), [], usageOf(running))).toBeNull();
  });

  it('only preemptible tasks, and only of lower priority', () => {
    const running = [run('fixed', { priority: 10, preemptible: false }), run('equal', { priority: 80 }), run('ok', { priority: 79 })];
    expect(ids(selectVictims(wait(), running, poolFits(0, 1000), [], usageOf(running)))).toEqual(['ok']);
    expect(selectVictims(wait({ gpuMilli: 2000 }), running, poolFits(0, 2000), [], usageOf(running))).toBeNull();
  });

  it('a tenant under its guarantee reclaims borrowed capacity whatever the priorities', () => {
    // a is guaranteed 2 GPUs, b none; b borrows all 4 GPUs at priority 90.
    const tenants = [tenant('a', 2000), tenant('b', 0)];
    const running = [run('b1', { tenant: 'b', priority: 90, startedAt: 1 }), run('b2', { tenant: 'b', priority: 90, startedAt: 2 }), run('b3', { tenant: 'b', priority: 90, startedAt: 3 }), run('b4', { tenant: 'b', priority: 90, startedAt: 4 })];
    const w = wait({ tenant: 'a', priority: 10, gpuMilli: 2000 });
    expect(ids(selectVictims(w, running, poolFits(0, 2000), tenants, usageOf(running)))).toEqual(['b4', 'b3']);
  });

  it('reclaim stops at the guarantee of the tenant reclaimed from', () => {
    // b is guaranteed 3 GPUs and holds 4: only 1 GPU of it is borrowed.
    const tenants = [tenant('a', 2000), tenant('b', 3000)];
    const running = [1, 2, 3, 4].map((i) => run(`b${i}`, { tenant: 'b', priority: 90, startedAt: i }));
    const w = wait({ tenant: 'a', priority: 10, gpuMilli: 2000 });
    expect(selectVictims(w, running, poolFits(0, 2000), tenants, usageOf(running))).toBeNull();
    expect(ids(selectVictims(w, running, poolFits(1000, 2000), tenants, usageOf(running)))).toEqual(['b4']);
  });

  it('a tenant beyond its guarantee does not reclaim; priority never takes another tenant’s guaranteed share', () => {
    const tenants = [tenant('a', 1000), tenant('b', 2000)];
    const running = [run('a1', { tenant: 'a', priority: 10 }), run('b1', { tenant: 'b', priority: 10 }), run('b2', { tenant: 'b', priority: 10 })];
    // a holds 1 GPU = its guarantee; a 2nd GPU would be borrowed: no reclaim. b is within its guarantee.
    expect(selectVictims(wait({ tenant: 'a', priority: 10 }), running, poolFits(0, 1000), tenants, usageOf(running))).toBeNull();
    // By priority, a may preempt its own lower-priority task but not b's guaranteed ones.
    expect(ids(selectVictims(wait({ tenant: 'a', priority: 80 }), running, poolFits(0, 1000), tenants, usageOf(running)))).toEqual(['a1']);
    expect(selectVictims(wait({ tenant: 'a', priority: 80, gpuMilli: 2000 }), running, poolFits(0, 2000), tenants, usageOf(running))).toBeNull();
  });

  it('drops victims that turned out unneeded (the fit is the caller’s, e.g. per node)', () => {
    // Two nodes; the waiting task needs 2 GPUs on one node. n1: small (0.5); n2: x (1.0), y (1.0).
    const node = new Map([['small', 'n1'], ['x', 'n2'], ['y', 'n2']]);
    const running = [run('small', { priority: 1, gpuMilli: 500 }), run('x', { priority: 2 }), run('y', { priority: 3 })];
    const fits = (released: RunningTaskInfo[]): boolean => released.filter((r) => node.get(r.id) === 'n2').length === 2;
    expect(ids(selectVictims(wait({ gpuMilli: 2000 }), running, fits, [], usageOf(running)))).toEqual(['x', 'y']);
  });

  it('property: a result always fits, holds only eligible tasks, and null means even all eligible would not do', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ tenant: fc.constantFrom('a', 'b'), priority: fc.integer({ min: 0, max: 4 }), startedAt: fc.integer({ min: 0, max: 9 }), preemptible: fc.boolean(), gpuMilli: fc.integer({ min: 100, max: 2000 }) }), { maxLength: 10 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 1, max: 6000 }),
        fc.integer({ min: 0, max: 4 }),
        (raw, free, need, prio) => {
          const running = raw.map((r, i) => ({ ...r, id: `r${i}` }));
          const w = wait({ tenant: 'a', priority: prio, gpuMilli: need });
          const fits = poolFits(free, need);
          const tenants = [tenant('a', 0), tenant('b', 0)];
          const v = selectVictims(w, running, fits, tenants, usageOf(running));
          const eligible = running.filter((r) => r.preemptible && r.priority < prio);
          if (v === null) expect(fits(eligible)).toBe(false);
          else {
            expect(fits(v)).toBe(true);
            for (const x of v) expect(eligible).toContain(x);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
