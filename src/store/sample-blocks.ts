// Utilisation samples stored in blocks: one row per node, tier and block of time, holding that
// node's samples (every GPU) of the block as a packed array. Store-agnostic: the codec and the
// read-side aggregation live here, and each adapter only moves rows. The schema, the same on
// SQLite (BLOB) and Postgres (bytea):
//
//   CREATE TABLE sample_blocks (
//     tier    TEXT    NOT NULL,  -- 'raw' | 'minute' | 'hour'
//     start   BIGINT  NOT NULL,  -- block start, epoch ms, a multiple of BLOCK_MS[tier]
//     node_id TEXT    NOT NULL,
//     tail    BLOB    NOT NULL,  -- records appended since: encodeTail (row by row, plain varints)
//     body    BLOB    NOT NULL,  -- sealed records: encodeBody (columnar, packed: sample-codec.ts)
//     PRIMARY KEY (tier, start, node_id)
//   );
//   CREATE TABLE sample_marks (name TEXT PRIMARY KEY, at BIGINT NOT NULL);
//
// - Appends go into `tail` in place, in the caller's transaction:
//     INSERT INTO sample_blocks (tier, start, node_id, tail, body) VALUES (tier, start, node, $tail, x'')
//       ON CONFLICT (tier, start, node_id) DO UPDATE SET tail = sample_blocks.tail || excluded.tail
//   so a committed sample is never lost (no buffer in memory: the crash-loss bound is zero), a
//   late sample lands in the block it belongs to, and several servers may append to one store.
// - Compaction seals a block once its time is over: body := encodeBody(body ∪ tail), tail := ''.
//   A sealed block costs about 2 bytes a raw sample; a tail about 10 until it is sealed.
// - Retention deletes whole blocks (a block goes once all of it is older than the window).
// - sample_marks: 'minute' / 'hour' (rolled up through), 'pruned:raw' / 'pruned:minute' (every
//   block before is deleted, or may be), 'sealed:<tier>' (blocks before are sealed).
//
// Quantisation: utilisation to 0.1 % (nvidia-smi reports whole percent, the simulator tenths),
// memory to whole MiB, allocation to whole milli-GPU. A rollup keeps the sums of its samples'
// (quantised) utilisation and allocation and their count, not means: integers, so rollups of
// rollups and reads over any mix of tiers give exactly the means of the raw samples. Values are
// clamped to their ranges; a non-finite value is refused.
import { inflateRawSync } from 'node:zlib';
import type { GpuSeries, SampleBucket, SampleDetail, SamplePoint, SampleRollup, SampleSeries, UtilisationSample } from './port.js';
import { POOL_NODE, PoolBuckets } from './sample-pool.js';
import { ByteWriter, packDeltas, readUint, skipDeltas, unpackDeltas, unzig } from './sample-codec.js';
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

/**
 * The first byte of a body: its format. A body of zero bytes holds nothing. 1: varint columns,
 * deflated (still read: stores sealed before format 2); 2: PFOR columns (sample-codec.ts), what
 * sealing writes now.
 */
const BODY_V1 = 1;
const BODY_V2 = 2;

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

// ---- tail: records as appended, row by row

