import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeAgent, h100s, makeHarness, submit, type Harness } from './testing.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => {
  await h.close();
});

describe('auth', () => {
  it('needs a bearer token everywhere but /healthz', async () => {
    expect((await h.server.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ ok: true });
    const none = await h.server.app.inject({ method: 'GET', url: '/v1/tasks' });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe('UNAUTHENTICATED');
    expect(none.json().error.message).toContain('Bearer');
    const bad = await h.server.app.inject({ method: 'GET', url: '/v1/tasks', headers: { authorization: 'Bearer nope' } });
    expect(bad.statusCode).toBe(401);
    // 401 comes before the body is even looked at.
    const badBody = await h.server.app.inject({ method: 'POST', url: '/v1/tasks', headers: { 'content-type': 'application/json' }, payload: '{' });
    expect(badBody.statusCode).toBe(401);
  });

  it('revocation takes effect at once', async () => {
    expect((await h.req('GET', '/v1/tasks')).status).toBe(200);
    const [tok] = await h.store.listTokens();
    await h.store.revokeToken(tok!.id, h.clock.now());
    h.server.auth.invalidate();
    expect((await h.req('GET', '/v1/tasks')).status).toBe(401);
  });
});

describe('tasks API', () => {
  it('submits JSON and YAML, lists, gets', async () => {
    const json = await h.req('POST', '/v1/tasks', { name: 'j', command: ['echo', 'hi'], resources: { gpu: 0.5 } });
    expect(json.status).toBe(201);
    const t = json.body.tasks[0];
    expect(t.id).toMatch(/^t_[a-z2-7]{10}$/);
    expect(t.state).toBe('PENDING');
    expect(t.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(t.spec.command).toEqual(['echo', 'hi']);
    const yaml = await h.req('POST', '/v1/tasks', 'name: y\ncommand: echo hi\nresources:\n  gpu: A100:0.5\n', { 'content-type': 'application/yaml' });
    expect(yaml.status).toBe(201);
    expect(yaml.body.tasks[0].spec.command).toEqual(['sh', '-c', 'echo hi']);
    const list = await h.req('GET', '/v1/tasks');
    expect(list.body.tasks.map((x: any) => x.name).sort()).toEqual(['j', 'y']);
    expect((await h.req('GET', '/v1/tasks?name=y')).body.tasks).toHaveLength(1);
    const one = await h.req('GET', `/v1/tasks/${t.id}`);
    expect(one.status).toBe(200);
    expect(one.body.attempts).toEqual([]);
    expect((await h.req('GET', '/v1/tasks/t_nosuchtask')).status).toBe(404);
  });

  it('a store that cannot be written answers 503, and the task is not half-made', async () => {
    const real = h.store.commitBatch.bind(h.store);
    h.store.commitBatch = async () => {
      throw new Error('SQLITE_FULL: database or disk is full');
    };
    const r = await h.req('POST', '/v1/tasks', { command: 'true' });
    h.store.commitBatch = real;
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('UNAVAILABLE');
    expect(h.server.control.tasks.size).toBe(0);
    expect((await h.req('GET', '/v1/tasks')).body.tasks).toEqual([]);
  });

  it('dry run stores nothing', async () => {
    const r = await h.req('POST', '/v1/tasks?dryRun=true', { command: 'true' });
    expect(r.status).toBe(200);
    expect(r.body.dryRun).toBe(true);
    expect(await h.store.countTasks()).toBe(0);
  });

  it('a gang of 3 makes 3 tasks sharing a gangId', async () => {
    const r = await h.req('POST', '/v1/tasks', { command: 'true', gang: 3, resources: { gpu: 1 } });
    expect(r.status).toBe(201);
    const gangIds = new Set(r.body.tasks.map((t: any) => t.gangId));
    expect(gangIds.size).toBe(1);
    expect([...gangIds][0]).toMatch(/^g_/);
    expect(r.body.tasks.map((t: any) => t.gangIndex)).toEqual([0, 1, 2]);
  });

  it('refuses a request that can never fit with 422 and a reason', async () => {
    await new FakeAgent(h, 'node-a', h100s(1)).register();
    const r = await h.req('POST', '/v1/tasks', { command: 'true', resources: { gpu: 2 } });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('UNSCHEDULABLE');
    expect(r.body.error.field).toBe('resources.gpu');
    expect(r.body.error.message).toBe('resources.gpu: needs 2 GPUs on one node; the largest node has 1 (1xH100-80GB)');
    expect(await h.store.countTasks()).toBe(0);
    const gang = await h.req('POST', '/v1/tasks', { command: 'true', gang: 3, resources: { gpu: 1 } });
    expect(gang.status).toBe(422);
    expect(gang.body.error.field).toBe('gang');
    expect(gang.body.error.message).toContain('at most 1');
    expect((await h.req('POST', '/v1/tasks', { command: 'true', gang: 2, resources: { gpu: 0.5 } })).status).toBe(201);
    const v = await h.req('POST', '/v1/vgpus', { gpu: 'A100:0.5' });
    expect(v.status).toBe(422);
  });

  it('/wait answers when the task finishes, or at its timeout', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    const [t] = await submit(h, { command: 'true', resources: { gpu: 0.5 } });
    const early = await h.req('GET', `/v1/tasks/${t.id}/wait?timeoutMs=10`);
    expect(early.body.state).toBe('SCHEDULED');
    const waiting = h.req('GET', `/v1/tasks/${t.id}/wait?timeoutMs=10000`);
    await agent.pollAndStart();
    await agent.exit(t.id, 1, 0);
    const done = await waiting;
    expect(done.body.state).toBe('SUCCEEDED');
  });

  it('logs: pages and an SSE follow that ends once the task is finished', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    const [t] = await submit(h, { command: 'true', resources: { gpu: 0.5 } });
    await agent.pollAndStart();
    const chunk = (seq: number, data: string) => ({ taskId: t.id, attempt: 1, stream: 'stdout', seq, at: h.clock.now(), data });
    const logs = await h.req('POST', '/v1/agent/logs', { nodeId: agent.nodeId, chunks: [chunk(0, 'hello\n'), chunk(1, 'world\n')] }, agent.headers());
    expect(logs.status).toBe(200);
    // Idempotent by seq; chunks of unknown tasks are dropped, the rest kept.
    const mixed = await h.req('POST', '/v1/agent/logs', { nodeId: agent.nodeId, chunks: [chunk(1, 'world\n'), { ...chunk(0, 'ghost'), taskId: 't_ghost00000' }] }, agent.headers());
    expect(mixed.status).toBe(200);
    const page = await h.req('GET', `/v1/tasks/${t.id}/logs`);
    expect(page.body.chunks.map((c: any) => c.data).join('')).toBe('hello\nworld\n');
    const next = await h.req('GET', `/v1/tasks/${t.id}/logs?after=${page.body.next}`);
    expect(next.body.chunks).toEqual([]);

    const follow = h.req('GET', `/v1/tasks/${t.id}/logs?follow=true`);
    // The follower has read the history and waits for more: the next chunk reaches it live.
    for (const end = Date.now() + 10_000; h.server.control.logWaiters.count(t.id) === 0; ) {
      if (Date.now() > end) throw new Error('the follower never waited for new chunks');
      await new Promise((r) => setImmediate(r));
    }
    await h.req('POST', '/v1/agent/logs', { nodeId: agent.nodeId, chunks: [chunk(2, 'bye\n')] }, agent.headers());
    await agent.exit(t.id, 1, 0);
    const res = await follow;
    expect(res.headers['content-type']).toContain('text/event-stream');
    const datas = res.raw
      .split('\n\n')
      .filter((b) => b.includes('event: log'))
      .map((b) => JSON.parse(b.split('\n').find((l) => l.startsWith('data: '))!.slice(6)).data);
    expect(datas.join('')).toBe('hello\nworld\nbye\n');
    expect(res.raw).toContain('event: end');
    expect(res.raw.trim().endsWith('"exitCode":0}')).toBe(true);
  });
});

