// Utilisation samples stored in blocks: one row per node, tier and block of time, holding that
// node's samples (every GPU) of the block as a packed array. Store-agnostic: the codec and the
// read-side aggregation live here, and each adapter only moves rows. The schema, the same on
// SQLite (BLOB) and Postgres (bytea):
//
//   CREATE TABLE sample_blocks (
//     tier    TEXT    NOT NULL,  -- 'raw' | 'minute' | 'hour'
//     start   BIGINT  NOT NULL,  -- block start, epoch ms, a multiple of BLOCK_MS[tier]
//     node_id TEXT    NOT NULL,
//     body    BLOB    NOT NULL,  -- sealed records: encodeBody (columnar, delta, deflate-raw)
//     tail    BLOB    NOT NULL,  -- records appended since: encodeTail (row by row, plain varints)
//     PRIMARY KEY (tier, start, node_id)
//   );
//   CREATE TABLE sample_marks (name TEXT PRIMARY KEY, at BIGINT NOT NULL);
//
// - Appends go into `tail` in place, in the caller's transaction:
//     INSERT INTO sample_blocks VALUES (tier, start, node, x'', $tail)
//       ON CONFLICT (tier, start, node_id) DO UPDATE SET tail = sample_blocks.tail || excluded.tail
//   so a committed sample is never lost (no buffer in memory: the crash-loss bound is zero), a
//   late sample lands in the block it belongs to, and several servers may append to one store.
// - Compaction seals a block once its time is over: body := encodeBody(body ∪ tail), tail := ''.
//   A sealed block costs about 1 byte a raw sample; a tail about 10 until it is sealed.
// - Retention deletes whole blocks (a block goes once all of it is older than the window).
// - sample_marks: 'minute' / 'hour' (rolled up through), 'pruned:raw' / 'pruned:minute' (every
//   block before is deleted, or may be), 'sealed:<tier>' (blocks before are sealed).
//
// Quantisation: utilisation to 0.1 % (nvidia-smi reports whole percent, the simulator tenths),
// memory to whole MiB, allocation to whole milli-GPU. A rollup keeps the sums of its samples'
// (quantised) utilisation and allocation and their count, not means: integers, so rollups of
// rollups and reads over any mix of tiers give exactly the means of the raw samples. Values are
// clamped to their ranges; a non-finite value is refused.
import { deflateRawSync, inflateRawSync, constants } from 'node:zlib';
import type { SampleBucket, SamplePoint, SampleRollup, UtilisationSample } from './port.js';
import { HOUR_MS, MINUTE_MS, TIER_RESOLUTION_MS, floorTo, type SampleSource, type SampleTier } from './sample-tiers.js';

const DAY_MS = 24 * HOUR_MS;

/**
 * How much time one block row holds, per tier. Raw: 10 minutes (a 5 s heartbeat of 8 GPUs
 * appends ~80 bytes; the open tail stays under 12 KiB). Minutes: 6 hours; hours: a day. Each
 * divides the next, so tier seams fall on block edges.
 */
export const BLOCK_MS: Readonly<Record<SampleTier, number>> = { raw: 10 * MINUTE_MS, minute: 6 * HOUR_MS, hour: DAY_MS };

/** Tiers in the `tier` column. */
export const TIERS: readonly SampleTier[] = ['raw', 'minute', 'hour'];

/** Fixed-point scale of utilisation: stored = round(percent × 10). */
const UTIL_SCALE = 10;
/** Upper bounds before scaling: memory up to 16 TiB in MiB, allocation up to 1,000,000 milli. */
const MAX_MEM = 2 ** 24;
const MAX_ALLOC = 1_000_000;
const MAX_GPU = 4095;

/** The first byte of a body: its format. A body of zero bytes holds nothing. */
const BODY_V1 = 1;

/** One record of a block: a GPU's sample (raw) or rollup, values as stored (integers). */
export interface BlockRecord {
  at: number;
  gpu: number;
  /** Σ utilisation × 10 over the samples behind it. */
  util: number;
  /** Highest memory used, MiB. */
  mem: number;
  /** Σ milli-GPU allocated over the samples behind it. */
  alloc: number;
  /** Raw samples behind it: 1 for raw records. */
  n: number;
}

export const blockStart = (tier: SampleTier, at: number): number => floorTo(at, BLOCK_MS[tier]);

