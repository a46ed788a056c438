// Time series for the utilisation chart: samples and allocations bucketed over a range.
import type { TaskView } from '../types.js';

/** A stored utilisation sample (GET /v1/samples): `at` in epoch ms or ISO 8601. */
export interface Sample {
  at: number | string;
  nodeId: string;
  gpuIndex: number;
  utilPercent: number;
  memoryUsedMiB?: number;
}

/** Allocation history (GET /v1/samples `allocation`): `at` in epoch ms or ISO 8601. */
export interface AllocationPoint {
  at: number | string;
  allocatedMilli: number;
  capacityMilli: number;
  /** Mean measured utilisation of the GPUs that reported in the bucket (capacityMilli / 1000 of them). */
  utilPercent?: number;
}

/** What the chart draws: one value per bucket end (`xs`, seconds). */
export interface Series {
  xs: number[];
  capacity: (number | null)[];
  allocated: (number | null)[];
  busy: (number | null)[];
  /** Where measured utilisation came from: stored samples, or this page's own observations. */
  source: 'server' | 'page';
  allocationFrom: 'server' | 'tasks';
}

const bucketOf = (at: number, from: number, step: number): number => Math.floor((at - from) / step);
export const msOf = (at: number | string): number => (typeof at === 'number' ? at : Date.parse(at));

/** Busy GPUs per bucket: Σ over GPUs of their mean utilisation in the bucket / 100. */
export function busyFromSamples(samples: readonly Sample[], from: number, to: number, n: number): (number | null)[] {
  const step = (to - from) / n;
  const per: Map<string, [number, number]>[] = Array.from({ length: n }, () => new Map());
  for (const s of samples) {
    const b = bucketOf(msOf(s.at), from, step);
    if (b < 0 || b >= n) continue;
    const k = `${s.nodeId}/${s.gpuIndex}`;
    const acc = per[b]!.get(k);
    if (acc) {
      acc[0] += s.utilPercent;
      acc[1]++;
    } else per[b]!.set(k, [s.utilPercent, 1]);
  }
  return per.map((m) => {
    if (m.size === 0) return null;
    let busy = 0;
    for (const [sum, count] of m.values()) busy += sum / count / 100;
    return busy;
  });
}

/**
 * Busy GPUs per bucket from the server's per-bucket totals (GET /v1/samples?detail=pool): mean
 * utilisation × the GPUs that reported, the same as busyFromSamples over the per-GPU points.
 */
export function busyFromAllocation(points: readonly AllocationPoint[], from: number, to: number, n: number): (number | null)[] {
  const measured = points.filter((p) => p.utilPercent !== undefined);
  return bucketPoints(measured.map((p) => ({ at: msOf(p.at), v: (p.utilPercent! / 100) * (p.capacityMilli / 1000) })), from, to, n);
}

/** Which tier of stored samples answered which part of a range (GET /v1/samples `sources`). */
export interface SampleSource {
  tier: 'raw' | 'minute' | 'hour';
  from: number;
  to: number;
}

/** How long one stored row of a tier stands for: a raw sample only for its own bucket. */
const TIER_MS: Readonly<Record<SampleSource['tier'], number>> = { raw: 0, minute: 60_000, hour: 3_600_000 };

/**
 * Allocated, capacity and measured-busy GPUs at each bucket's end, from the server's per-bucket
 * totals (`allocation`, bucket starts `bucketMs` apart). A bucket shows the latest point at or
 * before its end that still covers it: a point stands for its own bucket, or for the whole
 * minute or hour of the rollup behind it, and for no longer. Where no point covers a bucket the
 * chart shows nothing, so no line is ever drawn across time in which nothing was measured (the
 * minutes before a server's first sample, an agent that was down).
 */
export function seriesFromAllocation(
  points: readonly AllocationPoint[],
  sources: readonly SampleSource[],
  bucketMs: number,
  from: number,
  to: number,
  n: number,
): { allocated: (number | null)[]; capacity: (number | null)[]; busy: (number | null)[] } {
  const step = (to - from) / n;
  const tierAt = (at: number): number => TIER_MS[sources.find((s) => at >= s.from && at <= s.to)?.tier ?? 'raw'];
  const pts = points.map((p) => ({ ...p, at: msOf(p.at) })).sort((a, b) => a.at - b.at);
  const allocated: (number | null)[] = [];
  const capacity: (number | null)[] = [];
  const busy: (number | null)[] = [];
  let j = -1;
  for (let i = 0; i < n; i++) {
    const start = from + i * step;
    const end = start + step;
    // A point at a bucket's end starts the next one (the last bucket includes its end).
    while (j + 1 < pts.length && (pts[j + 1]!.at < end || (i === n - 1 && pts[j + 1]!.at <= end))) j++;
    const p = j >= 0 ? pts[j]! : null;
    const covers = p !== null && p.at + Math.max(bucketMs, tierAt(p.at)) > start;
    allocated.push(covers ? p.allocatedMilli / 1000 : null);
    capacity.push(covers ? p.capacityMilli / 1000 : null);
    busy.push(covers && p.utilPercent !== undefined ? (p.utilPercent / 100) * (p.capacityMilli / 1000) : null);
  }
  return { allocated, capacity, busy };
}

/** Mean of the points in each bucket (null where there is none). */
export function bucketPoints(points: readonly { at: number; v: number }[], from: number, to: number, n: number): (number | null)[] {
  const step = (to - from) / n;
  const sum = new Array<number>(n).fill(0);
  const count = new Array<number>(n).fill(0);
  for (const p of points) {
    const b = bucketOf(p.at, from, step);
    if (b < 0 || b >= n) continue;
    sum[b]! += p.v;
    count[b]!++;
  }
  return sum.map((s, i) => (count[i] ? s / count[i]! : null));
}

/** Allocated GPUs at each bucket's end, from tasks' placements (scheduled → finished). */
export function allocatedFromTasks(tasks: readonly TaskView[], from: number, to: number, n: number, now = Date.now()): number[] {
  const step = (to - from) / n;
  const out = new Array<number>(n).fill(0);
  for (const t of tasks) {
    const p = t.placement;
    if (!p || !t.scheduledAt || p.vgpuId) continue;
    const a = Date.parse(t.scheduledAt);
    const b = t.finishedAt ? Date.parse(t.finishedAt) : now;
    const g = (p.gpuMilli / 1000) * p.gpus.length;
    if (g === 0) continue;
    for (let i = Math.max(0, bucketOf(a, from, step)); i < n; i++) {
      const at = from + (i + 1) * step;
      if (at < a) continue;
      if (at >= b) break;
      out[i]! += g;
    }
  }
  return out;
}
