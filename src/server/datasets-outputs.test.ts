// Task outputs on the server (issue 16): the assignment carries them; an `uploading` report keeps
// the task RUNNING with reason Uploading (billed to the process's exit, not the upload's end); the
// output routes take chunks and the commit only from the agent of the task's live attempt on its
// own node; the commit is all or none and answered again, not made twice, when sent again.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256 } from '../util/chunk-codec.js';
import { FakeAgent, h100s, makeHarness, submit, taskState, type Harness } from './testing.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => h.close());

const OCTETS = { 'content-type': 'application/octet-stream' };

/** A manifest of one file of `data`. */
const manifestOf = (data: Buffer, path = 'model.bin') => ({ files: [{ path, size: data.length, executable: false, chunks: [{ hash: sha256(data), size: data.length }] }] });

describe('task outputs on the server', () => {
  it('keeps an uploading attempt RUNNING (Uploading), billed to its exit; takes outputs only from the live attempt of its node', async () => {
    const a = new FakeAgent(h, 'node-a');
    const b = new FakeAgent(h, 'node-b', h100s(1, 'GPU-b'));
    await a.register();
    await b.register();
    const [t] = await submit(h, { command: 'true', resources: { gpu: 1 }, outputs: [{ path: 'out/', dataset: 'model' }] });
    const placed = await taskState(h, t.id);
    const [runs, other] = placed.placement.node === 'node-a' ? [a, b] : [b, a];
    const { assignments } = await runs.poll();
    expect(assignments[0]!.outputs).toEqual([{ path: 'out', dataset: 'model' }]);
    await runs.start([[t.id, 1]]);
    const startedAt = h.clock.now();
    h.clock.advance(30_000);
    const endedAt = h.clock.now();
    await runs.send([{ taskId: t.id, attempt: 1, status: 'uploading', uploading: { doneBytes: 1024 * 1024, totalBytes: 4 * 1024 * 1024 }, startedAt, endedAt }]);
    expect(await taskState(h, t.id)).toMatchObject({ state: 'RUNNING', reason: 'Uploading', reasonMessage: 'uploading outputs: 1.0 MiB of 4.0 MiB (25 %)' });

    const data = Buffer.from('weights after 30 s of training');
    const hash = sha256(data);
    const q = (nodeId: string, attempt = 1): string => `nodeId=${nodeId}&taskId=${t.id}&attempt=${attempt}`;
    // Another node, its own credential or the running node's id: refused.
    const wrongNode = await h.req('POST', `/v1/agent/outputs/chunks/${hash}?${q(other.nodeId)}`, data, { ...OCTETS, ...other.headers() });
    expect(wrongNode.status).toBe(403);
    expect(wrongNode.body.error.message).toMatch(/does not run on node .*: an agent uploads only the outputs of tasks it runs/);
    const wrongCredential = await h.req('POST', `/v1/agent/outputs/chunks/${hash}?${q(runs.nodeId)}`, data, { ...OCTETS, ...other.headers() });
    expect(wrongCredential.status).toBe(403);
    // A stale attempt: refused.
    const stale = await h.req('POST', '/v1/agent/outputs/missing-chunks', { nodeId: runs.nodeId, taskId: t.id, attempt: 2, hashes: [hash] }, runs.headers());
    expect(stale.status).toBe(409);
    expect(stale.body.error.message).toMatch(/is stale: the task is at attempt 1/);

    const missing = await h.req('POST', '/v1/agent/outputs/missing-chunks', { nodeId: runs.nodeId, taskId: t.id, attempt: 1, hashes: [hash] }, runs.headers());
    expect(missing.body).toEqual({ missing: [hash] });
    const up = await h.req('POST', `/v1/agent/outputs/chunks/${hash}?${q(runs.nodeId)}`, data, { ...OCTETS, ...runs.headers() });
    expect(up.status).toBe(201);
    // Every output at once; an index it does not have is refused.
    const commit = (outputs: unknown, who = runs) => h.req('POST', '/v1/agent/outputs/commit', { nodeId: who.nodeId, taskId: t.id, attempt: 1, outputs }, who.headers());
    expect((await commit([{ index: 3, manifest: manifestOf(data) }])).body.error.message).toMatch(/has 1 output\(s\); there is no output 3/);
    expect((await commit([])).body.error.message).toMatch(/outputs 0 are missing/);
    expect((await commit([{ index: 0, manifest: manifestOf(data) }], other)).status).toBe(403);
    const made = await commit([{ index: 0, manifest: manifestOf(data) }]);
    expect(made.status).toBe(200);
    expect(made.body.versions).toEqual([expect.objectContaining({ index: 0, tenant: 'default', name: 'model', version: 1, bytes: data.length, taskId: t.id })]);
    // Sent again (its answer lost): the same version, not a second one.
    expect((await commit([{ index: 0, manifest: manifestOf(data) }])).body.versions[0].version).toBe(1);
    expect((await h.req('GET', '/v1/datasets')).body.datasets).toHaveLength(1);

    // The upload took a minute; the exit report carries the process's end.
    h.clock.advance(60_000);
    await runs.send([{ taskId: t.id, attempt: 1, status: 'exited', exitCode: 0, endReason: 'exit', startedAt, endedAt }]);
    await h.server.control.settle();
    const done = await taskState(h, t.id);
    expect(done).toMatchObject({ state: 'SUCCEEDED', reason: null, outputs: [{ path: 'out', dataset: 'model', version: 1 }] });
    expect(Date.parse(done.finishedAt) - Date.parse(done.startedAt)).toBe(30_000);
    expect(JSON.stringify((await h.req('GET', '/v1/usage')).body)).toMatch(/"gpuSeconds":30\b/);
    const types = (await h.req('GET', `/v1/tasks/${t.id}/events`)).body.events.map((e: { type: string }) => e.type);
    expect(types.filter((x: string) => x === 'task.uploading')).toHaveLength(1);
    expect(types.indexOf('task.outputs')).toBeGreaterThan(types.indexOf('task.uploading'));
    // `data show` names the task; a finished task's outputs are no longer taken.
    expect((await h.req('GET', '/v1/datasets/model')).body.taskId).toBe(t.id);
    const late = await commit([{ index: 0, manifest: manifestOf(Buffer.from('other')) }]);
    expect(late.status).toBe(409);
    expect(late.body.error.message).toMatch(/is SUCCEEDED, not running/);
  });

  it('commits every output or none: over the quota, the versions made before are removed again', async () => {
    const a = new FakeAgent(h, 'node-a');
    await a.register();
    const [t] = await submit(h, { command: 'true', resources: { gpu: 1 }, outputs: [{ path: 'small', dataset: 'notes' }, { path: 'big', dataset: 'blob' }] });
    await a.poll();
    await a.start([[t.id, 1]]);
    await a.send([{ taskId: t.id, attempt: 1, status: 'uploading', endedAt: h.clock.now() }]);
    const small = Buffer.from('hi');
    const big = Buffer.alloc(5000, 7);
    for (const d of [small, big]) {
      const r = await h.req('POST', `/v1/agent/outputs/chunks/${sha256(d)}?nodeId=${a.nodeId}&taskId=${t.id}&attempt=1`, d, { ...OCTETS, ...a.headers() });
      expect(r.status).toBe(201);
    }
    expect((await h.req('POST', '/v1/tenants/default/dataset-quota', { maxBytes: 1000 })).status).toBe(200);
    const res = await h.req(
      'POST',
      '/v1/agent/outputs/commit',
      { nodeId: a.nodeId, taskId: t.id, attempt: 1, outputs: [{ index: 0, manifest: manifestOf(small) }, { index: 1, manifest: manifestOf(big) }] },
      a.headers(),
    );
    expect(res.status).toBe(429);
    expect(res.body.error.message).toMatch(/^outputs\.1 \(big → blob\): dataset quota of tenant default exceeded/);
    expect((await h.req('GET', '/v1/datasets')).body.datasets).toEqual([]);
    expect((await h.req('GET', '/v1/tenants/default/dataset-quota')).body.usedBytes).toBe(0);

    // The agent reports the failure: FAILED, with the output and cause.
    await a.exit(t.id, 1, 0, 'output-failed', res.body.error.message);
    await h.server.control.settle();
    const done = await taskState(h, t.id);
    expect(done.state).toBe('FAILED');
    expect(done.reasonMessage).toMatch(/^Exited 0, but uploading its outputs failed: outputs\.1 \(big → blob\): dataset quota/);
    expect(done.outputs).toEqual([
      { path: 'small', dataset: 'notes', version: null },
      { path: 'big', dataset: 'blob', version: null },
    ]);
  });

  it('each element of an array makes its own version of the dataset, named by the element', async () => {
    const a = new FakeAgent(h, 'node-a', h100s(2));
    await a.register();
    const res = await h.req('POST', '/v1/tasks', { command: 'true', resources: { gpu: 1 }, array: 2, outputs: [{ path: 'out', dataset: 'sweep-out' }] });
    expect(res.status).toBe(201);
    await h.server.control.settle();
    const { assignments } = await a.poll();
    expect(assignments).toHaveLength(2);
    await a.start(assignments.map((x) => [x.taskId, x.attempt] as const));
    const versions: number[] = [];
    for (const x of assignments) {
      expect(x.outputs).toEqual([{ path: 'out', dataset: 'sweep-out' }]);
      await a.send([{ taskId: x.taskId, attempt: 1, status: 'uploading', endedAt: h.clock.now() }]);
      const data = Buffer.from(`result of ${x.taskId}`);
      expect((await h.req('POST', `/v1/agent/outputs/chunks/${sha256(data)}?nodeId=${a.nodeId}&taskId=${x.taskId}&attempt=1`, data, { ...OCTETS, ...a.headers() })).status).toBe(201);
      const c = await h.req('POST', '/v1/agent/outputs/commit', { nodeId: a.nodeId, taskId: x.taskId, attempt: 1, outputs: [{ index: 0, manifest: manifestOf(data) }] }, a.headers());
      expect(c.body.versions[0]).toMatchObject({ name: 'sweep-out', taskId: x.taskId });
      versions.push(c.body.versions[0].version);
      await a.exit(x.taskId, 1, 0);
    }
    expect(versions).toEqual([1, 2]);
    const listed = (await h.req('GET', '/v1/datasets')).body.datasets.map((d: { version: number; taskId: string }) => [d.version, d.taskId]);
    expect(listed).toEqual(assignments.map((x, i) => [i + 1, x.taskId]));
  });
});
