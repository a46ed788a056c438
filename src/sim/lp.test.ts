// `fastgpu sim --policy lp` on the small fixtures: published mode in batches, replay with a MILP
// cycle, the fallback counted, and the flags checked. The real trace runs in bench/placement-lp.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { MilpSolver } from '../core/placement/lp-solver.js';
import { simCommand } from '../cli/commands/sim.js';
import { loadHighsSolver } from '../solver/highs.js';
import { runReplay } from './replay.js';
import { runPublished } from './run.js';
import { loadNodes, loadPods } from './trace.js';

const fixture = (f: string) => fileURLToPath(new URL(`./fixtures/${f}`, import.meta.url));
const nodes = loadNodes(fixture('nodes-small.csv'));
const pods = loadPods(fixture('pods-full.csv'));
// No arrival times: the whole list arrives at 0, so a replay cycle sees a queue.
const atOnce = loadPods(fixture('pods-multigpu.csv'));
// Wall time only feeds the run's report; nothing here reads it.
const now = () => 0;
let solver: MilpSolver;
beforeAll(async () => {
  solver = await loadHighsSolver();
});
/** `s`, counting its calls. */
function counting(s: MilpSolver): MilpSolver & { calls: number } {
  const c = { calls: 0, solve: (p: Parameters<MilpSolver['solve']>[0], ms: number) => (c.calls++, s.solve(p, ms)) };
  return c;
}
/** Answers as a solver that ran out of time before any incumbent. */
const noIncumbent: MilpSolver = { solve: (_p, ms) => ({ status: 'limit', x: null, solveMs: ms }) };

describe('sim --policy lp', () => {
  it('published mode: batches of k arrivals, one MILP each, never above capacity', () => {
    const one = runPublished({ workload: 'f', nodes, pods, policy: 'default', seeds: [42], tune: 1.3, now });
    const lp = runPublished({ workload: 'f', nodes, pods, policy: 'default', seeds: [42], tune: 1.3, now, lp: { solver, batch: 4, budgetMs: 5000 } });
    expect(lp.pods).toBe(one.pods);
    expect(lp.lp).toMatchObject({ batch: 4, batches: Math.ceil(lp.pods / 4), fallbacks: 0 });
    for (const v of Object.values(lp.allocation)) if (v !== null) expect(v).toBeLessThanOrEqual(100);
    expect(lp.placed + lp.failed).toBe(lp.pods);
  });

  it('published mode: a batch with no incumbent in time is placed one at a time by default, and counted', () => {
    const solver = counting(noIncumbent);
    const lp = runPublished({ workload: 'f', nodes, pods, policy: 'default', seeds: [42], tune: 1.3, now, lp: { solver, batch: 4, budgetMs: 1 } });
    expect(solver.calls).toBeGreaterThan(0);
    expect(lp.lp).toMatchObject({ fallbacks: solver.calls, limited: 0 });
    // Every solved batch fell back, and default placed its arrivals: some were placed.
    expect(lp.placed).toBeGreaterThan(0);
    expect(lp.placed + lp.failed).toBe(lp.pods);
  });

  it('replay mode: each cycle starts with the MILP, and reports solver time and fallbacks', () => {
    const r = runReplay({ workload: 'f', nodes, pods, policy: 'default', compress: 50, now, lp: { solver, budgetMs: 5000 } });
    expect(r.lp!.cycles).toBeGreaterThan(0);
    expect(r.lp!.fallbacks).toBe(0);
    expect(r.lp!.placed).toBeGreaterThan(0);
    expect(r.placed + r.neverPlaced).toBe(r.pods);
    const none = counting(noIncumbent);
    const f = runReplay({ workload: 'f', nodes, pods: atOnce, policy: 'default', now, lp: { solver: none, budgetMs: 1 } });
    // A cycle with one pending request is solved exactly without the solver; every other one fell back.
    expect(none.calls).toBeGreaterThan(0);
    expect(f.lp!.fallbacks).toBe(none.calls);
    expect(f.placed).toBe(f.pods - f.neverPlaced);
  });

  it('the CLI names bad lp flags', async () => {
    const flags = { pods: fixture('pods-full.csv'), nodes: fixture('nodes-small.csv'), policy: 'lp', mode: 'published' as const, seeds: '42', tune: '1.3', compress: '1', backfill: 'on' as const, timeLimits: 'exact' as const, output: 'json' as const };
    await expect(simCommand({ ...flags, batch: '0' }, solver)).rejects.toThrow(/--batch: expected a whole number 1–10000, got '0'/);
    await expect(simCommand({ ...flags, lpBudget: '-5' }, solver)).rejects.toThrow(/--lp-budget: expected a positive number/);
    await expect(simCommand({ ...flags, policy: 'default', batch: '16' }, solver)).rejects.toThrow(/--batch needs --policy lp/);
    await expect(simCommand({ ...flags, mode: 'replay', batch: '16' }, solver)).rejects.toThrow(/--batch is for --mode published/);
    const out = JSON.parse(await simCommand({ ...flags, batch: '8' }, solver)) as { lp: { batch: number } };
    expect(out.lp.batch).toBe(8);
  });
});