/** Records appended to a block's tail: (at − start) / resolution, gpu, util, mem, alloc[, n]. */
export function encodeTail(tier: SampleTier, start: number, records: readonly BlockRecord[]): Buffer {
  const w = new ByteWriter();
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

/** One block's run of records in columns that come by time: its start, and records lo..hi-1. */
export interface BlockRun {
  start: number;
  lo: number;
  hi: number;
}

/** `cols`' records (by time, as rollups come) cut into runs of one block each. */
export function blockRuns(tier: SampleTier, cols: RecordColumns): BlockRun[] {
  const out: BlockRun[] = [];
  for (let i = 0; i < cols.length; ) {
    const start = blockStart(tier, cols.at[i]!);
    const end = start + BLOCK_MS[tier];
    const lo = i;
    while (i < cols.length && cols.at[i]! >= start && cols.at[i]! < end) i++;
    out.push({ start, lo, hi: i });
  }
  return out;
}

/** The tail that appends one run's records to its block. */
export function tailOf(tier: SampleTier, cols: RecordColumns, run: BlockRun): Buffer {
  const unit = TIER_RESOLUTION_MS[tier];
  const w = new ByteWriter();
  for (let i = run.lo; i < run.hi; i++) {
    w.uint((cols.at[i]! - run.start) / unit);
    w.uint(cols.gpu[i]!);
    w.uint(cols.util[i]!);
    w.uint(cols.mem[i]!);
    w.uint(cols.alloc[i]!);
    if (tier !== 'raw') w.uint(cols.n[i]!);
  }
  return Buffer.from(w.bytes());
}

/**
 * The tails that append `cols`' records to their blocks: one per run of records in one block
 * (rollups come by time: one a block), each with its block start.
 */
export function tailsOf(tier: SampleTier, cols: RecordColumns): [number, Buffer][] {
  return blockRuns(tier, cols).map((r) => [r.start, tailOf(tier, cols, r)]);
}

/** bodyOf's copy of one run, reused (encoding is synchronous). */
let runScratch: RecordColumns | null = null;

/** The sealed body of one run's records: for a block whose records all come at once (compaction). */
export function bodyOf(tier: SampleTier, cols: RecordColumns, run: BlockRun): Buffer {
  const c = (runScratch ??= new RecordColumns());
  c.clear();
  c.reserve(run.hi - run.lo);
  for (let i = run.lo; i < run.hi; i++) c.push(cols.at[i]!, cols.gpu[i]!, cols.util[i]!, cols.mem[i]!, cols.alloc[i]!, cols.n[i]!);
  return encodeColumns(tier, run.start, c);
}

/** Scratch for decoded varints, grown as needed (decoding is synchronous: one user at a time). */
let scratch = new Float64Array(4096);

/**
 * Every varint of `buf`, unsigned, into `scratch`; returns how many. One tight loop over the
 * bytes: a read of a day of samples decodes millions of them.
 */
function varints(buf: Uint8Array): number {
  if (scratch.length < buf.length) scratch = new Float64Array(Math.max(buf.length, scratch.length * 2));
  const out = scratch;
  let n = 0;
  let v = 0;
  let mul = 1;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if (b < 0x80) {
      out[n++] = v + b * mul;
      v = 0;
      mul = 1;
    } else {
      v += (b & 0x7f) * mul;
      mul *= 0x80;
      if (mul > 2 ** 56) throw new Error('sample block: varint too long');
    }
  }
  if (mul !== 1) throw new Error('sample block: truncated varint');
  return n;
}

function decodeTail(tier: SampleTier, start: number, tail: Uint8Array, out: RecordColumns): void {
  if (tail.length === 0) return;
  const count = varints(tail);
  const unit = TIER_RESOLUTION_MS[tier];
  const width = tier === 'raw' ? 5 : 6;
  if (count % width !== 0) throw new Error('sample block: truncated tail');
  const v = scratch;
  // Room once, then straight into the columns (push checked the room a record).
  out.reserve(count / width);
  let i = out.length;
  for (let k = 0; k < count; k += width, i++) {
    out.at[i] = start + v[k]! * unit;
    out.gpu[i] = v[k + 1]!;
    out.util[i] = v[k + 2]!;
    out.mem[i] = v[k + 3]!;
    out.alloc[i] = v[k + 4]!;
    out.n[i] = width === 5 ? 1 : v[k + 5]!;
  }
  out.length = i;
}

/**
 * Decoded records, column by column in typed arrays, reused from block to block: a read of a
 * million samples builds no object per sample.
 */
export class RecordColumns {
  length = 0;
  at = new Float64Array(1024);
  gpu = new Int32Array(1024);
  util = new Float64Array(1024);
  mem = new Float64Array(1024);
  alloc = new Float64Array(1024);
  n = new Float64Array(1024);

  clear(): void {
    this.length = 0;
  }

