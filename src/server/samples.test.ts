import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { H0, NOW, referenceSeries, twoDays } from '../store/conformance-samples.js';
import type { SamplePoint, SampleSeries } from '../store/port.js';
import { BLOCK_MS } from '../store/sample-blocks.js';
import { HOUR_MS, MINUTE_MS, floorTo } from '../store/sample-tiers.js';
import { seriesResponse } from './routes/samples.js';
import { FakeAgent, h100s, makeHarness, type Harness } from './testing.js';

type View = Omit<SamplePoint, 'samples'>;

/** The answer both the pure bucketing test and the route test expect for their three samples. */
const THREE_SAMPLES = {
  from: 0,
  to: 19,
  bucketMs: 10,
  series: [
    { nodeId: 'a', gpuIndex: 0, bucket: [0, 1], utilPercent: [30, 90], memoryUsedMiB: [300, 0], allocatedMilli: [750, 0] },
    { nodeId: 'a', gpuIndex: 1, bucket: [0], utilPercent: [10], memoryUsedMiB: [0], allocatedMilli: [0] },
  ],
  allocation: [
    { at: 0, allocatedMilli: 750, capacityMilli: 2000, utilPercent: 20 },
    { at: 10, allocatedMilli: 0, capacityMilli: 1000, utilPercent: 90 },
  ],
  sources: [{ tier: 'raw', from: 0, to: 19 }],
};

interface Body {
  from: number;
  bucketMs: number;
  series: { nodeId: string; gpuIndex: number; bucket: number[]; utilPercent: number[]; memoryUsedMiB: number[]; allocatedMilli: number[] }[];
}

/** The per-GPU series of an answer as one view a GPU and bucket, by bucket, node, GPU. */
function views(body: Body): View[] {
  const out = body.series.flatMap((g) =>
    g.bucket.map((b, i) => ({ at: body.from + b * body.bucketMs, nodeId: g.nodeId, gpuIndex: g.gpuIndex, utilPercent: g.utilPercent[i]!, memoryUsedMiB: g.memoryUsedMiB[i]!, allocatedMilli: g.allocatedMilli[i]! })),
  );
  return out.sort((a, b) => a.at - b.at || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : a.gpuIndex - b.gpuIndex));
}

/**
 * Same buckets and GPUs, utilisation equal to the 0.01 the answer keeps, memory exactly; allocation within 1 milli,
 * as each side rounds its own floating-point mean (62.5 may be 62.4999… on one of them).
 */
function expectSameViews(actual: readonly View[], expected: readonly View[]): void {
  const key = (v: View) => ({ at: v.at, nodeId: v.nodeId, gpuIndex: v.gpuIndex, memoryUsedMiB: v.memoryUsedMiB });
  expect(actual.map(key)).toEqual(expected.map(key));
  actual.forEach((v, i) => expect(Math.abs(v.allocatedMilli - expected[i]!.allocatedMilli)).toBeLessThanOrEqual(1));
  actual.forEach((v, i) => expect(Math.abs(v.utilPercent - expected[i]!.utilPercent)).toBeLessThanOrEqual(0.005 + 1e-9));
}