function field(name: string, v: number): number {
  if (!Number.isFinite(v)) throw new Error(`utilisation sample: ${name} must be a finite number, got ${String(v)}`);
  return v;
}
const clampRound = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, Math.round(v)));

/** A sample (raw) or rollup (minute, hour) as a record of `tier`: quantised and clamped. */
export function toRecord(tier: SampleTier, x: UtilisationSample | SampleRollup): BlockRecord {
  const at = field('at', x.at);
  const gpu = field('gpuIndex', x.gpuIndex);
  if (!Number.isInteger(gpu) || gpu < 0 || gpu > MAX_GPU) throw new Error(`utilisation sample: gpuIndex must be an integer 0..${MAX_GPU}, got ${gpu}`);
  const n = clampRound('samples' in x ? field('samples', x.samples) : 1, 1, 2 ** 31);
  return {
    at: tier === 'raw' ? Math.trunc(at) : floorTo(at, TIER_RESOLUTION_MS[tier]),
    gpu,
    util: clampRound(field('utilPercent', x.utilPercent) * UTIL_SCALE * n, 0, 100 * UTIL_SCALE * n),
    mem: clampRound(field('memoryUsedMiB', x.memoryUsedMiB), 0, MAX_MEM),
    alloc: clampRound(field('allocatedMilli', x.allocatedMilli ?? 0) * n, 0, MAX_ALLOC * n),
    n,
  };
}

/** A stored record back as a rollup-shaped point (raw: samples 1). */
export function fromRecord(nodeId: string, r: BlockRecord): SampleRollup {
  return { at: r.at, nodeId, gpuIndex: r.gpu, utilPercent: r.util / UTIL_SCALE / r.n, memoryUsedMiB: r.mem, allocatedMilli: r.alloc / r.n, samples: r.n };
}

// ---- varints

class Writer {
  buf = new Uint8Array(256);
  len = 0;
  uint(v: number): void {
    if (this.len + 8 > this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    // Values stay below 2^53; division, not bit shifts, past 31 bits.
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
  }
  /** Zigzag: small negative deltas stay small. */
  int(v: number): void {
    this.uint(v < 0 ? -2 * v - 1 : 2 * v);
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

class Reader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  uint(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('sample block: truncated varint');
      const b = this.buf[this.pos++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 0x80;
      if (mul > 2 ** 56) throw new Error('sample block: varint too long');
    }
  }
  int(): number {
    const z = this.uint();
    return z % 2 === 1 ? -(z + 1) / 2 : z / 2;
  }
}

// ---- tail: records as appended, row by row

/** Records appended to a block's tail: (at − start) / resolution, gpu, util, mem, alloc[, n]. */
export function encodeTail(tier: SampleTier, start: number, records: readonly BlockRecord[]): Buffer {
  const w = new Writer();
  const unit = TIER_RESOLUTION_MS[tier];
  for (const r of records) {
    const off = (r.at - start) / unit;
    if (off < 0 || off >= BLOCK_MS[tier] / unit) throw new Error(`sample block: record at ${r.at} is outside the ${tier} block at ${start}`);
    w.uint(off);
    w.uint(r.gpu);
    w.uint(r.util);
    w.uint(r.mem);
    w.uint(r.alloc);
    if (tier !== 'raw') w.uint(r.n);
  }
  return Buffer.from(w.bytes());
}

function decodeTail(tier: SampleTier, start: number, tail: Uint8Array, out: BlockRecord[]): void {
  const rd = new Reader(tail);
  const unit = TIER_RESOLUTION_MS[tier];
  const raw = tier === 'raw';
  while (!rd.done) {
    const at = start + rd.uint() * unit;
    const gpu = rd.uint();
    const util = rd.uint();
    const mem = rd.uint();
    const alloc = rd.uint();
    out.push({ at, gpu, util, mem, alloc, n: raw ? 1 : rd.uint() });
  }
}

// ---- body: sealed, one series per GPU, each column delta-coded, then deflated

/**
 * The sealed form of a block's records: per GPU (ascending), the count, then each column as
 * zigzag deltas (times in the tier's resolution from the block start, in time order), deflated.
 * Columns of small deltas are what deflate shrinks best: steady 5 s heartbeats and slowly moving
 * values come to about a byte a sample.
 */
export function encodeBody(tier: SampleTier, start: number, records: readonly BlockRecord[]): Buffer {
  if (records.length === 0) return Buffer.alloc(0);
  const unit = TIER_RESOLUTION_MS[tier];
  const sorted = [...records].sort((a, b) => a.gpu - b.gpu || a.at - b.at);
  const w = new Writer();
  const series: [number, number][] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j < sorted.length && sorted[j]!.gpu === sorted[i]!.gpu) j++;
    series.push([i, j]);
    i = j;
  }
  w.uint(series.length);
  for (const [i, j] of series) {
    w.uint(sorted[i]!.gpu);
    w.uint(j - i);
    const col = (get: (r: BlockRecord) => number, first: number): void => {
      let prev = first;
      for (let k = i; k < j; k++) {
        const v = get(sorted[k]!);
        w.int(v - prev);
        prev = v;
      }
    };
    col((r) => (r.at - start) / unit, 0);
    col((r) => r.util, 0);
    col((r) => r.mem, 0);
    col((r) => r.alloc, 0);
    if (tier !== 'raw') col((r) => r.n, 0);
  }
  const packed = deflateRawSync(w.bytes(), { level: 6, strategy: constants.Z_DEFAULT_STRATEGY });
  const out = Buffer.allocUnsafe(packed.length + 1);
  out[0] = BODY_V1;
  packed.copy(out, 1);
  return out;
}