  /** Room for `more` records after the current ones. */
  reserve(more: number): void {
    const need = this.length + more;
    if (need <= this.at.length) return;
    let size = this.at.length;
    while (size < need) size *= 2;
    const grow = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a.subarray(0, this.length));
      return b;
    };
    this.at = grow(this.at, (k) => new Float64Array(k));
    this.gpu = grow(this.gpu, (k) => new Int32Array(k));
    this.util = grow(this.util, (k) => new Float64Array(k));
    this.mem = grow(this.mem, (k) => new Float64Array(k));
    this.alloc = grow(this.alloc, (k) => new Float64Array(k));
    this.n = grow(this.n, (k) => new Float64Array(k));
  }

  push(at: number, gpu: number, util: number, mem: number, alloc: number, n: number): void {
    this.reserve(1);
    const i = this.length++;
    this.at[i] = at;
    this.gpu[i] = gpu;
    this.util[i] = util;
    this.mem[i] = mem;
    this.alloc[i] = alloc;
    this.n[i] = n;
  }

  record(i: number): BlockRecord {
    return { at: this.at[i]!, gpu: this.gpu[i]!, util: this.util[i]!, mem: this.mem[i]!, alloc: this.alloc[i]!, n: this.n[i]! };
  }
}

// ---- body: sealed, one series per GPU, each column delta-coded and packed (sample-codec.ts)

/**
 * The order of `c`'s records by GPU, then time; records of equal GPU and time keep their order.
 * A counting sort by GPU (a node has a few), then each GPU's run sorted by time only where it
 * is not already: appends and rollups come by time, so sealing a block sorts nothing.
 */
function recordOrder(c: RecordColumns): Int32Array {
  const len = c.length;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < len; i++) {
    const g = c.gpu[i]!;
    if (g < lo) lo = g;
    if (g > hi) hi = g;
  }
  const starts = new Int32Array(hi - lo + 2);
  for (let i = 0; i < len; i++) starts[c.gpu[i]! - lo + 1]!++;
  for (let g = 1; g < starts.length; g++) starts[g]! += starts[g - 1]!;
  const order = new Int32Array(len);
  const next = starts.slice();
  for (let i = 0; i < len; i++) order[next[c.gpu[i]! - lo]!++] = i;
  for (let g = 0; g + 1 < starts.length; g++) {
    const from = starts[g]!;
    const to = starts[g + 1]!;
    let sorted = true;
    for (let k = from + 1; k < to && sorted; k++) sorted = c.at[order[k - 1]!]! <= c.at[order[k]!]!;
    if (!sorted) order.subarray(from, to).set(Array.from(order.subarray(from, to)).sort((x, y) => c.at[x]! - c.at[y]! || x - y));
  }
  return order;
}

/** encodeColumns' scratch: one column in record order. */
let encodeScratch = new Float64Array(1024);

/**
 * The sealed form of a block's records (format 2): per GPU (ascending), the GPU and count, then
 * each column packed as deltas or deltas of deltas (sample-codec.ts): times in the tier's
 * resolution from the block start (a steady heartbeat is all zeros), then the values.
 * About 2 bytes a raw sample of real telemetry, decoded without zlib.
 */
export function encodeBody(tier: SampleTier, start: number, records: readonly BlockRecord[]): Buffer {
  const c = new RecordColumns();
  c.reserve(records.length);
  for (const r of records) c.push(r.at, r.gpu, r.util, r.mem, r.alloc, r.n);
  return encodeColumns(tier, start, c);
}

/** encodeBody from decoded columns (sealing: no object a record). */
export function encodeColumns(tier: SampleTier, start: number, c: RecordColumns): Buffer {
  const len = c.length;
  if (len === 0) return Buffer.alloc(0);
  const unit = TIER_RESOLUTION_MS[tier];
  const order = recordOrder(c);
  if (encodeScratch.length < len) encodeScratch = new Float64Array(len * 2);
  const col = encodeScratch;
  const w = new ByteWriter();
  w.byte(BODY_V2);
  let nSeries = 0;
  for (let k = 0; k < len; k++) if (k === 0 || c.gpu[order[k]!] !== c.gpu[order[k - 1]!]) nSeries++;
  w.uint(nSeries);
  for (let i = 0; i < len; ) {
    const gpu = c.gpu[order[i]!]!;
    let j = i;
    while (j < len && c.gpu[order[j]!] === gpu) j++;
    w.uint(gpu);
    w.uint(j - i);
    for (let k = i; k < j; k++) col[k] = (c.at[order[k]!]! - start) / unit;
    packDeltas(w, col, i, j);
    for (const values of tier === 'raw' ? [c.util, c.mem, c.alloc] : [c.util, c.mem, c.alloc, c.n]) {
      for (let k = i; k < j; k++) col[k] = values[order[k]!]!;
      packDeltas(w, col, i, j);
    }
    i = j;
  }
  return Buffer.from(w.bytes());
}

