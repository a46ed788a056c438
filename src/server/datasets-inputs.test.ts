// Task data inputs on the server (issue 16): pinned at submit, carried by the assignment, a
// `staging` report keeps the task SCHEDULED with reason Staging and its progress (not billed: it
// starts when the process does), and the node's cache totals reach /metrics.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256 } from '../util/chunk-codec.js';
import { FakeAgent, h100s, makeHarness, submit, taskState, type Harness } from './testing.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => h.close());

/** Pushes one file of `text` as a new version of `name` through the routes. */
async function push(name: string, text: string): Promise<number> {
  const data = Buffer.from(text);
  const hash = sha256(data);
  const up = await h.req('POST', `/v1/chunks/${hash}`, data, { 'content-type': 'application/octet-stream' });
  expect(up.status).toBe(201);
  const res = await h.req('POST', '/v1/datasets', { name, manifest: { files: [{ path: 'a.txt', size: data.length, executable: false, chunks: [{ hash, size: data.length }] }] } });
  expect(res.status).toBe(201);
  return res.body.version as number;
}

describe('task data inputs on the server', () => {
  it('pins the newest version at submit and refuses a missing dataset or version, naming the input', async () => {
    await push('imgs', 'one');
    await push('imgs', 'two!');
    const [t] = await submit(h, { command: 'true', inputs: [{ dataset: 'imgs', path: 'data' }] });
    expect(t.spec.inputs).toEqual([{ dataset: 'imgs', version: 2, path: 'data', env: 'FASTGPU_INPUT_IMGS' }]);
    const [old] = await submit(h, { command: 'true', inputs: [{ dataset: 'imgs@1' }] });
    expect(old.spec.inputs[0].version).toBe(1);

    const missing = await h.req('POST', '/v1/tasks', { command: 'true', inputs: [{ dataset: 'imgs' }, { dataset: 'nope' }] });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'inputs.1.dataset' });
    expect(missing.body.error.message).toMatch(/dataset nope not found \(tenant default; push it first/);
    const version = await h.req('POST', '/v1/tasks', { command: 'true', inputs: [{ dataset: 'imgs@7' }] });
    expect(version.status).toBe(400);
    expect(version.body.error.message).toMatch(/dataset imgs has no version 7 .*the newest is 2/);
    // Nothing was made by the refused submits.
    expect((await h.req('GET', '/v1/tasks')).body.tasks).toHaveLength(2);
    // A map's inputs (any JSON values) are still a map.
    const map = await h.req('POST', '/v1/tasks', { command: 'true', inputs: [{ lr: 0.1 }, { lr: 0.2 }] });
    expect(map.status).toBe(201);
    // An array's answer is its first element and the array in brief.
    expect(map.body.tasks).toHaveLength(1);
    expect(map.body.array).toMatchObject({ size: 2, counts: { PENDING: 2 } });
  });

  it('a staging attempt stays SCHEDULED with reason Staging and its progress, and is billed from its start only', async () => {
    await push('imgs', 'bytes');
    const agent = new FakeAgent(h);
    await agent.register();
    const [t] = await submit(h, { command: 'true', resources: { gpu: 1 }, inputs: [{ dataset: 'imgs', path: 'in' }] });
    const { assignments } = await agent.poll();
    expect(assignments[0]!.inputs).toEqual([{ tenant: 'default', dataset: 'imgs', version: 1, path: 'in', env: 'FASTGPU_INPUT_IMGS' }]);

    await agent.send([{ taskId: t.id, attempt: 1, status: 'staging', staging: { doneBytes: 3 * 1024 * 1024, totalBytes: 8 * 1024 * 1024 } }]);
    let now = await taskState(h, t.id);
    expect(now).toMatchObject({ state: 'SCHEDULED', reason: 'Staging', reasonMessage: 'staging inputs: 3.0 MiB of 8.0 MiB (37 %)', startedAt: null });
    const ps = (await h.req('GET', '/v1/tasks')).body.tasks.find((x: { id: string }) => x.id === t.id);
    expect(ps.reason).toBe('Staging');

    // Staging takes a minute; the process starts after it.
    h.clock.advance(60_000);
    const stagedAt = h.clock.now();
    await agent.start([[t.id, 1]]);
    now = await taskState(h, t.id);
    expect(now).toMatchObject({ state: 'RUNNING', reason: null, reasonMessage: null });
    expect(Date.parse(now.startedAt)).toBe(stagedAt);
    h.clock.advance(30_000);
    await agent.exit(t.id, 1, 0);
    await h.server.control.settle();
    const types = (await h.req('GET', `/v1/tasks/${t.id}/events`)).body.events.map((e: { type: string }) => e.type);
    expect(types.indexOf('task.staging')).toBeGreaterThan(-1);
    expect(types.indexOf('task.staging')).toBeLessThan(types.indexOf('task.started'));
    // 30 s of one GPU billed, not the 90 s since it was placed.
    const done = await taskState(h, t.id);
    expect(Date.parse(done.finishedAt) - Date.parse(done.startedAt)).toBe(30_000);
    const usage = (await h.req('GET', '/v1/usage')).body;
    expect(JSON.stringify(usage)).toMatch(/"gpuSeconds":30\b/);
  });

  it("puts each node's cache and staging totals on /metrics", async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    const cache = { usedBytes: 4096, capBytes: 1 << 30, hitBytes: 3000, downloadedBytes: 1000, stagedBytes: 4000, stagingSeconds: 2.5, datasets: ['default/imgs@1'] };
    const res = await h.req('POST', '/v1/agent/heartbeat', { nodeId: agent.nodeId, tasks: [], samples: [], cache }, agent.headers());
    expect(res.status).toBe(200);
    const text = (await h.req('GET', '/metrics')).raw;
    expect(text).toContain('fastgpu_data_staged_bytes_total{node="node-a"} 4000');
    expect(text).toContain('fastgpu_data_cache_hit_bytes_total{node="node-a"} 3000');
    expect(text).toContain('fastgpu_data_downloaded_bytes_total{node="node-a"} 1000');
    expect(text).toContain('fastgpu_data_staging_seconds_total{node="node-a"} 2.5');
    expect(text).toContain('fastgpu_data_cache_bytes{node="node-a"} 4096');
    expect(text).toContain(`fastgpu_data_cache_limit_bytes{node="node-a"} ${1 << 30}`);
    expect(text).toContain('fastgpu_data_cache_hit_ratio{node="node-a"} 0.75');
  });
});