describe('pool, metrics, openapi', () => {
  it('lists nodes and GPUs with slices', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(2));
    await agent.register();
    await submit(h, { name: 'big', command: 'true', resources: { gpu: 1 } });
    await submit(h, { name: 'small', command: 'true', resources: { gpu: 0.25 } });
    const nodes = (await h.req('GET', '/v1/nodes')).body.nodes;
    expect(nodes).toHaveLength(1);
    expect(nodes[0].id).toMatch(/^n_/);
    expect(nodes[0].allocated.gpuMilli).toBe(1250);
    const gpus = (await h.req('GET', '/v1/gpus')).body.gpus;
    expect(gpus.map((g: any) => g.allocatedMilli).sort()).toEqual([1000, 250]);
    expect(gpus.flatMap((g: any) => g.slices.map((s: any) => s.name)).sort()).toEqual(['big', 'small']);
  });

  it('serves Prometheus metrics', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    await submit(h, { command: 'true', resources: { gpu: 1 } });
    await submit(h, { command: 'true', resources: { gpu: 1 } });
    const m = await h.req('GET', '/metrics');
    expect(m.status).toBe(200);
    expect(m.raw).toContain('fastgpu_tasks{state="SCHEDULED"} 1');
    expect(m.raw).toContain('fastgpu_pending_tasks{reason="Resources"} 1');
    expect(m.raw).toContain('fastgpu_tasks_submitted_total 2');
    expect(m.raw).toContain('fastgpu_gpu_allocated_milli 1000');
    expect(m.raw).toContain('fastgpu_nodes{state="READY"} 1');
    expect(m.raw).toMatch(/fastgpu_scheduler_cycle_seconds_count [1-9]/);
  });

  it('describes every route in OpenAPI 3.1', async () => {
    const r = await h.req('GET', '/v1/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    const paths = r.body.paths;
    for (const [p, m] of [
      ['/v1/tasks', 'post'],
      ['/v1/tasks', 'get'],
      ['/v1/tasks/{id}', 'get'],
      ['/v1/tasks/{id}/cancel', 'post'],
      ['/v1/tasks/{id}/wait', 'get'],
      ['/v1/tasks/{id}/logs', 'get'],
      ['/v1/tasks/{id}/events', 'get'],
      ['/v1/nodes', 'get'],
      ['/v1/gpus', 'get'],
      ['/v1/vgpus', 'post'],
      ['/v1/vgpus/{id}', 'delete'],
      ['/v1/events', 'get'],
      ['/v1/agent/register', 'post'],
      ['/v1/agent/assignments', 'get'],
      ['/healthz', 'get'],
      ['/metrics', 'get'],
    ] as const) {
      expect(paths[p]?.[m], `${m} ${p}`).toBeDefined();
    }
    expect(paths['/v1/tasks'].post.requestBody.content['application/yaml']).toBeDefined();
    expect(paths['/v1/tasks/{id}'].get.responses['200'].content['application/json'].schema.properties.attempts).toBeDefined();
    const events = paths['/v1/tasks/{id}/events'].get;
    expect(events.parameters.map((p: any) => `${p.in}:${p.name}`)).toEqual(['path:id', 'query:after', 'query:limit']);
    expect(Object.keys(events.responses['200'].content['application/json'].schema.properties)).toEqual(['events', 'next']);
  });
});