/** Format 2: straight into the columns of `out`, a column at a time; memory left out (0) when `noMem`. */
function decodeBodyV2(tier: SampleTier, start: number, body: Uint8Array, out: RecordColumns, noMem: boolean): void {
  const unit = TIER_RESOLUTION_MS[tier];
  let [nSeries, p] = readUint(body, 1);
  for (let s = 0; s < nSeries; s++) {
    let gpu: number;
    let count: number;
    [gpu, p] = readUint(body, p);
    [count, p] = readUint(body, p);
    if (count > body.length * 8) throw new Error('sample block: malformed body');
    out.reserve(count);
    const o = out.length;
    p = unpackDeltas(body, p, out.at, o, count, unit, start);
    p = unpackDeltas(body, p, out.util, o, count);
    if (noMem) {
      p = skipDeltas(body, p, count);
      out.mem.fill(0, o, o + count);
    } else p = unpackDeltas(body, p, out.mem, o, count);
    p = unpackDeltas(body, p, out.alloc, o, count);
    if (tier === 'raw') out.n.fill(1, o, o + count);
    else p = unpackDeltas(body, p, out.n, o, count);
    out.gpu.fill(gpu, o, o + count);
    out.length = o + count;
  }
  if (p !== body.length) throw new Error('sample block: trailing bytes in body');
}

/** Format 1 (varints, deflated): bodies sealed before format 2. */
function decodeBodyV1(tier: SampleTier, start: number, body: Uint8Array, out: RecordColumns): void {
  const total = varints(inflateRawSync(body.subarray(1)));
  const v = scratch;
  const unit = TIER_RESOLUTION_MS[tier];
  const width = tier === 'raw' ? 4 : 5;
  let p = 0;
  const nSeries = v[p++]!;
  for (let s = 0; s < nSeries; s++) {
    const gpu = v[p++]!;
    const count = v[p++]!;
    if (p + count * width > total) throw new Error('sample block: truncated body');
    // The columns lie one after the other, each a running sum of zigzag deltas.
    const pu = p + count;
    const pm = pu + count;
    const pa = pm + count;
    const pn = pa + count;
    let at = 0;
    let util = 0;
    let mem = 0;
    let alloc = 0;
    let n = width === 4 ? 1 : 0;
    for (let k = 0; k < count; k++) {
      at += unzig(v[p + k]!);
      util += unzig(v[pu + k]!);
      mem += unzig(v[pm + k]!);
      alloc += unzig(v[pa + k]!);
      if (width === 5) n += unzig(v[pn + k]!);
      out.push(start + at * unit, gpu, util, mem, alloc, n);
    }
    p += count * width;
  }
}

function decodeBody(tier: SampleTier, start: number, body: Uint8Array, out: RecordColumns, noMem: boolean): void {
  if (body.length === 0) return;
  if (body[0] === BODY_V2) decodeBodyV2(tier, start, body, out, noMem);
  else if (body[0] === BODY_V1) decodeBodyV1(tier, start, body, out);
  else throw new Error(`sample block: unknown body format ${body[0]}`);
}

/**
 * Appends every record of a block row to `out`: the sealed body's, then the tail's in the order
 * appended. `noMem`: a read that needs no memory may leave it out of sealed bodies (pool totals).
 */
export function decodeInto(tier: SampleTier, start: number, body: Uint8Array, tail: Uint8Array, out: RecordColumns, noMem = false): void {
  decodeBody(tier, start, body, out, noMem);
  decodeTail(tier, start, tail, out);
}

