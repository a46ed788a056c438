import { describe, expect, it } from 'vitest';
import {
  BLOCK_MS,
  BucketAccumulator,
  blockStart,
  decodeBlock,
  encodeBody,
  encodeTail,
  fromRecord,
  rollUp,
  rollUpInto,
  tailsOf,
  toRecord,
  RecordColumns,
  type BlockRecord,
} from './sample-blocks.js';
import { HOUR_MS, MINUTE_MS, hourRollEnd } from './sample-tiers.js';

const T0 = 1_700_000_400_000; // a raw block start
const columns = (rs: readonly BlockRecord[]): RecordColumns => {
  const c = new RecordColumns();
  for (const r of rs) c.push(r.at, r.gpu, r.util, r.mem, r.alloc, r.n);
  return c;
};
const rec = (at: number, gpu: number, util: number, mem = 0, alloc = 0, n = 1): BlockRecord => ({ at, gpu, util, mem, alloc, n });

/** A node's 10 minutes of heartbeats every 5 s, 8 GPUs, values drifting as real ones do. */
function heartbeats(): BlockRecord[] {
  const out: BlockRecord[] = [];
  for (let k = 0; k < 120; k++) {
    for (let g = 0; g < 8; g++) out.push(toRecord('raw', { at: T0 + k * 5000 + 37, nodeId: 'n', gpuIndex: g, utilPercent: (k * 7 + g * 13) % 101, memoryUsedMiB: 40_000 + ((k * 31) % 200), allocatedMilli: g < 4 ? 1000 : 250 }));
  }
  return out;
}