describe('seriesResponse', () => {
  it('rounds allocation per GPU and sums each bucket across the GPUs that reported', () => {
    const series: SampleSeries = {
      points: [
        { at: 0, nodeId: 'a', gpuIndex: 0, utilPercent: 30, memoryUsedMiB: 300, allocatedMilli: 749.6, samples: 2 },
        { at: 0, nodeId: 'a', gpuIndex: 1, utilPercent: 10, memoryUsedMiB: 0, allocatedMilli: 0, samples: 1 },
        { at: 10, nodeId: 'a', gpuIndex: 0, utilPercent: 90, memoryUsedMiB: 0, allocatedMilli: 0, samples: 1 },
      ],
      sources: [{ tier: 'raw', from: 0, to: 19 }],
    };
    expect(seriesResponse(series, 0, 19, 10)).toEqual(THREE_SAMPLES);
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

  it('averages each GPU within a bucket and sums allocation across GPUs', async () => {
    await h.store.appendSamples([
      { at: 0, nodeId: 'a', gpuIndex: 0, utilPercent: 20, memoryUsedMiB: 100, allocatedMilli: 500 },
      { at: 5, nodeId: 'a', gpuIndex: 0, utilPercent: 40, memoryUsedMiB: 300, allocatedMilli: 1000 },
      { at: 7, nodeId: 'a', gpuIndex: 1, utilPercent: 10, memoryUsedMiB: 0, allocatedMilli: 0 },
      { at: 12, nodeId: 'a', gpuIndex: 0, utilPercent: 90, memoryUsedMiB: 0 },
    ]);
    const r = await h.req('GET', '/v1/samples?from=0&to=19&buckets=2');
    expect(r.status).toBe(200);
    expect(r.body).toEqual(THREE_SAMPLES);
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
    }, a.headers());
    expect(hb.status).toBe(200);
    const r = await h.req('GET', `/v1/samples?from=${t0 - 1000}&to=${t0 + 1000}&buckets=1`);
    expect(r.status).toBe(200);
    expect(r.body.allocation).toEqual([{ at: t0 - 1000, allocatedMilli: 500, capacityMilli: 2000, utilPercent: 30 }]);
    expect(views(r.body).map((s) => [s.gpuIndex, s.allocatedMilli])).toEqual([
      [0, 500],
      [1, 0],
    ]);
    // /metrics gives each GPU's last measured utilisation, for Prometheus recording rules.
    const metrics = (await h.req('GET', '/metrics')).raw;
    expect(metrics).toMatch(/fastgpu_gpu_utilisation_percent\{node="node-a",gpu="0",model="[^"]+"\} 60/);
    expect(metrics).toMatch(/fastgpu_gpu_utilisation_percent\{node="node-a",gpu="1",model="[^"]+"\} 0/);
    // Rolled up a minute later (and the raw samples pruned), the same answer comes from minute rollups.
    h.clock.set(floorTo(t0, BLOCK_MS.raw) + BLOCK_MS.raw + MINUTE_MS);
    await h.server.samples.compact();
    await h.store.pruneSamples('raw', h.clock.now());
    expect(await h.store.listSamples(0, h.clock.now())).toEqual([]);
    const again = await h.req('GET', `/v1/samples?from=${floorTo(t0, MINUTE_MS)}&to=${floorTo(t0, MINUTE_MS) + MINUTE_MS - 1}&buckets=1`);
    expect(again.body.sources.map((x: { tier: string }) => x.tier)).toEqual(['minute']);
    expect(again.body.allocation).toEqual([{ at: floorTo(t0, MINUTE_MS), allocatedMilli: 500, capacityMilli: 2000, utilPercent: 30 }]);
  });

  it('weights each rollup in a bucket by the samples behind it', async () => {
    const at = floorTo(h.clock.now(), HOUR_MS);
    const s = (dt: number, utilPercent: number, allocatedMilli: number) => ({ at: at + dt, nodeId: 'a', gpuIndex: 0, utilPercent, memoryUsedMiB: dt, allocatedMilli });
    // Minute 0: three samples at 10 %; minute 1: one at 50 %.
    await h.store.appendSamples([s(1_000, 10, 0), s(21_000, 10, 0), s(41_000, 10, 0), s(61_000, 50, 1000)]);
    h.clock.set(at + 3 * MINUTE_MS);
    expect(await h.server.samples.compact()).toMatchObject({ minutes: 2 });
    const r = await h.req('GET', `/v1/samples?from=${at}&to=${at + 2 * MINUTE_MS - 1}&buckets=1`);
    expect(r.body.sources).toEqual([{ tier: 'minute', from: at, to: at + 2 * MINUTE_MS - 1 }]);
    expect(views(r.body)).toEqual([{ at, nodeId: 'a', gpuIndex: 0, utilPercent: 20, memoryUsedMiB: 61_000, allocatedMilli: 250 }]);
  });

  describe('over two days of samples, compacted', () => {
    const raw = twoDays();
    beforeEach(async () => {
      await h.store.appendSamples(raw);
      h.clock.set(NOW);
      await h.server.samples.compact();
    });

    it('answers a range that spans minute rollups and recent raw samples as the raw samples would', async () => {
      // 243 buckets of 12 minutes from H0: bucket edges fall on minute and hour edges.
      const to = H0 + 48 * HOUR_MS + 36 * MINUTE_MS - 1;
      const r = await h.req('GET', `/v1/samples?from=${H0}&to=${to}&buckets=243`);
      expect(r.status).toBe(200);
      expect(r.body.bucketMs).toBe(12 * MINUTE_MS);
      const minuteThrough = floorTo(NOW - 30_000, MINUTE_MS);
      expect(r.body.sources).toEqual([
        { tier: 'minute', from: H0, to: minuteThrough - 1 },
        { tier: 'raw', from: minuteThrough, to },
      ]);
      const expected = seriesResponse({ points: referenceSeries(raw, H0, to, 12 * MINUTE_MS), sources: r.body.sources }, H0, to, 12 * MINUTE_MS);
      expectSameViews(views(r.body), views(expected));
      const pool = (p: { at: number; capacityMilli: number; utilPercent: number }) => [p.at, p.capacityMilli, Math.round(p.utilPercent * 1e9) / 1e9];
      expect(r.body.allocation.map(pool)).toEqual(expected.allocation.map(pool));
      // detail=pool: the same totals, summed in the store, without the per-GPU points.
      const summed = await h.req('GET', `/v1/samples?from=${H0}&to=${to}&buckets=243&detail=pool`);
      expect(summed.body.series).toEqual([]);
      expect(summed.body.sources).toEqual(r.body.sources);
      expect(summed.body.allocation.map(pool)).toEqual(r.body.allocation.map(pool));
      expect(summed.body.allocation.map((p: { allocatedMilli: number }) => p.allocatedMilli)).toEqual(r.body.allocation.map((p: { allocatedMilli: number }) => p.allocatedMilli));
      expect((await h.req('GET', '/v1/samples?detail=node')).body.error.field).toBe('query.detail');
    });

    it('answers the last 48 hours from minute rollups, the newest samples from raw ones', async () => {
      // A heartbeat after the compaction: in the answer at once.
      await h.store.appendSamples([{ at: NOW, nodeId: 'n3', gpuIndex: 0, utilPercent: 77, memoryUsedMiB: 1, allocatedMilli: 1000 }]);
      const r = await h.req('GET', `/v1/samples?from=${NOW - 48 * HOUR_MS}&to=${NOW}`);
      expect(r.body.bucketMs).toBe(Math.ceil((48 * HOUR_MS + 1) / 240));
      expect(r.body.sources.map((x: { tier: string }) => x.tier)).toEqual(['minute', 'raw']);
      expect(r.body.allocation).toHaveLength(240);
      expect(r.body.allocation.every((p: { capacityMilli: number }) => p.capacityMilli >= 3000)).toBe(true);
      expect(views(r.body).filter((v) => v.nodeId === 'n3')).toEqual([
        { at: NOW - 48 * HOUR_MS + 239 * r.body.bucketMs, nodeId: 'n3', gpuIndex: 0, utilPercent: 77, memoryUsedMiB: 1, allocatedMilli: 1000 },
      ]);
      // A week: hour rollups, then minutes for the hour not complete yet, then raw samples.
      const week = await h.req('GET', `/v1/samples?from=${NOW - 7 * 24 * HOUR_MS}&to=${NOW}`);
      expect(week.body.sources.map((x: { tier: string }) => x.tier)).toEqual(['hour', 'minute', 'raw']);
      expect(week.body.allocation.length).toBe(49 + 1);
    });

    it('keeps answering from rollups once the retention job has pruned the raw samples', async () => {
      h.clock.set(NOW + 24 * HOUR_MS);
      await h.server.samples.compact();
      const pruned = await h.server.samples.prune();
      // Every raw block that ends by the cutoff (now − 24 h), whole.
      const blocks = new Set(raw.filter((x) => x.at < floorTo(NOW, BLOCK_MS.raw)).map((x) => `${x.nodeId}/${floorTo(x.at, BLOCK_MS.raw)}`));
      expect(pruned).toEqual({ raw: blocks.size, minute: 0, hour: 0, logs: 0 });
      const r = await h.req('GET', `/v1/samples?from=${H0}&to=${H0 + 48 * HOUR_MS - 1}&buckets=48`);
      expect(r.body.sources.map((x: { tier: string }) => x.tier)).toEqual(['hour']);
      const expected = referenceSeries(raw, H0, H0 + 48 * HOUR_MS - 1, HOUR_MS);
      expectSameViews(views(r.body), expected);
    });
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
