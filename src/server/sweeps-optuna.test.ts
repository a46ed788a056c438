// backend: optuna on the server, in-process: the sweep makes no trial of its own; the driver adds
// trials (checked against the space, held to max_concurrent and the trial count) and prunes them
// (the slice freed at once); the sweep ends when every trial was made and has ended.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { sweepControllerOf } from './sweeps.js';
import { FakeAgent, h100s, makeHarness, type Harness } from './testing.js';

let h: Harness;
let agent: FakeAgent;
beforeEach(async () => {
  h = await makeHarness();
  agent = new FakeAgent(h, 'node-a', h100s(1));
  await agent.register();
});
afterEach(async () => {
  await h.close();
});

const settle = async (): Promise<void> => {
  for (let i = 0; i < 4; i++) {
    await h.server.control.settle();
    await sweepControllerOf(h.server.control)!.idle();
  }
};

const file = { name: 'opt', command: 'python train.py --lr {lr} --opt {opt}', space: { lr: { loguniform: [1e-4, 1e-1] }, opt: ['adam', 'sgd'] }, trials: 3, max_concurrent: 2, gpu: 0.25, metric: 'loss', backend: 'optuna' };

it('runs the trials its driver asks for, within the space and max_concurrent, and prunes on request', async () => {
  const created = await h.req('POST', '/v1/sweeps', file);
  expect(created.status, created.raw).toBe(201);
  expect(created.body).toMatchObject({ backend: 'optuna', trials: [] });
  const id = created.body.sweep.id as string;

  const bad = await h.req('POST', `/v1/sweeps/${id}/trials`, { params: { lr: 0.5, opt: 'adam' } });
  expect(bad.status).toBe(400);
  expect(bad.body.error).toMatchObject({ field: 'params.lr' });
  expect(bad.body.error.message).toContain('outside the space');
  expect((await h.req('POST', `/v1/sweeps/${id}/trials`, { params: { lr: 0.01 } })).body.error).toMatchObject({ field: 'params.opt' });
  expect((await h.req('POST', `/v1/sweeps/${id}/trials`, { params: { lr: 0.01, opt: 'rmsprop' } })).body.error.message).toContain('not one of');

  const a = await h.req('POST', `/v1/sweeps/${id}/trials`, { params: { lr: 0.01, opt: 'adam' } });
  expect(a.status, a.raw).toBe(201);
  expect(a.body).toMatchObject({ index: 0, params: { lr: 0.01, opt: 'adam' }, state: 'PENDING' });
  const b = await h.req('POST', `/v1/sweeps/${id}/trials`, { params: { lr: 0.001, opt: 'sgd' } });
  expect(b.body.index).toBe(1);
  const full = await h.req('POST', `/v1/sweeps/${id}/trials`, { params: { lr: 0.002, opt: 'sgd' } });
  expect(full.status).toBe(409);
  expect(full.body.error.message).toContain('max_concurrent');

  await h.server.control.runCycle();
  await settle();
  const started = await agent.pollAndStart();
  expect(started.map((s) => s.taskId).sort()).toEqual([a.body.taskId, b.body.taskId].sort());
  const task = (await h.req('GET', `/v1/tasks/${a.body.taskId}`)).body;
  expect(task.spec.command).toEqual(['sh', '-c', 'python train.py --lr 0.01 --opt adam']);

  // The pruner stops trial 1: PRUNED, its task cancelled once the agent stops it; trial 2 may start.
  const p = await h.req('POST', `/v1/sweeps/${id}/trials/1/prune`);
  expect(p.status, p.raw).toBe(200);
  expect(p.body).toMatchObject({ index: 1, state: 'PRUNED' });
  expect((await h.req('POST', `/v1/sweeps/${id}/trials/1/prune`)).status).toBe(409);
  const c = await h.req('POST', `/v1/sweeps/${id}/trials`, { params: { lr: 0.002, opt: 'sgd' } });
  expect(c.status, c.raw).toBe(201);
  expect((await h.req('POST', `/v1/sweeps/${id}/trials`, { params: { lr: 0.003, opt: 'sgd' } })).body.error.message).toContain('all its 3 trials');

  // The rest end; the sweep with them.
  agent.stopped(b.body.taskId, 1);
  await agent.heartbeat();
  await agent.exit(a.body.taskId, 1, 0);
  await h.server.control.runCycle();
  await settle();
  await agent.pollAndStart();
  await agent.exit(c.body.taskId, 1, 0);
  await settle();
  const v = (await h.req('GET', `/v1/sweeps/${id}`)).body;
  expect(v.sweep.state).toBe('SUCCEEDED');
  expect(v.counts).toEqual({ SUCCEEDED: 2, PRUNED: 1 });
});

it('a native sweep takes no trials from outside', async () => {
  const created = await h.req('POST', '/v1/sweeps', { ...file, backend: undefined });
  const r = await h.req('POST', `/v1/sweeps/${created.body.sweep.id}/trials`, { params: { lr: 0.01, opt: 'adam' } });
  expect(r.status).toBe(400);
  expect(r.body.error).toMatchObject({ field: 'backend' });
});
