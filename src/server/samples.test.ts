import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bucketSamples } from './routes/samples.js';
import { FakeAgent, h100s, makeHarness, type Harness } from './testing.js';

describe('bucketSamples', () => {
  it('averages each GPU within a bucket and sums allocation across GPUs', () => {
    const r = bucketSamples(
      [
        { at: 0, nodeId: 'a', gpuIndex: 0, utilPercent: 20, memoryUsedMiB: 100, allocatedMilli: 500 },
        { at: 5, nodeId: 'a', gpuIndex: 0, utilPercent: 40, memoryUsedMiB: 300, allocatedMilli: 1000 },
        { at: 7, nodeId: 'a', gpuIndex: 1, utilPercent: 10, memoryUsedMiB: 0, allocatedMilli: 0 },
        { at: 12, nodeId: 'a', gpuIndex: 0, utilPercent: 90, memoryUsedMiB: 0 },
      ],
      0,
      19,
      2,
    );
    expect(r.bucketMs).toBe(10);
    expect(r.samples).toEqual([
      { at: 0, nodeId: 'a', gpuIndex: 0, utilPercent: 30, memoryUsedMiB: 300, allocatedMilli: 750 },
      { at: 0, nodeId: 'a', gpuIndex: 1, utilPercent: 10, memoryUsedMiB: 0, allocatedMilli: 0 },
      { at: 10, nodeId: 'a', gpuIndex: 0, utilPercent: 90, memoryUsedMiB: 0, allocatedMilli: 0 },
    ]);
    expect(r.allocation).toEqual([
      { at: 0, allocatedMilli: 750, capacityMilli: 2000, utilPercent: 20 },
      { at: 10, allocatedMilli: 0, capacityMilli: 1000, utilPercent: 90 },
    ]);
  });
});

describe('GET /v1/samples', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await makeHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('returns heartbeat samples with what was allocated on each GPU at the time', async () => {
    const a = new FakeAgent(h, 'node-a', h100s(2, 'A'));
    await a.register();
    const t0 = h.clock.now();
    expect((await h.req('POST', '/v1/tasks', { name: 'half', command: ['sleep', '1'], resources: { gpu: 0.5 } })).status).toBe(201);
    await h.server.control.settle();
    const hb = await h.req('POST', '/v1/agent/heartbeat', {
      nodeId: a.nodeId,
      tasks: [],
      samples: [
        { gpuIndex: 0, utilPercent: 60, memoryUsedMiB: 1000 },
        { gpuIndex: 1, utilPercent: 0, memoryUsedMiB: 0 },
      ],
    });
    expect(hb.status).toBe(200);
    const r = await h.req('GET', `/v1/samples?from=${t0 - 1000}&to=${t0 + 1000}&buckets=1`);
    expect(r.status).toBe(200);
    expect(r.body.allocation).toEqual([{ at: t0 - 1000, allocatedMilli: 500, capacityMilli: 2000, utilPercent: 30 }]);
    expect(r.body.samples.map((s: { gpuIndex: number; allocatedMilli: number }) => [s.gpuIndex, s.allocatedMilli])).toEqual([
      [0, 500],
      [1, 0],
    ]);
  });

  it('refuses a range that is not a time or runs backwards, naming the field', async () => {
    const bad = await h.req('GET', '/v1/samples?from=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('from');
    const backwards = await h.req('GET', '/v1/samples?from=2000&to=1000');
    expect(backwards.status).toBe(400);
    expect(backwards.body.error.message).toMatch(/before/);
  });
});
