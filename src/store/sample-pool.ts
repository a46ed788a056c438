// Pool rollups: the dashboard's totals (GPUs that reported, their mean utilisation, what was
// allocated on them) per minute and per hour, written by compaction beside the per-GPU rollups,
// so that `detail=pool` over days reads one row a block instead of decoding every GPU's.
//
// They live in the same block rows as the per-GPU rollups (sample-blocks.ts), under the node id
// POOL_NODE (''; a real node id is never empty), so the codec, sealing, retention and
// `fastgpu admin migrate` treat them as any other block. One record a unit (minute or hour), gpu 0:
//   n     G: GPUs that reported in the unit
//   util  M: Σ over those GPUs of each one's mean utilisation in the unit, in 1e-6 % (rounded)
//   alloc R: Σ over those GPUs of each one's mean allocation in the unit, each rounded to a milli
//   mem   N: the raw samples behind the unit, all GPUs together
// A bucket of one unit shows exactly what the per-GPU rollups give (G, M / G, R). A bucket of
// several units (or units and raw samples) weights each by its samples a GPU (N / G): the most
// GPUs that reported in any unit, Σ(w·M) / Σ(w·G), round(Σ(w·R) / Σw). That is the per-GPU
// answer (each GPU's mean over the bucket, then summed) whenever the GPUs of a unit report
// equally often and the same GPUs report throughout (a steady pool), to rounding: allocation is
// rounded per GPU there, per unit here. When GPUs come and go inside a bucket it differs by their
// share. Raw samples are never pooled, so buckets under a minute stay exact.
// Pure: no SQL; the adapters move the rows.
import type { SampleBucket } from './port.js';

/** A per-GPU record as sample-blocks.ts stores it (its BlockRecord), the fields pooling reads. */
interface GpuRecord {
  at: number;
  util: number;
  alloc: number;
  n: number;
}

/** Decoded records in columns (sample-blocks.ts RecordColumns). */
interface Columns {
  length: number;
  at: Float64Array;
  util: Float64Array;
  alloc: Float64Array;
  n: Float64Array;
}

/** A stored record (sample-blocks.ts BlockRecord). */
interface PoolRecord extends GpuRecord {
  gpu: number;
  mem: number;
}

/** The node id of pool rows. */
export const POOL_NODE = '';

/** Stored pool utilisation per percent: 1e-6 % (the per-GPU tiers keep 1/10; M sums means). */
const POOL_UTIL_SCALE = 1_000_000;
/** Per-GPU records keep utilisation in tenths of a percent (sample-blocks.ts UTIL_SCALE). */
const GPU_UTIL_SCALE = 10;

/** Mark: pool rows of `tier` are complete for units at or after it (below the tier's own mark). */
export const poolMark = (tier: 'minute' | 'hour'): string => `pool:${tier}`;

/**
 * Pool records of one tier, built from per-GPU rollup records (any number of nodes' batches).
 * @example const p = new PoolRollup(); p.add(rolledNodeA); p.add(rolledNodeB); p.records()
 */
export class PoolRollup {
  /** Per unit start: [GPUs, Σ mean util (pool scale), Σ rounded mean alloc, samples]. */
  private readonly units = new Map<number, [number, number, number, number]>();

  add(records: readonly GpuRecord[]): void {
    for (const r of records) this.addOne(r.at, r.util, r.alloc, r.n);
  }

  /** Records of `cols` with `at` in [from, to). */
  addColumns(cols: Columns, from: number, to: number): void {
    for (let i = 0; i < cols.length; i++) {
      const at = cols.at[i]!;
      if (at >= from && at < to) this.addOne(at, cols.util[i]!, cols.alloc[i]!, cols.n[i]!);
    }
  }

  private addOne(at: number, util: number, alloc: number, n: number): void {
    if (n <= 0) return;
    let u = this.units.get(at);
    if (!u) this.units.set(at, (u = [0, 0, 0, 0]));
    u[0] += 1;
    u[1] += (util / n) * (POOL_UTIL_SCALE / GPU_UTIL_SCALE);
    u[2] += Math.round(alloc / n);
    u[3] += n;
  }

  get size(): number {
    return this.units.size;
  }

  /** One record a unit, by time. */
  records(): PoolRecord[] {
    return [...this.units.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([at, [gpus, util, alloc, samples]]) => ({ at, gpu: 0, util: Math.round(util), mem: samples, alloc, n: gpus }));
  }
}

/** Decoded records in columns, memory included (pool records keep their samples there). */
interface PoolColumns extends Columns {
  mem: Float64Array;
}

/**
 * Per-bucket totals of a pool read: the pool records' units, and each bucket's totals from raw
 * samples or per-GPU rollups (one more unit, when the bucket has any), combined at the end.
 */
export class PoolBuckets {
  /** Per bucket: units, max G, Σ w·G, Σ w·M, Σ w·R, Σ w; and the first unit's G, M, R. */
  private readonly acc: Float64Array;
  private static readonly W = 9;

  constructor(
    private readonly q: { from: number; bucketMs: number },
    private readonly n: number,
  ) {
    this.acc = new Float64Array(n * PoolBuckets.W);
  }

  /** A unit: `gpus` GPUs, Σ of their mean utilisation in percent, Σ of their rounded allocation, samples behind. */
  private unit(b: number, gpus: number, util: number, alloc: number, samples: number): void {
    const a = this.acc;
    const k = b * PoolBuckets.W;
    const w = samples / gpus;
    if (a[k] === 0) {
      a[k + 6] = gpus;
      a[k + 7] = util;
      a[k + 8] = alloc;
    }
    a[k]! += 1;
    if (gpus > a[k + 1]!) a[k + 1] = gpus;
    a[k + 2]! += w * gpus;
    a[k + 3]! += w * util;
    a[k + 4]! += w * alloc;
    a[k + 5]! += w;
  }

  /** Decoded pool records: those starting in [lo, hi] count in the bucket where they start. */
  addRecords(cols: PoolColumns, lo: number, hi: number): void {
    const { from, bucketMs } = this.q;
    for (let i = 0; i < cols.length; i++) {
      const t = cols.at[i]!;
      if (t < lo || t > hi || cols.n[i]! <= 0) continue;
      this.unit(Math.floor((t - from) / bucketMs), cols.n[i]!, cols.util[i]! / POOL_UTIL_SCALE, cols.alloc[i]!, Math.max(1, cols.mem[i]!));
    }
  }

  /** Totals from per-GPU records by bucket: GPUs, Σ mean utilisation %, Σ rounded allocation, samples. */
  addTotals(gpus: Float64Array, utilPercent: Float64Array, alloc: Float64Array, samples: Float64Array): void {
    for (let b = 0; b < this.n; b++) if (gpus[b]! > 0) this.unit(b, gpus[b]!, utilPercent[b]!, alloc[b]!, samples[b]!);
  }

  /** Each bucket's totals; a bucket of one unit is that unit's (the per-GPU answer). */
  result(): SampleBucket[] {
    const out: SampleBucket[] = [];
    const a = this.acc;
    for (let b = 0; b < this.n; b++) {
      const k = b * PoolBuckets.W;
      if (a[k] === 0) continue;
      const at = this.q.from + b * this.q.bucketMs;
      if (a[k] === 1) out.push({ at, gpus: a[k + 6]!, utilPercent: a[k + 7]! / a[k + 6]!, allocatedMilli: a[k + 8]! });
      else out.push({ at, gpus: a[k + 1]!, utilPercent: a[k + 3]! / a[k + 2]!, allocatedMilli: Math.round(a[k + 4]! / a[k + 5]!) });
    }
    return out;
  }
}