function decodeBody(tier: SampleTier, start: number, body: Uint8Array, out: BlockRecord[]): void {
  if (body.length === 0) return;
  if (body[0] !== BODY_V1) throw new Error(`sample block: unknown body format ${body[0]}`);
  const rd = new Reader(inflateRawSync(body.subarray(1)));
  const unit = TIER_RESOLUTION_MS[tier];
  const raw = tier === 'raw';
  const nSeries = rd.uint();
  for (let s = 0; s < nSeries; s++) {
    const gpu = rd.uint();
    const count = rd.uint();
    const base = out.length;
    let v = 0;
    for (let k = 0; k < count; k++) {
      v += rd.int();
      out.push({ at: start + v * unit, gpu, util: 0, mem: 0, alloc: 0, n: 1 });
    }
    const col = (set: (r: BlockRecord, x: number) => void): void => {
      let x = 0;
      for (let k = 0; k < count; k++) {
        x += rd.int();
        set(out[base + k]!, x);
      }
    };
    col((r, x) => (r.util = x));
    col((r, x) => (r.mem = x));
    col((r, x) => (r.alloc = x));
    if (!raw) col((r, x) => (r.n = x));
  }
}

/** Every record of a block row: the sealed body's, then the tail's in the order appended. */
export function decodeBlock(tier: SampleTier, start: number, body: Uint8Array, tail: Uint8Array): BlockRecord[] {
  const out: BlockRecord[] = [];
  decodeBody(tier, start, body, out);
  decodeTail(tier, start, tail, out);
  return out;
}

/** Groups records by block start; the caller writes one row per (block, node). */
export function byBlock<T extends { at: number }>(tier: SampleTier, xs: readonly T[]): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const x of xs) {
    const b = blockStart(tier, x.at);
    const list = out.get(b);
    if (list) list.push(x);
    else out.set(b, [x]);
  }
  return out;
}

// ---- rollups

/**
 * Rolls records of the finer tier up into `tier`'s units (per GPU): sums and counts add up,
 * memory is the highest. Only records in [from, to) count.
 */
export function rollUp(tier: Exclude<SampleTier, 'raw'>, records: readonly BlockRecord[], from: number, to: number): BlockRecord[] {
  const unit = TIER_RESOLUTION_MS[tier];
  const acc = new Map<number, Map<number, BlockRecord>>();
  for (const r of records) {
    if (r.at < from || r.at >= to) continue;
    const at = floorTo(r.at, unit);
    let byGpu = acc.get(at);
    if (!byGpu) acc.set(at, (byGpu = new Map()));
    const a = byGpu.get(r.gpu);
    if (a) {
      a.util += r.util;
      a.alloc += r.alloc;
      a.mem = Math.max(a.mem, r.mem);
      a.n += r.n;
    } else byGpu.set(r.gpu, { ...r, at });
  }
  return [...acc.values()].flatMap((m) => [...m.values()]);
}

// ---- reads

