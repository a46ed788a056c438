// GET /v1/samples: measured utilisation and allocation over time, from the samples the agents'
// heartbeats carry (each stored with what was allocated on its GPU then). Bucketed on the server
// so a month of samples stays a small answer.
import { z } from 'zod';
import { invalid } from '../../core/errors.js';
import type { UtilisationSample } from '../../store/port.js';
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
});

const SampleViewSchema = z.object({
  at: z.number().describe('bucket start, epoch ms'),
  nodeId: z.string(),
  gpuIndex: z.number().int(),
  utilPercent: z.number(),
  memoryUsedMiB: z.number(),
  allocatedMilli: z.number(),
});

const AllocationPointSchema = z.object({
  at: z.number(),
  allocatedMilli: z.number().describe('summed over the GPUs that reported in this bucket'),
  capacityMilli: z.number().describe('1000 × the GPUs that reported in this bucket'),
  utilPercent: z.number().describe('mean measured utilisation of those GPUs'),
});

const SamplesResponseSchema = z.object({
  from: z.number(),
  to: z.number(),
  bucketMs: z.number(),
  samples: z.array(SampleViewSchema),
  allocation: z.array(AllocationPointSchema),
});
type SamplesResponse = z.infer<typeof SamplesResponseSchema>;

function parseInstant(v: string, field: string): number {
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw invalid(field, `${JSON.stringify(v)} is not a time: give epoch milliseconds or ISO 8601`);
  return t;
}

/** Averages samples per (bucket, GPU), then sums each bucket across GPUs. Pure; exported for tests. */
export function bucketSamples(samples: readonly UtilisationSample[], from: number, to: number, buckets: number): SamplesResponse {
  const bucketMs = Math.max(1, Math.ceil((to - from + 1) / buckets));
  const perGpu = new Map<string, { at: number; nodeId: string; gpuIndex: number; n: number; util: number; mem: number; alloc: number }>();
  for (const s of samples) {
    const b = Math.min(buckets - 1, Math.floor((s.at - from) / bucketMs));
    const key = `${b}\u0000${s.nodeId}\u0000${s.gpuIndex}`;
    let acc = perGpu.get(key);
    if (!acc) perGpu.set(key, (acc = { at: from + b * bucketMs, nodeId: s.nodeId, gpuIndex: s.gpuIndex, n: 0, util: 0, mem: 0, alloc: 0 }));
    acc.n++;
    acc.util += s.utilPercent;
    acc.mem = Math.max(acc.mem, s.memoryUsedMiB);
    acc.alloc += s.allocatedMilli ?? 0;
  }
  const out: SamplesResponse = { from, to, bucketMs, samples: [], allocation: [] };
  const perBucket = new Map<number, { allocatedMilli: number; gpus: number; util: number }>();
  for (const a of perGpu.values()) {
    const v = { at: a.at, nodeId: a.nodeId, gpuIndex: a.gpuIndex, utilPercent: a.util / a.n, memoryUsedMiB: a.mem, allocatedMilli: Math.round(a.alloc / a.n) };
    out.samples.push(v);
    const p = perBucket.get(a.at) ?? { allocatedMilli: 0, gpus: 0, util: 0 };
    p.allocatedMilli += v.allocatedMilli;
    p.gpus++;
    p.util += v.utilPercent;
    perBucket.set(a.at, p);
  }
  out.samples.sort((x, y) => x.at - y.at || (x.nodeId < y.nodeId ? -1 : x.nodeId > y.nodeId ? 1 : x.gpuIndex - y.gpuIndex));
  for (const [at, p] of [...perBucket].sort((x, y) => x[0] - y[0])) {
    out.allocation.push({ at, allocatedMilli: p.allocatedMilli, capacityMilli: p.gpus * 1000, utilPercent: p.util / p.gpus });
  }
  return out;
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
      const samples = await store.listSamples(from, to, query.node);
      return bucketSamples(samples, from, to, query.buckets ?? 240);
    },
  });
}
