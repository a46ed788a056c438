// Usage per array, map and sweep in GET /v1/usage (issue 14 item 5), in-process with a fake agent
// and a price book with a promotion: each group's total equals what its own page says, amounts
// are exact in micro-units, and plain tasks stay out of the groups.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Sim } from './sweeps-testing.js';
import { FakeAgent, h100s, makeHarness, type Harness } from './testing.js';

let h: Harness;
let agent: FakeAgent;
beforeEach(async () => {
  h = await makeHarness();
  agent = new FakeAgent(h, 'node-a', h100s(2));
  await agent.register();
});
afterEach(async () => {
  await h.close();
});

const ok = async (p: Promise<{ status: number; body: any; raw: string }>, status = 200): Promise<any> => {
  const r = await p;
  expect(r.status, r.raw).toBe(status);
  return r.body;
};

/** Runs every assigned task for `ms` of clock, until nothing is left to place. */
async function runAll(ms: number): Promise<void> {
  for (let round = 0; round < 40; round++) {
    await h.server.control.runCycle();
    await h.server.control.settle();
    const started = await agent.pollAndStart();
    if (started.length === 0 && agent.running.size === 0) return;
    h.clock.advance(ms);
    for (const a of [...agent.running.keys()]) {
      const [taskId, attempt] = a.split('#') as [string, string];
      await agent.exit(taskId, Number(attempt), 0);
    }
    await h.server.control.settle();
  }
  throw new Error('tasks did not finish');
}

it('sums GPU-seconds and cost per array, map and sweep, promotions included, with counts by state', async () => {
  await ok(h.req('POST', '/v1/prices', { model: 'H100', price: '2.00' }));
  await ok(h.req('POST', '/v1/promotions', { name: 'quarter-off', discount: '25%', from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' }), 201);
  const arr = await ok(h.req('POST', '/v1/tasks', { name: 'render', command: 'true', resources: { gpu: 0.25 }, array: '0-3' }), 201);
  const map = await ok(h.req('POST', '/v1/tasks', { name: 'squares', command: 'true', resources: { gpu: 0.5 }, inputs: [1, 2] }), 201);
  const plain = await ok(h.req('POST', '/v1/tasks', { name: 'solo', command: 'true', resources: { gpu: 1 } }), 201);
  await h.server.control.settle();
  await runAll(60_000);

  const report = await ok(h.req('GET', '/v1/usage'));
  const arrayId = arr.tasks[0].array.id as string;
  const mapId = map.tasks[0].array.id as string;
  expect(report.groups.map((g: any) => [g.kind, g.id]).sort()).toEqual([['array', arrayId], ['map', mapId]].sort());
  const ga = report.groups.find((g: any) => g.id === arrayId);
  // 4 elements × 60 s × 0.25 GPU = 60 GPU-s; at 2.00 an hour each element lists 0.008333
  // (priced per attempt, to the micro-unit): 4 × 8333 micros; 25% off.
  expect(ga).toMatchObject({ kind: 'array', name: 'render', size: 4, counts: { SUCCEEDED: 4 }, tasks: 4, gpuSeconds: 60, listMicros: '33332', promotions: ['quarter-off'] });
  expect(BigInt(ga.listMicros) - BigInt(ga.discountMicros)).toBe(BigInt(ga.chargedMicros));
  const view = await ok(h.req('GET', `/v1/arrays/${arrayId}`));
  expect(view.usage.chargedMicros).toBe(ga.chargedMicros);
  const gm = report.groups.find((g: any) => g.id === mapId);
  expect(gm).toMatchObject({ kind: 'map', name: 'squares', size: 2, counts: { SUCCEEDED: 2 }, gpuSeconds: 60 });
  // The plain task is in the rows and the totals, in no group.
  expect(report.rows.some((r: any) => r.taskId === plain.tasks[0].id)).toBe(true);
  const grouped = report.groups.reduce((a: bigint, g: any) => a + BigInt(g.listMicros), 0n);
  const all = report.rows.reduce((a: bigint, r: any) => a + BigInt(r.listMicros), 0n);
  expect(all - grouped).toBe(BigInt(report.rows.find((r: any) => r.taskId === plain.tasks[0].id).listMicros));

  // A period before any of it: no rows, no groups.
  expect((await ok(h.req('GET', '/v1/usage?from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z'))).groups).toEqual([]);
});

it('a sweep’s total is the sum of its trials’ costs, pruned trials included', async () => {
  await ok(h.req('POST', '/v1/prices', { model: 'H100', price: '3.00' }));
  const res = await ok(
    h.req('POST', '/v1/sweeps', {
      name: 'lr',
      command: 'python train.py --lr {lr}',
      space: { lr: { loguniform: [1e-4, 1e-1] } },
      trials: 10,
      max_concurrent: 8,
      gpu: 0.25,
      metric: 'loss',
      early_stopping: { rule: 'median', min_steps: 2, min_trials: 3 },
      seed: 5,
    }),
    201,
  );
  const id = res.sweep.id as string;
  const params = new Map<string, number>();
  const sim = new Sim(h, agent, params, 5);
  for (let round = 0; round < 60; round++) {
    for (const t of (await ok(h.req('GET', `/v1/sweeps/${id}`))).trials) params.set(t.taskId, t.params.lr);
    await sim.round();
    if ((await ok(h.req('GET', `/v1/sweeps/${id}`))).sweep.state !== 'RUNNING') break;
  }
  const v = await ok(h.req('GET', `/v1/sweeps/${id}`));
  expect(v.sweep.state).toBe('SUCCEEDED');
  const report = await ok(h.req('GET', '/v1/usage'));
  expect(report.groups).toHaveLength(1);
  const g = report.groups[0];
  expect(g).toMatchObject({ kind: 'sweep', id, name: 'lr', size: 10, tasks: 10, counts: v.counts });
  expect(g.counts.PRUNED ?? 0).toBeGreaterThan(0);
  const trialCost = v.trials.reduce((a: bigint, t: any) => a + BigInt(t.costMicros), 0n);
  expect(BigInt(g.chargedMicros)).toBe(trialCost);
  expect(g.gpuSeconds).toBeCloseTo(report.totals.gpuSeconds, 6);
});