describe('sample blocks', () => {
  it('round-trips records through body and tail, body first, tail in order appended', () => {
    const body = [rec(T0 + 10, 1, 500, 3, 250), rec(T0, 0, 1000, 80_000, 1000), rec(T0 + 5, 1, 0, 2, 0)];
    const tail = [rec(T0 + 20, 0, 375), rec(T0 + 599_999, 7, 1, 1, 1)];
    const got = decodeBlock('raw', T0, encodeBody('raw', T0, body), Buffer.concat([encodeTail('raw', T0, tail.slice(0, 1)), encodeTail('raw', T0, tail.slice(1))]));
    expect(got).toEqual([rec(T0, 0, 1000, 80_000, 1000), rec(T0 + 5, 1, 0, 2, 0), rec(T0 + 10, 1, 500, 3, 250), ...tail]);
    expect(decodeBlock('raw', T0, Buffer.alloc(0), Buffer.alloc(0))).toEqual([]);
  });

  it('still reads bodies sealed in format 1 (varints, deflated), as stores sealed before format 2 hold them', () => {
    // Written by the format 1 encoder (the code before format 2) from these records.
    const raw = Buffer.from('01636260f39ae007830c3d8c30d8f091c50e0418c0801159550b13a6b22fcc607500', 'hex');
    const want: BlockRecord[] = [];
    for (let g = 0; g < 2; g++) for (let k = 0; k < 6; k++) want.push(rec(T0 + k * 5000 + 37, g, ((k * 7 + g * 13) % 101) * 10, 40_000 + k * 31, g * 250));
    expect(decodeBlock('raw', T0, raw, Buffer.alloc(0))).toEqual(want);
    const start = blockStart('minute', T0);
    const minute = Buffer.from('01636466ea6261dae4f6d2858fe597de4f3d094600', 'hex');
    expect(decodeBlock('minute', start, minute, Buffer.alloc(0))).toEqual([rec(T0 + 60_000, 3, 4505, 7, 3005, 12), rec(T0 + 120_000, 3, 100, 9, 0, 11)]);
    // Sealing again writes format 2, with the same records.
    expect(encodeBody('raw', T0, want)[0]).toBe(2);
    expect(decodeBlock('raw', T0, encodeBody('raw', T0, want), Buffer.alloc(0))).toEqual(want);
  });

  it('keeps rollup counts and times in the tier resolution', () => {
    const start = blockStart('minute', T0);
    const rs = [rec(start + 5 * MINUTE_MS, 2, 3333, 9, 12_345, 12), rec(start, 2, 1, 1, 1, 7)];
    expect(decodeBlock('minute', start, encodeBody('minute', start, rs), encodeTail('minute', start, rs))).toEqual([rs[1], rs[0], ...rs]);
  });

  it('quantises utilisation to 0.1 %, keeps rollups as sums, clamps, and refuses non-finite values', () => {
    const s = { at: T0 + 1.7, nodeId: 'n', gpuIndex: 0, utilPercent: 37.54, memoryUsedMiB: -5, allocatedMilli: 250.4 };
    expect(fromRecord('n', toRecord('raw', s))).toEqual({ at: T0 + 1, nodeId: 'n', gpuIndex: 0, utilPercent: 37.5, memoryUsedMiB: 0, allocatedMilli: 250, samples: 1 });
    expect(toRecord('minute', { ...s, at: T0 + 61_000, samples: 12 })).toEqual({ at: T0 + 60_000, gpu: 0, util: 4505, mem: 0, alloc: 3005, n: 12 });
    expect(fromRecord('n', toRecord('minute', { ...s, at: T0 + 61_000, samples: 12 }))).toMatchObject({ at: T0 + 60_000, utilPercent: 37.541666666666664, samples: 12 });
    expect(toRecord('raw', { ...s, utilPercent: 140 }).util).toBe(1000);
    expect(() => toRecord('raw', { ...s, utilPercent: Number.NaN })).toThrow(/utilPercent must be a finite number/);
    expect(() => toRecord('raw', { ...s, gpuIndex: 1.5 })).toThrow(/gpuIndex must be an integer/);
  });

  it('refuses a record outside its block', () => {
    expect(() => encodeTail('raw', T0, [rec(T0 + BLOCK_MS.raw, 0, 1)])).toThrow(/outside the raw block/);
  });

  it('packs steady heartbeats to under 2 bytes a sample', () => {
    const rs = heartbeats();
    const body = encodeBody('raw', T0, rs);
    expect(body.length / rs.length).toBeLessThan(2);
    expect(decodeBlock('raw', T0, body, Buffer.alloc(0))).toEqual([...rs].sort((a, b) => a.gpu - b.gpu || a.at - b.at));
  });

  it('rolls raw records up into minutes and minutes into hours: sums and counts add, memory the highest', () => {
    const raw = [rec(T0, 0, 100), rec(T0 + 30_000, 0, 300, 7, 1000), rec(T0 + 60_000, 0, 900), rec(T0 + 59_999, 1, 1000)];
    const minutes = rollUp('minute', columns(raw), T0, T0 + MINUTE_MS);
    expect(minutes).toEqual([rec(T0, 0, 400, 7, 1000, 2), rec(T0, 1, 1000, 0, 0, 1)]);
    const h = Math.floor(T0 / HOUR_MS) * HOUR_MS;
    const hours = rollUp('hour', columns([rec(h, 0, 900, 1, 0, 3), rec(h + MINUTE_MS, 0, 500, 2, 100, 1)]), h, h + HOUR_MS);
    expect(hours).toEqual([rec(h, 0, 1400, 2, 100, 4)]);
    expect(fromRecord('n', hours[0]!)).toMatchObject({ utilPercent: 35, allocatedMilli: 25 });
  });

  it('writes rolled-up columns as one tail a block, each decoding back to its records', () => {
    const start = blockStart('minute', T0);
    const rs = [rec(start + 5 * MINUTE_MS, 0, 10, 1, 2, 3), rec(start + 5 * MINUTE_MS, 1, 20, 2, 4, 6), rec(start + BLOCK_MS.minute, 0, 30, 3, 6, 9)];
    const tails = tailsOf('minute', columns(rs));
    expect(tails.map(([b]) => b)).toEqual([start, start + BLOCK_MS.minute]);
    expect(tails.flatMap(([b, tail]) => decodeBlock('minute', b, Buffer.alloc(0), tail))).toEqual(rs);
    // rollUpInto gives what rollUp does, as columns.
    const raw = columns([rec(T0, 0, 100), rec(T0 + 30_000, 0, 300, 7, 1000), rec(T0 + 60_000, 1, 900)]);
    const out = new RecordColumns();
    rollUpInto('minute', raw, T0, T0 + 2 * MINUTE_MS, out);
    expect(Array.from({ length: out.length }, (_, i) => out.record(i))).toEqual(rollUp('minute', raw, T0, T0 + 2 * MINUTE_MS));
  });

  it('rolls hours behind a backlog of minutes only a whole step at a time', () => {
    const h = 1_000 * HOUR_MS;
    // Caught up: every complete hour whose minutes are rolled up.
    expect(hourRollEnd(h + 5 * HOUR_MS + 7, h + 2 * HOUR_MS + 30 * MINUTE_MS, h, false, 6 * HOUR_MS)).toBe(h + 2 * HOUR_MS);
    // Minutes still behind: two hours ready of six wanted, none now; six ready, six.
    expect(hourRollEnd(h + 50 * HOUR_MS, h + 2 * HOUR_MS, h, true, 6 * HOUR_MS)).toBe(-Infinity);
    expect(hourRollEnd(h + 50 * HOUR_MS, h + 6 * HOUR_MS, h, true, 6 * HOUR_MS)).toBe(h + 6 * HOUR_MS);
    // No hour rolled yet, or no minute: as before.
    expect(hourRollEnd(h + 50 * HOUR_MS, h + 2 * HOUR_MS, null, true, 6 * HOUR_MS)).toBe(h + 2 * HOUR_MS);
    expect(hourRollEnd(h, null, null, false, 6 * HOUR_MS)).toBe(-Infinity);
  });

  it('buckets as it reads: nothing before `from` or outside its tier part, pool totals folded per node', () => {
    const q = { from: T0 + 10_000, to: T0 + 39_999, bucketMs: 10_000 };
    const sources = [{ tier: 'raw' as const, from: T0 + 10_000, to: T0 + 39_999 }];
    const rows = [
      { tier: 'raw' as const, start: T0, nodeId: 'a', body: encodeBody('raw', T0, [rec(T0 + 5_000, 0, 1000), rec(T0 + 10_000, 0, 200, 5, 500), rec(T0 + 15_000, 0, 400, 9, 1000)]), tail: encodeTail('raw', T0, [rec(T0 + 12_000, 1, 600, 1, 333)]) },
      { tier: 'raw' as const, start: T0, nodeId: 'b', body: Buffer.alloc(0), tail: encodeTail('raw', T0, [rec(T0 + 31_000, 0, 50, 1, 1000)]) },
      // A tier with no part in the plan is skipped.
      { tier: 'minute' as const, start: blockStart('minute', T0), nodeId: 'b', body: Buffer.alloc(0), tail: encodeTail('minute', blockStart('minute', T0), [rec(T0, 0, 10_000)]) },
    ];
    const gpu = new BucketAccumulator({ ...q, detail: 'gpu' }, sources);
    for (const r of rows) gpu.add(r);
    expect(gpu.result().points).toEqual([
      { at: T0 + 10_000, nodeId: 'a', gpuIndex: 0, utilPercent: 30, memoryUsedMiB: 9, allocatedMilli: 750, samples: 2 },
      { at: T0 + 10_000, nodeId: 'a', gpuIndex: 1, utilPercent: 60, memoryUsedMiB: 1, allocatedMilli: 333, samples: 1 },
      { at: T0 + 30_000, nodeId: 'b', gpuIndex: 0, utilPercent: 5, memoryUsedMiB: 1, allocatedMilli: 1000, samples: 1 },
    ]);
    const pool = new BucketAccumulator({ ...q, detail: 'pool' }, sources);
    for (const r of rows) pool.add(r);
    const buckets = [
      { at: T0 + 10_000, gpus: 2, utilPercent: 45, allocatedMilli: 1083 },
      { at: T0 + 30_000, gpus: 1, utilPercent: 5, allocatedMilli: 1000 },
    ];
    expect(pool.result()).toEqual({ points: [], buckets });
    // Detail series: the same points as a series of columns a GPU, and the same totals.
    const series = new BucketAccumulator({ ...q, detail: 'series' }, sources);
    for (const r of rows) series.add(r);
    expect(series.result()).toEqual({
      points: [],
      buckets,
      series: [
        { nodeId: 'a', gpuIndex: 0, bucket: [0], utilPercent: [30], memoryUsedMiB: [9], allocatedMilli: [750], samples: [2] },
        { nodeId: 'a', gpuIndex: 1, bucket: [0], utilPercent: [60], memoryUsedMiB: [1], allocatedMilli: [333], samples: [1] },
        { nodeId: 'b', gpuIndex: 0, bucket: [2], utilPercent: [5], memoryUsedMiB: [1], allocatedMilli: [1000], samples: [1] },
      ],
    });
  });
});