/** A block row as read for a bucketed read. Rows must come grouped by node (ORDER BY node_id). */
export interface BlockRow {
  tier: SampleTier;
  start: number;
  nodeId: string;
  body: Uint8Array;
  tail: Uint8Array;
}

/**
 * Buckets records as they are read: per GPU and bucket, weighted sums; and, for detail `pool`,
 * each node's GPUs folded into the pool's per-bucket totals as soon as the next node starts, so
 * that no per-GPU row is ever built. A record counts in the bucket where it starts, and only
 * when it starts inside [from, to] and inside the part of the time line its tier answers
 * (`sources`): nothing from before `from` is pulled into the first bucket.
 */
export class BucketAccumulator {
  private readonly n: number;
  private node: string | null = null;
  /** Per GPU of the current node: Σ util, Σ alloc, n, max mem per bucket. */
  private gpus = new Map<number, Float64Array>();
  private readonly points: SamplePoint[] = [];
  private readonly pool: { gpus: Float64Array; util: Float64Array; alloc: Float64Array };
  private readonly ranges: Record<SampleTier, [number, number] | null> = { raw: null, minute: null, hour: null };

  constructor(
    private readonly q: { from: number; to: number; bucketMs: number; detail: 'gpu' | 'pool' },
    sources: readonly SampleSource[],
  ) {
    this.n = Math.max(1, Math.floor((q.to - q.from) / q.bucketMs) + 1);
    this.pool = { gpus: new Float64Array(this.n), util: new Float64Array(this.n), alloc: new Float64Array(this.n) };
    for (const s of sources) this.ranges[s.tier] = [s.from, s.to];
  }

  add(row: BlockRow): void {
    const range = this.ranges[row.tier];
    if (!range) return;
    if (row.nodeId !== this.node) this.flushNode(row.nodeId);
    const lo = Math.max(range[0], this.q.from);
    const hi = Math.min(range[1], this.q.to);
    const { from, bucketMs } = this.q;
    for (const r of decodeBlock(row.tier, row.start, row.body, row.tail)) {
      if (r.at < lo || r.at > hi) continue;
      let acc = this.gpus.get(r.gpu);
      if (!acc) this.gpus.set(r.gpu, (acc = new Float64Array(this.n * 4)));
      const b = Math.floor((r.at - from) / bucketMs) * 4;
      acc[b] = acc[b]! + r.util;
      acc[b + 1] = acc[b + 1]! + r.alloc;
      acc[b + 2] = acc[b + 2]! + r.n;
      if (r.mem > acc[b + 3]!) acc[b + 3] = r.mem;
    }
  }

  /** Per-GPU points by bucket, node, GPU (detail `gpu`). */
  resultPoints(): SamplePoint[] {
    this.flushNode(null);
    return this.points.sort((a, b) => a.at - b.at || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : a.gpuIndex - b.gpuIndex));
  }

  /** Each bucket's totals across GPUs (detail `pool`). */
  resultBuckets(): SampleBucket[] {
    this.flushNode(null);
    const out: SampleBucket[] = [];
    const p = this.pool;
    for (let i = 0; i < this.n; i++) {
      if (p.gpus[i] === 0) continue;
      out.push({ at: this.q.from + i * this.q.bucketMs, gpus: p.gpus[i]!, utilPercent: p.util[i]! / p.gpus[i]!, allocatedMilli: p.alloc[i]! });
    }
    return out;
  }

  private flushNode(next: string | null): void {
    const node = this.node;
    this.node = next;
    if (node === null) return;
    const gpus = [...this.gpus.entries()].sort((a, b) => a[0] - b[0]);
    this.gpus = new Map();
    const { from, bucketMs } = this.q;
    for (const [gpu, acc] of gpus) {
      for (let i = 0; i < this.n; i++) {
        const n = acc[i * 4 + 2]!;
        if (n === 0) continue;
        const util = acc[i * 4]! / UTIL_SCALE / n;
        const alloc = acc[i * 4 + 1]! / n;
        if (this.q.detail === 'pool') {
          this.pool.gpus[i]! += 1;
          this.pool.util[i]! += util;
          this.pool.alloc[i]! += Math.round(alloc);
        } else {
          this.points.push({ at: from + i * bucketMs, nodeId: node, gpuIndex: gpu, utilPercent: util, memoryUsedMiB: acc[i * 4 + 3]!, allocatedMilli: alloc, samples: n });
        }
      }
    }
  }
}
