// GET /v1/samples: measured utilisation and allocation over time, from the samples the agents'
// heartbeats carry (each stored with what was allocated on its GPU then). Bucketed in the store
// as it reads the blocks of the coarsest tier that draws the buckets (raw samples, minute or hour
// rollups: store/sample-tiers.ts, sample-blocks.ts), so a year stays a small read. Per GPU the
// answer is one series a GPU, at most `buckets` (≤ 2000) points each, in columns: 1,000 GPUs in
// 240 buckets come to a few MiB, not the 25 of an object a point.
import { z } from 'zod';
import { invalid } from '../../core/errors.js';
import type { SampleSeries } from '../../store/port.js';
import { authorize } from '../auth.js';
import type { RouteContext } from './context.js';

const instant = z
  .string()
  .min(1)
  .describe('epoch milliseconds or an ISO 8601 time');

const SamplesQuerySchema = z.strictObject({
  from: instant.optional().describe('start (default: an hour before `to`)'),
  to: instant.optional().describe('end (default: now)'),
  buckets: z.coerce.number().int().min(1).max(2000).optional().describe('time buckets (default 240)'),
  node: z.string().min(1).max(64).optional().describe('only this node id'),
  detail: z
    .enum(['gpu', 'pool'])
    .optional()
    .describe(
      'gpu (default): `series` per GPU, and `allocation`; pool: `allocation` only (`series` empty), summed as the store reads (from pool rollups for minutes and hours: a bucket of several counts the most GPUs of any one), far smaller for many GPUs',
    ),
});

const GpuSeriesSchema = z.object({
  nodeId: z.string(),
  gpuIndex: z.number().int(),
  bucket: z.array(z.number().int()).describe('bucket numbers where this GPU reported: bucket i starts at from + i × bucketMs'),
  utilPercent: z.array(z.number()).describe('mean measured utilisation in each of those buckets, to 0.01'),
  memoryUsedMiB: z.array(z.number()).describe('highest memory used in each'),
  allocatedMilli: z.array(z.number()).describe('mean milli-GPU allocated in each, rounded'),
});

const AllocationPointSchema = z.object({
  at: z.number(),
  allocatedMilli: z.number().describe('summed over the GPUs that reported in this bucket'),
  capacityMilli: z.number().describe('1000 × the GPUs that reported in this bucket'),
  utilPercent: z.number().describe('mean measured utilisation of those GPUs'),
});

const SourceSchema = z.object({
  tier: z.enum(['raw', 'minute', 'hour']),
  from: z.number(),
  to: z.number().describe('included'),
});

const SamplesResponseSchema = z.object({
  from: z.number(),
  to: z.number(),
  bucketMs: z.number(),
  series: z.array(GpuSeriesSchema).describe('per GPU (detail gpu), by node and GPU'),
  allocation: z.array(AllocationPointSchema),
  sources: z.array(SourceSchema).describe('which tier answered which part of the range: raw samples, or minute or hour rollups (a rollup counts in the bucket where it starts)'),
});
type SamplesResponse = z.infer<typeof SamplesResponseSchema>;

function parseInstant(v: string, field: string): number {
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw invalid(field, `${JSON.stringify(v)} is not a time: give epoch milliseconds or ISO 8601`);
  return t;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/**
 * The answer from a bucketed read: per-GPU points as columns of one series a GPU, and each
 * bucket summed across GPUs; or, for detail pool, the store's sums alone. Pure; exported for tests.
 */
export function seriesResponse(series: SampleSeries, from: number, to: number, bucketMs: number): SamplesResponse {
  if (series.buckets) {
    // Summed in the store (detail pool), and the per-GPU columns as read (detail series).
    const allocation = series.buckets.map((b) => ({ at: b.at, allocatedMilli: b.allocatedMilli, capacityMilli: b.gpus * 1000, utilPercent: b.utilPercent }));
    // Rounded in place: the store's columns are this answer's own (1.2 M values at 1,000 GPUs).
    const perGpu = (series.series ?? []).map((g) => {
      for (let i = 0; i < g.utilPercent.length; i++) g.utilPercent[i] = round2(g.utilPercent[i]!);
      for (let i = 0; i < g.allocatedMilli.length; i++) g.allocatedMilli[i] = Math.round(g.allocatedMilli[i]!);
      return { nodeId: g.nodeId, gpuIndex: g.gpuIndex, bucket: g.bucket, utilPercent: g.utilPercent, memoryUsedMiB: g.memoryUsedMiB, allocatedMilli: g.allocatedMilli };
    });
    return { from, to, bucketMs, series: perGpu, allocation, sources: series.sources };
  }
  const gpus = new Map<string, Map<number, SamplesResponse['series'][number]>>();
  const buckets: { at: number; allocatedMilli: number; gpus: number; util: number }[] = [];
  // Points come by bucket, then node and GPU.
  for (const p of series.points) {
    let node = gpus.get(p.nodeId);
    if (!node) gpus.set(p.nodeId, (node = new Map()));
    let g = node.get(p.gpuIndex);
    if (!g) node.set(p.gpuIndex, (g = { nodeId: p.nodeId, gpuIndex: p.gpuIndex, bucket: [], utilPercent: [], memoryUsedMiB: [], allocatedMilli: [] }));
    const allocatedMilli = Math.round(p.allocatedMilli);
    g.bucket.push(Math.round((p.at - from) / bucketMs));
    g.utilPercent.push(round2(p.utilPercent));
    g.memoryUsedMiB.push(p.memoryUsedMiB);
    g.allocatedMilli.push(allocatedMilli);
    let b = buckets[buckets.length - 1];
    if (b?.at !== p.at) buckets.push((b = { at: p.at, allocatedMilli: 0, gpus: 0, util: 0 }));
    b.allocatedMilli += allocatedMilli;
    b.gpus++;
    b.util += p.utilPercent;
  }
  const allocation = buckets.map((b) => ({ at: b.at, allocatedMilli: b.allocatedMilli, capacityMilli: b.gpus * 1000, utilPercent: b.util / b.gpus }));
  const bySeries = [...gpus.values()].flatMap((m) => [...m.values()]).sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : a.gpuIndex - b.gpuIndex));
  return { from, to, bucketMs, series: bySeries, allocation, sources: series.sources };
}

export function sampleRoutes(ctx: RouteContext): void {
  const { book, store, clock } = ctx;
  book.add({
    method: 'GET',
    url: '/v1/samples',
    tag: 'pool',
    summary: 'Measured GPU utilisation and allocation over a time range, bucketed',
    query: SamplesQuerySchema,
    response: SamplesResponseSchema,
    handler: async ({ query, principal }) => {
      authorize(principal, 'gpu.list', null);
      const to = query.to === undefined ? clock.now() : parseInstant(query.to, 'to');
      const from = query.from === undefined ? to - 3_600_000 : parseInstant(query.from, 'from');
      if (from >= to) throw invalid('from', 'must be before `to`');
      if (to - from > 366 * 86_400_000) throw invalid('from', 'the range may span a year at most');
      const bucketMs = Math.max(1, Math.ceil((to - from + 1) / (query.buckets ?? 240)));
      // Per GPU, the store gives columns a GPU and the bucket totals (detail series): no object a point.
      const detail = query.detail === 'pool' ? 'pool' : 'series';
      const series = await store.readSampleSeries({ from, to, bucketMs, detail, ...(query.node !== undefined ? { nodeId: query.node } : {}) });
      return seriesResponse(series, from, to, bucketMs);
    },
  });
}