/** Every record of a block row, as objects (compaction, listings, tests). */
export function decodeBlock(tier: SampleTier, start: number, body: Uint8Array, tail: Uint8Array): BlockRecord[] {
  const cols = new RecordColumns();
  decodeInto(tier, start, body, tail, cols);
  return Array.from({ length: cols.length }, (_, i) => cols.record(i));
}

/** sealBlock's decoded records, reused (sealing is synchronous: one block at a time). */
const sealScratch = new RecordColumns();

/** A block row's sealed body: its body's and tail's records, packed (format 2). */
export function sealBlock(tier: SampleTier, start: number, body: Uint8Array, tail: Uint8Array): Buffer {
  sealScratch.clear();
  decodeInto(tier, start, body, tail, sealScratch);
  return encodeColumns(tier, start, sealScratch);
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
 * memory is the highest. Only records in [from, to) count. Records come in runs of one GPU and
 * unit (a sealed body's series, by time): a run is summed in locals and written once, which
 * the first compaction of a day of raw samples (17 M of them at 1,000 GPUs) feels.
 */
export function rollUp(tier: Exclude<SampleTier, 'raw'>, records: RecordColumns, from: number, to: number): BlockRecord[] {
  const out = new RecordColumns();
  rollUpInto(tier, records, from, to, out);
  return Array.from({ length: out.length }, (_, i) => out.record(i));
}

/** rollUp into `out` (appended, by unit, then GPU): compaction builds no object a rollup. */
export function rollUpInto(tier: Exclude<SampleTier, 'raw'>, records: RecordColumns, from: number, to: number, out: RecordColumns): void {
  const unit = TIER_RESOLUTION_MS[tier];
  const first = floorTo(from, unit);
  const units = Math.max(0, Math.ceil((to - first) / unit));
  const byGpu = new Map<number, Float64Array>();
  // Times are whole milliseconds: [from, to) is [from, to − 1].
  sumRuns(records, from, to - 1, first, unit, (g) => {
    let acc = byGpu.get(g);
    if (!acc) byGpu.set(g, (acc = new Float64Array(units * 4)));
    return acc;
  });
  const gpus = [...byGpu.keys()].sort((x, y) => x - y);
  const accs = gpus.map((g) => byGpu.get(g)!);
  for (let u = 0; u < units; u++) {
    for (let x = 0; x < gpus.length; x++) {
      const acc = accs[x]!;
      const cnt = acc[u * 4 + 2]!;
      if (cnt > 0) out.push(first + u * unit, gpus[x]!, acc[u * 4]!, acc[u * 4 + 3]!, acc[u * 4 + 1]!, cnt);
    }
  }
}

/**
 * Adds the records of `c` that start in [lo, hi] to their GPU's accumulator (`accFor`, asked
 * once a run), four values a slot of `slotMs` from `origin`: Σ util, Σ alloc, Σ n, max mem.
 * A GPU's run of records in one slot is summed in locals and written once (records of a
 * series come by time; a tail's come by time too, GPUs interleaved, and start a run each):
 * half the time of adding each record to its slot in memory, over a day of raw samples or
 * minutes at 1,000 GPUs. The run's flush is written out twice, not as a closure: locals that
 * a closure writes live in a heap context (that cost the first compaction about a second).
 */
function sumRuns(c: RecordColumns, lo: number, hi: number, origin: number, slotMs: number, accFor: (gpu: number) => Float64Array): void {
  const { at, util, alloc, mem, n, gpu: gpuCol } = c;
  let gpu = -1;
  let a: Float64Array = NO_ACC;
  let k = -1;
  let start = Infinity;
  let end = -Infinity;
  let su = 0;
  let sa = 0;
  let sn = 0;
  let sm = 0;
  for (let i = 0; i < c.length; i++) {
    const t = at[i]!;
    if (t < lo || t > hi) continue;
    const g = gpuCol[i]!;
    if (g !== gpu || t < start || t >= end) {
      if (k >= 0) {
        a[k] = a[k]! + su;
        a[k + 1] = a[k + 1]! + sa;
        a[k + 2] = a[k + 2]! + sn;
        if (sm > a[k + 3]!) a[k + 3] = sm;
      }
      if (g !== gpu) {
        gpu = g;
        a = accFor(g);
      }
      const slot = Math.floor((t - origin) / slotMs);
      start = origin + slot * slotMs;
      end = start + slotMs;
      k = slot * 4;
      su = 0;
      sa = 0;
      sn = 0;
      sm = 0;
    }
    su += util[i]!;
    sa += alloc[i]!;
    sn += n[i]!;
    if (mem[i]! > sm) sm = mem[i]!;
  }
  if (k >= 0) {
    a[k] = a[k]! + su;
    a[k + 1] = a[k + 1]! + sa;
    a[k + 2] = a[k + 2]! + sn;
    if (sm > a[k + 3]!) a[k + 3] = sm;
  }
}

const NO_ACC: Float64Array = new Float64Array(0);

/** A plain array of `n` numbers (zeros), to be filled in place: no holes, one allocation. */
const column = (n: number): number[] => new Array<number>(n).fill(0);

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
 * Buckets records as they are read: per GPU and bucket, running sums in typed arrays; and, for
 * detail `pool`, each node's GPUs folded into the pool's per-bucket totals as soon as the next
 * node starts, so that no per-GPU row is ever built. Rows must come grouped by node. A record
 * counts in the bucket where it starts, and only when it starts inside [from, to] and inside
 * the part of the time line its tier answers (`sources`): nothing from before `from` is drawn
 * into the first bucket.
 */
export class BucketAccumulator {
  private readonly n: number;
  private node: string | null = null;
  /** Per GPU of the current node: Σ util, Σ alloc, n, max mem per bucket. */
  private gpus = new Map<number, Float64Array>();
  /** Detail gpu: every node's GPUs, by node in the order read. */
  private readonly kept: { node: string; gpus: [number, Float64Array][] }[] = [];
  private readonly pool: { gpus: Float64Array; util: Float64Array; alloc: Float64Array; samples: Float64Array };
  /** Pool rollups read (sample-pool.ts), and the totals above, combined per bucket. */
  private readonly pooled: PoolBuckets;
  private readonly ranges: Record<SampleTier, [number, number] | null> = { raw: null, minute: null, hour: null };
  /** Decoded records of the row being added, reused from row to row. */
  private readonly cols = new RecordColumns();
  /**
   * Detail pool: accumulators of nodes already folded into the totals, zeroed for the next
   * node's GPUs (a read of 1,000 GPUs would otherwise allocate and collect 1,000 of them).
   */
  private readonly spare: Float64Array[] = [];

  constructor(
    private readonly q: { from: number; to: number; bucketMs: number; detail: SampleDetail },
    sources: readonly SampleSource[],
  ) {
    this.n = Math.max(1, Math.floor((q.to - q.from) / q.bucketMs) + 1);
    this.pool = { gpus: new Float64Array(this.n), util: new Float64Array(this.n), alloc: new Float64Array(this.n), samples: new Float64Array(this.n) };
    this.pooled = new PoolBuckets(q, this.n);
    for (const s of sources) this.ranges[s.tier] = [s.from, s.to];
  }

  add(row: BlockRow): void {
    const range = this.ranges[row.tier];
    if (!range) return;
    const c = this.cols;
    c.clear();
    if (row.nodeId === POOL_NODE) {
      // A pool rollup row (detail pool reads them for the rollup tiers instead of every GPU's).
      if (this.q.detail !== 'pool') return;
      decodeInto(row.tier, row.start, row.body, row.tail, c);
      this.pooled.addRecords(c, Math.max(range[0], this.q.from), Math.min(range[1], this.q.to));
      return;
    }
    if (row.nodeId !== this.node) this.flushNode(row.nodeId);
    // Pool totals use no memory: its column is stepped over, not decoded.
    decodeInto(row.tier, row.start, row.body, row.tail, c, this.q.detail === 'pool');
    const lo = Math.max(range[0], this.q.from);
    const hi = Math.min(range[1], this.q.to);
    sumRuns(c, lo, hi, this.q.from, this.q.bucketMs, this.accFor);
  }

  /** The current node's accumulator of GPU `g` (sumRuns asks once a run). */
  private readonly accFor = (g: number): Float64Array => this.gpus.get(g) ?? this.newGpu(g);

  private newGpu(g: number): Float64Array {
    const a = this.spare.pop() ?? new Float64Array(this.n * 4);
    this.gpus.set(g, a);
    return a;
  }

  /** What the read gives for its detail (sources aside): points, series and/or bucket totals. */
  result(): Omit<SampleSeries, 'sources'> {
    this.flushNode(null);
    switch (this.q.detail) {
      case 'gpu':
        return { points: this.resultPoints() };
      case 'pool':
        return { points: [], buckets: this.resultBuckets() };
      case 'series':
        return { points: [], series: this.resultSeries(), buckets: this.resultBuckets() };
    }
  }

  /** Each GPU's accumulators, by node and GPU. */
  private sortedGpus(): { node: string; gpu: number; acc: Float64Array }[] {
    return this.kept
      .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
      .flatMap((k) => k.gpus.sort((a, b) => a[0] - b[0]).map(([gpu, acc]) => ({ node: k.node, gpu, acc })));
  }

  /** Per-GPU points by bucket, node, GPU (detail `gpu`). */
  private resultPoints(): SamplePoint[] {
    const series = this.sortedGpus();
    const points: SamplePoint[] = [];
    for (let i = 0; i < this.n; i++) {
      const at = this.q.from + i * this.q.bucketMs;
      for (const { node, gpu, acc } of series) {
        const n = acc[i * 4 + 2]!;
        if (n === 0) continue;
        points.push({ at, nodeId: node, gpuIndex: gpu, utilPercent: acc[i * 4]! / UTIL_SCALE / n, memoryUsedMiB: acc[i * 4 + 3]!, allocatedMilli: acc[i * 4 + 1]! / n, samples: n });
      }
    }
    return points;
  }

  /** One series of columns a GPU, by node and GPU (detail `series`): no object per point. */
  private resultSeries(): GpuSeries[] {
    // Arrays of their final size, filled in place: 1,000 GPUs in 240 buckets make 1.2 M values,
    // and growing arrays by push copied them over and over (the collector's time showed it).
    return this.sortedGpus().map(({ node, gpu, acc }) => {
      let points = 0;
      for (let i = 0; i < this.n; i++) if (acc[i * 4 + 2]! > 0) points++;
      const s: GpuSeries = { nodeId: node, gpuIndex: gpu, bucket: column(points), utilPercent: column(points), memoryUsedMiB: column(points), allocatedMilli: column(points), samples: column(points) };
      let j = 0;
      for (let i = 0; i < this.n; i++) {
        const n = acc[i * 4 + 2]!;
        if (n === 0) continue;
        s.bucket[j] = i;
        s.utilPercent[j] = acc[i * 4]! / UTIL_SCALE / n;
        s.memoryUsedMiB[j] = acc[i * 4 + 3]!;
        s.allocatedMilli[j] = acc[i * 4 + 1]! / n;
        s.samples[j] = n;
        j++;
      }
      return s;
    });
  }

  /** Each bucket's totals across GPUs (detail `pool`, `series`), pool rollups read included. */
  private resultBuckets(): SampleBucket[] {
    this.pooled.addTotals(this.pool.gpus, this.pool.util, this.pool.alloc, this.pool.samples);
    return this.pooled.result();
  }

  private flushNode(next: string | null): void {
    const node = this.node;
    this.node = next;
    if (node === null) return;
    const gpus = this.gpus;
    this.gpus = new Map();
    if (this.q.detail !== 'pool') this.kept.push({ node, gpus: [...gpus.entries()] });
    if (this.q.detail === 'gpu') return;
    const p = this.pool;
    for (const acc of gpus.values()) {
      for (let i = 0; i < this.n; i++) {
        const n = acc[i * 4 + 2]!;
        if (n === 0) continue;
        p.gpus[i]! += 1;
        p.util[i]! += acc[i * 4]! / UTIL_SCALE / n;
        p.alloc[i]! += Math.round(acc[i * 4 + 1]! / n);
        p.samples[i]! += n;
      }
      if (this.q.detail === 'pool') this.spare.push(acc.fill(0));
    }
  }
}
