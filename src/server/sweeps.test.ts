// Sweeps end to end in-process: the HTTP API, the control plane, the sweep controller and fake
// agents on simulated GPUs; time and trial progress driven by the test, never by sleeps.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Sim } from './sweeps-testing.js';
import { FakeAgent, h100s, makeHarness, type Harness } from './testing.js';

async function trialParams(h: Harness, id: string): Promise<Map<string, number>> {
  const v = (await h.req('GET', `/v1/sweeps/${id}`)).body;
  return new Map(v.trials.map((t: { taskId: string; params: { lr: number } }) => [t.taskId, t.params.lr]));
}

describe('sweeps', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await makeHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('runs 32 trials at 0.25 GPU on 2 GPUs 8 at a time, prunes losers, reuses their slices within one cycle, reports the best', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(2));
    await agent.register();
    const res = await h.req('POST', '/v1/sweeps', {
      name: 'lr',
      command: 'python train.py --lr {lr}',
      space: { lr: { loguniform: [1e-4, 1e-1] } },
      trials: 32,
      max_concurrent: 12,
      gpu: 0.25,
      memory: '10GiB',
      metric: 'loss',
      early_stopping: { rule: 'median', min_steps: 2, min_trials: 3 },
      seed: 3,
    });
    expect(res.status, res.raw).toBe(201);
    const id = res.body.sweep.id as string;
    expect(res.body.trials).toHaveLength(12);
    const params = new Map<string, number>();
    const sim = new Sim(h, agent, params, 6);
    for (let round = 0; round < 80; round++) {
      for (const [k, v] of await trialParams(h, id)) params.set(k, v);
      await sim.round();
      const s = (await h.req('GET', `/v1/sweeps/${id}`)).body;
      if (s.sweep.state !== 'RUNNING') break;
    }
    const v = (await h.req('GET', `/v1/sweeps/${id}`)).body;
    expect(v.sweep.state).toBe('SUCCEEDED');
    expect(v.trials).toHaveLength(32);
    // 4 slices a GPU, 2 GPUs: 8 at a time, never more.
    expect(sim.maxRunning).toBe(8);
    expect(v.trials.every((t: { slice: { gpuMilli: number; memoryMiB: number } }) => t.slice?.gpuMilli === 250 && t.slice.memoryMiB === 10240)).toBe(true);
    const pruned = v.trials.filter((t: { state: string }) => t.state === 'PRUNED');
    expect(pruned.length).toBeGreaterThan(4);
    expect(v.counts.SUCCEEDED + v.counts.PRUNED).toBe(32);
    // Every trial that started after another ended was placed in the first cycle after that end.
    const waits = sim.reuseWaits(v.trials, 8);
    expect(waits.length).toBeGreaterThan(10);
    expect(Math.max(...waits)).toBeLessThanOrEqual(1);
    // The best trial is the one whose lr is nearest 10^-2.5 among those that ran to the end or were judged.
    const best = v.best;
    expect(best.best.value).toBe(Math.min(...v.trials.filter((t: { best: unknown }) => t.best).map((t: { best: { value: number } }) => t.best.value)));
    expect(Math.abs(Math.log10(best.params.lr) + 2.5)).toBeLessThan(0.5);
    // Metrics are stored and served for charts.
    const m = (await h.req('GET', `/v1/sweeps/${id}/metrics`)).body;
    expect(m.metric).toBe('loss');
    expect(m.series.find((s: { taskId: string }) => s.taskId === best.taskId).points.length).toBeGreaterThan(0);
  });

  it('stops at the cost cap: live trials cancelled, no new ones', async () => {
    expect((await h.req('POST', '/v1/prices', { model: 'H100', price: '4.00' })).status).toBe(200);
    const agent = new FakeAgent(h, 'node-a', h100s(1));
    await agent.register();
    const res = await h.req('POST', '/v1/sweeps', { command: 'train {x}', space: { x: { uniform: [0, 1] } }, trials: 20, max_concurrent: 4, gpu: 0.25, metric: 'loss', cost_cap: '1.00' });
    expect(res.status, res.raw).toBe(201);
    const id = res.body.sweep.id as string;
    const sim = new Sim(h, agent, new Map(), 1_000);
    // 4 trials × 0.25 GPU × $4/h = $4/h: the $1 cap is reached after 15 minutes.
    for (let i = 0; i < 30; i++) {
      await sim.round();
      await h.server.control.billing.settleNow();
      h.clock.advance(10_000);
      await sim.settle();
      if ((await h.req('GET', `/v1/sweeps/${id}`)).body.sweep.state !== 'RUNNING') break;
    }
    await sim.round();
    const v = (await h.req('GET', `/v1/sweeps/${id}`)).body;
    expect(v.sweep.state).toBe('CAPPED');
    expect(v.sweep.message).toContain('cost cap');
    expect(v.trials).toHaveLength(4);
    expect(v.trials.every((t: { state: string }) => t.state === 'CANCELLED')).toBe(true);
    expect(v.cost).toBeGreaterThanOrEqual(1);
    // At most one check interval (10 s of clock, plus the 60 s round) past the cap: $4/h × 70 s ≈ $0.08.
    expect(v.cost).toBeLessThan(1.1);
    expect(agent.running.size).toBe(0);
  });

  it('refuses bad sweeps with the field named, and cancels', async () => {
    const bad = await h.req('POST', '/v1/sweeps', { command: 'x', metric: 'loss', trials: 2, space: { lr: { loguniform: [0, 1] } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field ?? bad.body.field).toBe('space.lr.loguniform');
    const agent = new FakeAgent(h, 'node-a', h100s(1));
    await agent.register();
    const huge = await h.req('POST', '/v1/sweeps', { command: 'x', metric: 'loss', trials: 2, gpu: 4 });
    expect(huge.status).toBe(422);
    const ok = await h.req('POST', '/v1/sweeps', { command: 'x', metric: 'loss', space: { a: [1, 2, 3] } });
    expect(ok.status).toBe(201);
    const c = await h.req('POST', `/v1/sweeps/${ok.body.sweep.id}/cancel`);
    expect(c.status).toBe(200);
    expect(c.body.state).toBe('CANCELLED');
    const v = (await h.req('GET', `/v1/sweeps/${ok.body.sweep.id}`)).body;
    expect(v.trials.every((t: { state: string }) => t.state === 'CANCELLED')).toBe(true);
    expect((await h.req('POST', `/v1/sweeps/${ok.body.sweep.id}/cancel`)).status).toBe(409);
    expect((await h.req('GET', '/v1/sweeps/sw_nope')).status).toBe(404);
  });
});