describe('log retention (--logs-retention)', () => {
  it('deletes the logs of tasks finished longer ago, keeps the rest, and the logs page says when', async () => {
    const DAY = 86_400_000;
    await h.close();
    h = await makeHarness({ logsRetentionMs: 30 * DAY });
    const agent = new FakeAgent(h);
    await agent.register();
    const [old, running] = [...(await submit(h, { command: 'true', resources: { gpu: 0.25 } })), ...(await submit(h, { command: 'sleep 1d', resources: { gpu: 0.25 } }))];
    await agent.pollAndStart();
    const line = (taskId: string, data: string) => ({ taskId, attempt: 1, stream: 'stdout', seq: 0, at: h.clock.now(), data });
    await h.req('POST', '/v1/agent/logs', { nodeId: agent.nodeId, chunks: [line(old.id, 'old output\n'), line(running.id, 'still here\n')] }, agent.headers());
    await agent.exit(old.id, 1, 0);
    await h.server.control.settle();

    h.clock.advance(29 * DAY);
    expect(await h.server.samples.prune()).toMatchObject({ logs: 0 });
    expect((await h.req('GET', `/v1/tasks/${old.id}/logs`)).body.chunks).toHaveLength(1);
    h.clock.advance(2 * DAY);
    expect(await h.server.samples.prune()).toMatchObject({ logs: 1 });
    const page = await h.req('GET', `/v1/tasks/${old.id}/logs`);
    expect(page.body).toEqual({ chunks: [], next: 0, prunedAt: new Date(h.clock.now()).toISOString() });
    // The running task's logs and the finished task itself stay.
    expect((await h.req('GET', `/v1/tasks/${running.id}/logs`)).body.chunks.map((c: any) => c.data)).toEqual(['still here\n']);
    expect((await h.req('GET', `/v1/tasks/${old.id}`)).body.state).toBe('SUCCEEDED');
  });
});
