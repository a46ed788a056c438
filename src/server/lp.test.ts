// `--policy lp` in the live server: the control loop's cycle starts with the MILP batch (HiGHS),
// tasks placed by it reach the agent as any placement does, and /metrics counts the cycles.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LpScheduler } from '../core/scheduler/lp.js';
import type { MilpSolver } from '../core/placement/lp-solver.js';
import { placementFlags } from '../cli/placement-flags.js';
import { loadHighsSolver } from '../solver/highs.js';
import { startServer } from './main.js';
import { FakeAgent, h100s, makeHarness, submit, taskState, type Harness } from './testing.js';

let solver: MilpSolver;
let h: Harness | null = null;
beforeAll(async () => {
  solver = await loadHighsSolver();
});
afterEach(async () => {
  await h?.close();
  h = null;
});

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`${name} missing from /metrics`);
  return Number(m[1]);
}

describe('server --policy lp', () => {
  it('places the queue with one MILP cycle, end to end to the agent, and counts it in /metrics', async () => {
    const lp = new LpScheduler({ solver, budgetMs: 5000 });
    h = await makeHarness({ policy: { batch: lp } });
    // Submitted before any node is there: they wait, then one cycle sees them all.
    const tasks = [
      ...(await submit(h, { command: 'a', resources: { gpu: 0.4, cpu: 24 } })),
      ...(await submit(h, { command: 'b', resources: { gpu: 0.5, cpu: 24 } })),
      ...(await submit(h, { command: 'c', resources: { gpu: 1, cpu: 8 } })),
      ...(await submit(h, { command: 'd', gang: 2, resources: { gpu: 1, cpu: 4 } })),
    ];
    expect(tasks).toHaveLength(5);
    for (const t of tasks) expect((await taskState(h, t.id)).state).toBe('PENDING');
    const agent = new FakeAgent(h, 'node-a', h100s(4));
    await agent.register();
    await h.server.control.settle();
    const started = await agent.pollAndStart();
    expect(started.map((a) => a.taskId).sort()).toEqual(tasks.map((t) => t.id).sort());
    for (const t of tasks) expect((await taskState(h, t.id)).state).toBe('RUNNING');
    expect(lp.counts.cycles).toBeGreaterThanOrEqual(1);
    expect(lp.counts.placed).toBe(5);
    expect(lp.counts.fallbacks).toBe(0);
    const m = await h.req('GET', '/metrics');
    expect(metric(m.raw, 'fastgpu_lp_placed_total')).toBe(5);
    expect(metric(m.raw, 'fastgpu_lp_cycles_total')).toBe(lp.counts.cycles);
    expect(metric(m.raw, 'fastgpu_lp_fallbacks_total')).toBe(0);
  });

  it('falls back to default when the solver finds nothing in time, and /metrics says so', async () => {
    const lp = new LpScheduler({ solver: { solve: (_p, ms) => ({ status: 'limit', x: null, solveMs: ms }) }, budgetMs: 1 });
    h = await makeHarness({ policy: { batch: lp } });
    // Two requests (one alone is solved exactly without the solver).
    const ts = [...(await submit(h, { command: 'a', resources: { gpu: 1 } })), ...(await submit(h, { command: 'b', resources: { gpu: 0.5 } }))];
    const agent = new FakeAgent(h, 'node-a', h100s(2));
    await agent.register();
    await h.server.control.settle();
    expect((await agent.pollAndStart()).map((a) => a.taskId).sort()).toEqual(ts.map((t) => t.id).sort());
    expect(lp.counts.fallbacks).toBeGreaterThanOrEqual(1);
    const m = await h.req('GET', '/metrics');
    expect(metric(m.raw, 'fastgpu_lp_fallbacks_total')).toBe(lp.counts.fallbacks);
  });

  it('startServer with placement lp loads HiGHS, says so at start, and serves the lp metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fastgpu-lp-'));
    const lines: string[] = [];
    const s = await startServer({ dataDir: join(dir, 'data'), port: 0, tickMs: 50, placement: { policy: 'lp', lpBudgetMs: 150 }, log: (l) => lines.push(l) });
    try {
      expect(lines.join('\n')).toMatch(/placement lp \(a MILP batch each cycle with HiGHS in a solver thread, stopped at 150 ms/);
      const m = await (await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${s.adminToken}` } })).text();
      expect(metric(m, 'fastgpu_lp_cycles_total')).toBe(0);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the --policy and --lp-budget flags name what is wrong', () => {
    expect(placementFlags({})).toEqual({});
    expect(placementFlags({ policy: 'lp', lpBudget: '50' })).toEqual({ placement: { policy: 'lp', lpBudgetMs: 50 } });
    expect(() => placementFlags({ policy: 'fgd' })).toThrow(/--policy: unknown 'fgd' \(the server runs default or lp/);
    expect(() => placementFlags({ lpBudget: '50' })).toThrow(/--lp-budget needs --policy lp/);
    expect(() => placementFlags({ policy: 'default', lpBudget: '50' })).toThrow(/--lp-budget needs --policy lp/);
    expect(() => placementFlags({ policy: 'lp', lpBudget: '0' })).toThrow(/--lp-budget: expected milliseconds from 1 to 60000, got '0'/);
  });
});