describe('locality', () => {
  it('places a task on the node whose cache holds its inputs when both fit the same; the event says so', async () => {
    await push('imgs', 'bytes');
    // node-a comes first by name: without inputs the policy picks it.
    const cold = new FakeAgent(h, 'node-a');
    const warm = new FakeAgent(h, 'node-z', h100sNamed('z'));
    await cold.register();
    await warm.register();
    const cache = { usedBytes: 5, capBytes: 1 << 30, hitBytes: 0, downloadedBytes: 5, stagedBytes: 5, stagingSeconds: 0.1, datasets: ['default/imgs@1'] };
    expect((await h.req('POST', '/v1/agent/heartbeat', { nodeId: warm.nodeId, tasks: [], samples: [], cache }, warm.headers())).status).toBe(200);

    const [plain] = await submit(h, { command: 'true', resources: { gpu: 0.5 } });
    expect((await taskState(h, plain.id)).placement.node).toBe('node-a');
    // Both nodes now differ (node-a holds half a GPU): no twin, so a data task follows the policy.
    const [t] = await submit(h, { command: 'true', resources: { gpu: 0.5 }, inputs: [{ dataset: 'imgs' }] });
    const placed = await taskState(h, t.id);
    expect(placed.placement.node).toBe('node-a');
    // With the two nodes alike again, the warm one wins.
    await h.req('POST', `/v1/tasks/${plain.id}/cancel`);
    await h.req('POST', `/v1/tasks/${t.id}/cancel`);
    await cold.heartbeat();
    await h.server.control.settle();
    const [t2] = await submit(h, { command: 'true', resources: { gpu: 0.5 }, inputs: [{ dataset: 'imgs' }] });
    const p2 = await taskState(h, t2.id);
    expect(p2.placement.node).toBe('node-z');
    const ev = (await h.req('GET', `/v1/tasks/${t2.id}/events`)).body.events.find((e: { type: string }) => e.type === 'task.scheduled');
    expect(ev.data).toMatchObject({ node: 'node-z', inputsCached: true });
    const evCold = (await h.req('GET', `/v1/tasks/${t.id}/events`)).body.events.find((e: { type: string }) => e.type === 'task.scheduled');
    expect(evCold.data).toMatchObject({ node: 'node-a', inputsCached: false });
  });
});

function h100sNamed(prefix: string): ReturnType<typeof h100s> {
  return h100s(1, `GPU-${prefix}`);
}
