// Conformance tests for utilisation sample tiers (compaction, pruning, bucketed reads),
// registered by storeConformance so every adapter runs them.
//
// Contract points the port's types do not spell out, and that this suite pins down:
// - Only complete minutes (ending by `upTo`) and complete hours (all of whose minutes are rolled
//   up) are rolled up; rollup means are over the raw samples, hour means weighted by the samples
//   behind each minute.
// - Compaction in many small steps gives the same rollups as one big step; repeating it changes
//   nothing and reports nothing written.
// - Pruning deletes whole blocks (sample-blocks.ts) that end by `before`, at most `limit` per
//   call, and never raw samples or minute rollups that the next tier does not hold yet.
// - A sealed block keeps a heartbeat's sample in at most 2.5 bytes, an open one in at most 12
//   (the volume contract), and gives back what was sent (utilisation to 0.1 %).
// - A read never draws a rollup that starts before `from` into the first bucket.
// - A bucketed read over any mix of tiers gives the values a read of the raw samples would,
//   wherever buckets start on the boundaries of the rollups read; no sample counts twice at a seam.
import { beforeEach, describe, expect, it } from 'vitest';
import type { SamplePoint, SampleSeries, Store, UtilisationSample } from './port.js';
import { BLOCK_MS } from './sample-blocks.js';
import { HOUR_MS, MINUTE_MS, floorTo } from './sample-tiers.js';

/** An hour-aligned instant (2023-11-14 22:00 UTC). */
export const H0 = floorTo(1_700_000_000_000, HOUR_MS);

/**
 * What a bucketed read of these raw samples gives: per bucket and GPU, mean utilisation and
 * allocation, highest memory, the count. The model every tier mix must match.
 */
export function referenceSeries(samples: readonly UtilisationSample[], from: number, to: number, bucketMs: number, nodeId?: string): SamplePoint[] {
  const acc = new Map<string, SamplePoint>();
  for (const x of samples) {
    if (x.at < from || x.at > to || (nodeId !== undefined && x.nodeId !== nodeId)) continue;
    const at = from + Math.floor((x.at - from) / bucketMs) * bucketMs;
    const key = `${at}/${x.nodeId}/${x.gpuIndex}`;
    const p = acc.get(key) ?? { at, nodeId: x.nodeId, gpuIndex: x.gpuIndex, utilPercent: 0, memoryUsedMiB: 0, allocatedMilli: 0, samples: 0 };
    p.utilPercent += x.utilPercent;
    p.allocatedMilli += x.allocatedMilli ?? 0;
    p.memoryUsedMiB = Math.max(p.memoryUsedMiB, x.memoryUsedMiB);
    p.samples++;
    acc.set(key, p);
  }
  return [...acc.values()]
    .map((p) => ({ ...p, utilPercent: p.utilPercent / p.samples, allocatedMilli: p.allocatedMilli / p.samples }))
    .sort((a, b) => a.at - b.at || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : a.gpuIndex - b.gpuIndex));
}

/** Same points, means equal to 9 decimal places (the store sums in floating point). */
export function expectSamePoints(actual: readonly SamplePoint[], expected: readonly SamplePoint[]): void {
  const round = (p: SamplePoint) => ({ ...p, utilPercent: Math.round(p.utilPercent * 1e9) / 1e9, allocatedMilli: Math.round(p.allocatedMilli * 1e9) / 1e9 });
  expect(actual.map(round)).toEqual(expected.map(round));
}

/**
 * Two days of samples every 30 s from 10 minutes before H0 until `NOW`, for three GPUs on two
 * nodes (n2's heartbeats 7 s later), with values that vary sample to sample.
 */
export const NOW = H0 + 48 * HOUR_MS + 25 * MINUTE_MS + 10_000;
export function twoDays(): UtilisationSample[] {
  const out: UtilisationSample[] = [];
  const gpus = [
    { nodeId: 'n1', gpuIndex: 0, offset: 0 },
    { nodeId: 'n1', gpuIndex: 1, offset: 0 },
    { nodeId: 'n2', gpuIndex: 0, offset: 7_000 },
  ];
  for (let k = 0, at = H0 - 10 * MINUTE_MS; at <= NOW - 7_000; k++, at += 30_000) {
    gpus.forEach((g, i) => {
      out.push({ at: at + g.offset, nodeId: g.nodeId, gpuIndex: g.gpuIndex, utilPercent: (k * 7 + i * 13) % 101, memoryUsedMiB: (k * 31 + i) % 5000, allocatedMilli: ((k + i) % 5) * 250 });
    });
  }
  return out;
}

const total = (s: SampleSeries): number => s.points.reduce((n, p) => n + p.samples, 0);

/** Compacts until nothing complete is left before `upTo`; returns the steps taken. */
async function compactAll(s: Store, upTo: number, opts?: { maxMinutes?: number; maxHours?: number }): Promise<number> {
  let steps = 0;
  for (;;) {
    steps++;
    if (!(await s.compactSamples(upTo, opts)).more) return steps;
  }
}

export function sampleTierConformance(store: () => Store): void {
  describe('sample tiers', () => {
    const g = (at: number, utilPercent: number, memoryUsedMiB: number, allocatedMilli: number, gpuIndex = 0, nodeId = 'n1'): UtilisationSample => ({
      at,
      nodeId,
      gpuIndex,
      utilPercent,
      memoryUsedMiB,
      allocatedMilli,
    });

    it('rolls complete minutes up into per-GPU means, maxima and counts', async () => {
      const s = store();
      await s.appendSamples([
        g(H0 + 1_000, 10, 100, 0),
        g(H0 + 6_000, 30, 300, 500),
        g(H0 + 59_999, 50, 200, 1000),
        g(H0 + 5_000, 80, 10, 250, 1),
        g(H0 + 60_000, 100, 7, 0),
        // In the minute that has not ended by upTo: stays raw.
        g(H0 + 121_000, 60, 60, 60),
      ]);
      const step = await s.compactSamples(H0 + 150_000);
      expect(step).toEqual({ minutes: 3, hours: 0, more: false });
      expect(await s.listSampleRollups('minute', H0, H0 + HOUR_MS)).toEqual([
        { at: H0, nodeId: 'n1', gpuIndex: 0, utilPercent: 30, memoryUsedMiB: 300, allocatedMilli: 500, samples: 3 },
        { at: H0, nodeId: 'n1', gpuIndex: 1, utilPercent: 80, memoryUsedMiB: 10, allocatedMilli: 250, samples: 1 },
        { at: H0 + MINUTE_MS, nodeId: 'n1', gpuIndex: 0, utilPercent: 100, memoryUsedMiB: 7, allocatedMilli: 0, samples: 1 },
      ]);
      expect(await s.listSampleRollups('minute', H0, H0, 'n2')).toEqual([]);
      expect(await s.listSampleRollups('hour', 0, H0 + HOUR_MS)).toEqual([]);
      // The next minute once it has ended; the raw samples stay.
      expect(await s.compactSamples(H0 + 180_000)).toEqual({ minutes: 1, hours: 0, more: false });
      expect((await s.listSampleRollups('minute', H0 + 120_000, H0 + 120_000)).map((r) => r.utilPercent)).toEqual([60]);
      expect(await s.listSamples(H0, H0 + HOUR_MS)).toHaveLength(6);
    });

    it('rolls complete hours up from minutes, weighting each by its samples', async () => {
      const s = store();
      await s.appendSamples([
        g(H0 + 1_000, 10, 100, 0),
        g(H0 + 21_000, 10, 900, 0),
        g(H0 + 41_000, 10, 100, 0),
        g(H0 + 30 * MINUTE_MS, 50, 200, 1000),
        g(H0 + HOUR_MS + 5_000, 90, 1, 1),
      ]);
      // The hour has not ended: minutes only (in one step of up to an hour of them).
      expect(await s.compactSamples(H0 + HOUR_MS - 1, { maxMinutes: 60 })).toEqual({ minutes: 2, hours: 0, more: false });
      expect(await s.listSampleRollups('hour', 0, H0 + 2 * HOUR_MS)).toEqual([]);
      expect(await s.compactSamples(H0 + HOUR_MS + 30_000)).toEqual({ minutes: 0, hours: 1, more: false });
      // Minutes 10 (3 samples) and 50 (1): (3×10 + 50) / 4, not (10 + 50) / 2.
      expect(await s.listSampleRollups('hour', 0, H0 + 2 * HOUR_MS)).toEqual([
        { at: H0, nodeId: 'n1', gpuIndex: 0, utilPercent: 20, memoryUsedMiB: 900, allocatedMilli: 250, samples: 4 },
      ]);
    });

    it('gives the same rollups in small steps as in one, and repeating changes nothing', async () => {
      const s = store();
      const raw = twoDays().filter((x) => x.at < H0 + 3 * HOUR_MS);
      await s.appendSamples(raw);
      const upTo = H0 + 3 * HOUR_MS + 5_000;
      // 190 minutes, 3 whole hours (the hour before H0 is rolled up too, from its 10 minutes).
      expect(await compactAll(s, upTo, { maxMinutes: 7, maxHours: 1 })).toBeGreaterThanOrEqual(Math.ceil(190 / 7));
      const minutes = await s.listSampleRollups('minute', 0, upTo);
      const hours = await s.listSampleRollups('hour', 0, upTo);
      expect(minutes).toHaveLength(190 * 3);
      expect(hours.map((h) => h.at)).toEqual([H0 - HOUR_MS, H0 - HOUR_MS, H0 - HOUR_MS, H0, H0, H0, H0 + HOUR_MS, H0 + HOUR_MS, H0 + HOUR_MS, H0 + 2 * HOUR_MS, H0 + 2 * HOUR_MS, H0 + 2 * HOUR_MS]);
      // Each hour holds exactly its raw samples, and its means are theirs.
      const asPoints = hours.map((h) => ({ ...h }));
      expectSamePoints(asPoints, referenceSeries(raw, H0 - HOUR_MS, upTo, HOUR_MS));
      expect(await s.compactSamples(upTo)).toEqual({ minutes: 0, hours: 0, more: false });
      expect(await s.compactSamples(upTo, { maxMinutes: 1000 })).toEqual({ minutes: 0, hours: 0, more: false });
      expect(await s.listSampleRollups('minute', 0, upTo)).toEqual(minutes);
      expect(await s.listSampleRollups('hour', 0, upTo)).toEqual(hours);
    });

    it('gives the same rollups when steps cover whole blocks (a backlog, written sealed) as in short steps that do not', async () => {
      const raw = twoDays();
      const whole = store();
      const short = store();
      await whole.appendSamples(raw);
      await short.appendSamples(raw);
      // Defaults: behind two days of raw samples a step reaches a block edge, so whole minute
      // and hour blocks are written at once. 45 minutes and 5 hours never end on an edge.
      await compactAll(whole, NOW);
      await compactAll(short, NOW, { maxMinutes: 45, maxHours: 5 });
      const minutes = await short.listSampleRollups('minute', 0, NOW);
      expect(minutes.length).toBeGreaterThan(2 * 24 * 60 * 2);
      expect(await whole.listSampleRollups('minute', 0, NOW)).toEqual(minutes);
      expect(await whole.listSampleRollups('hour', 0, NOW)).toEqual(await short.listSampleRollups('hour', 0, NOW));
      const q = { from: H0, to: NOW, bucketMs: HOUR_MS, detail: 'pool' as const };
      expect(await whole.readSampleSeries(q)).toEqual(await short.readSampleSeries(q));
      const [a, b] = [await whole.sampleStorage(), await short.sampleStorage()];
      for (const tier of ['raw', 'minute', 'hour'] as const) expect(a[tier].records).toBe(b[tier].records);
    });

    it('a sample stored after its minute was rolled up stays raw only', async () => {
      const s = store();
      await s.appendSamples([g(H0 + 1_000, 10, 1, 1)]);
      await s.compactSamples(H0 + 2 * MINUTE_MS);
      await s.appendSamples([g(H0 + 2_000, 90, 1, 1)]);
      expect(await s.compactSamples(H0 + 3 * MINUTE_MS)).toEqual({ minutes: 0, hours: 0, more: false });
      expect((await s.listSampleRollups('minute', H0, H0)).map((r) => [r.utilPercent, r.samples])).toEqual([[10, 1]]);
    });

    it('prunes whole blocks that end by the cutoff, in batches of at most `limit`', async () => {
      const s = store();
      // Three nodes, a sample every 2 minutes for 30 minutes: three raw blocks each.
      const raw = Array.from({ length: 15 }, (_, k) => ['a', 'b', 'c'].map((node) => g(H0 + k * 2 * MINUTE_MS, k, k, k, 0, node))).flat();
      await s.appendSamples(raw);
      await s.compactSamples(H0 + 40 * MINUTE_MS, { maxMinutes: 60 });
      const cutoff = H0 + 2 * BLOCK_MS.raw;
      // Blocks [H0, +10 min) and [+10, +20 min) of each node end by the cutoff; the third is kept whole.
      expect(await s.pruneSamples('raw', cutoff + 5 * MINUTE_MS, 4)).toBe(4);
      expect(await s.pruneSamples('raw', cutoff + 5 * MINUTE_MS, 4)).toBe(2);
      expect(await s.pruneSamples('raw', cutoff + 5 * MINUTE_MS, 4)).toBe(0);
      expect((await s.listSamples(0, H0 + HOUR_MS)).map((x) => x.at)).toEqual(raw.filter((x) => x.at >= cutoff).map((x) => x.at));
      // The rollups are untouched by pruning raw samples.
      expect((await s.listSampleRollups('minute', 0, H0 + HOUR_MS)).map((r) => r.samples)).toEqual(raw.map(() => 1));
    });

    it('keeps raw samples and minutes that the next tier does not hold yet, whatever their age', async () => {
      const s = store();
      await s.appendSamples([g(H0 + 1_000, 10, 1, 1), g(H0 + 61_000, 20, 1, 1), g(H0 + 2 * HOUR_MS, 30, 1, 1)]);
      // Nothing rolled up yet: nothing may go.
      expect(await s.pruneSamples('raw', H0 + 3 * HOUR_MS)).toBe(0);
      // Minute 0 rolled up, minute 1 not (it ends after upTo): their block stays, and so does
      // the minute block, whose hours are not rolled up.
      await s.compactSamples(H0 + MINUTE_MS + 30_000);
      expect(await s.pruneSamples('raw', H0 + 3 * HOUR_MS)).toBe(0);
      expect(await s.pruneSamples('minute', H0 + 3 * HOUR_MS)).toBe(0);
      // Minutes through 120 and hours through H0 + 2 h rolled up: the raw block of the first two
      // samples may go, not the one of the third; and the minute block that ends by H0 + 2 h.
      await compactAll(s, H0 + 2 * HOUR_MS + MINUTE_MS + 30_000);
      expect(await s.pruneSamples('raw', H0 + 3 * HOUR_MS)).toBe(1);
      expect((await s.listSamples(0, H0 + 3 * HOUR_MS)).map((x) => x.at)).toEqual([H0 + 2 * HOUR_MS]);
      const minutesFrom = floorTo(H0 + 2 * HOUR_MS, BLOCK_MS.minute);
      expect(await s.pruneSamples('minute', H0 + 3 * HOUR_MS)).toBe(minutesFrom > H0 ? 1 : 0);
      expect((await s.listSampleRollups('minute', 0, H0 + 3 * HOUR_MS)).map((r) => r.at)).toEqual(
        [H0, H0 + MINUTE_MS, H0 + 2 * HOUR_MS].filter((at) => at >= minutesFrom),
      );
      // Hours go by age alone, a day block at a time.
      const day = floorTo(H0, BLOCK_MS.hour);
      expect(await s.pruneSamples('hour', day + BLOCK_MS.hour - 1)).toBe(0);
      const hours = await s.listSampleRollups('hour', 0, H0 + 3 * HOUR_MS);
      expect(await s.pruneSamples('hour', day + BLOCK_MS.hour)).toBe(1);
      expect(await s.listSampleRollups('hour', 0, H0 + 3 * HOUR_MS)).toEqual(hours.filter((h) => h.at >= day + BLOCK_MS.hour));
    });

    it('keeps a sample in at most a few bytes once its block is sealed (the volume contract)', async () => {
      const s = store();
      // Two nodes of 8 GPUs, a heartbeat every 5 s for 3 hours; utilisation and memory move.
      const raw: UtilisationSample[] = [];
      for (let k = 0; k < 3 * 720; k++) {
        for (let i = 0; i < 16; i++) {
          raw.push({ at: H0 + k * 5_000 + (i >= 8 ? 37 : 0), nodeId: i >= 8 ? 'b' : 'a', gpuIndex: i % 8, utilPercent: (k * 7 + i * 13) % 101, memoryUsedMiB: 40_000 + ((k * 31 + i) % 2000), allocatedMilli: ((Math.floor(k / 60) + i) % 5) * 250 });
        }
      }
      for (let k = 0; k < raw.length; k += 16) await s.appendSamples(raw.slice(k, k + 16));
      const open = await s.sampleStorage();
      expect(open.raw.records).toBe(raw.length);
      // Open blocks: plain varints, about 10 bytes a sample.
      expect(open.raw.bytes / open.raw.records).toBeLessThanOrEqual(12);
      await compactAll(s, H0 + 3 * HOUR_MS + MINUTE_MS);
      const sealed = await s.sampleStorage();
      expect(sealed.raw.records).toBe(raw.length);
      expect(sealed.raw.bytes / sealed.raw.records).toBeLessThanOrEqual(2.5);
      expect(sealed.minute.records).toBe(3 * 60 * 16);
      expect(sealed.minute.bytes / sealed.minute.records).toBeLessThanOrEqual(12);
      expect(sealed.hour.records).toBe(3 * 16);
      // What is read back is what was sent.
      expect(await s.listSamples(H0, H0 + 3 * HOUR_MS)).toEqual(referenceSeries(raw, H0, H0 + 3 * HOUR_MS, 1).map(({ samples: _n, ...x }) => x));
    });

    it('over rollups, counts in a bucket of several the most GPUs that reported in any one of its rollups (pool rollups)', async () => {
      // n9 reports only in the first minute of H0 − 1 h, n8 only in the second: per GPU the
      // 10-minute bucket holds both; the pool rollups hold one GPU a minute.
      const t = H0 - HOUR_MS;
      const fresh = store();
      await fresh.appendSamples([g(t + 1_000, 40, 0, 0, 0, 'n9'), g(t + 61_000, 80, 0, 0, 0, 'n8'), g(t + 2 * HOUR_MS, 10, 0, 0)]);
      await compactAll(fresh, t + 2 * HOUR_MS);
      const q = { from: t, to: t + HOUR_MS - 1, bucketMs: 10 * MINUTE_MS };
      expect((await fresh.readSampleSeries({ ...q, detail: 'series' })).buckets).toEqual([{ at: t, gpus: 2, utilPercent: 60, allocatedMilli: 0 }]);
      expect((await fresh.readSampleSeries({ ...q, detail: 'pool' })).buckets).toEqual([{ at: t, gpus: 1, utilPercent: 60, allocatedMilli: 0 }]);
    });

    describe('bucketed reads over two days', () => {
      let s: Store;
      const raw = twoDays();
      beforeEach(async () => {
        s = store();
        await s.appendSamples(raw);
      });

      it('answers from raw samples alone before any compaction', async () => {
        const r = await s.readSampleSeries({ from: H0, to: NOW, bucketMs: HOUR_MS });
        expect(r.sources).toEqual([{ tier: 'raw', from: H0, to: NOW }]);
        expectSamePoints(r.points, referenceSeries(raw, H0, NOW, HOUR_MS));
      });

      it('reads hourly buckets from hours, the last hour from minutes and the last seconds from raw samples', async () => {
        await compactAll(s, NOW - 30_000);
        const minuteThrough = floorTo(NOW - 30_000, MINUTE_MS);
        const r = await s.readSampleSeries({ from: H0, to: NOW, bucketMs: HOUR_MS });
        expect(r.sources).toEqual([
          { tier: 'hour', from: H0, to: H0 + 48 * HOUR_MS - 1 },
          { tier: 'minute', from: H0 + 48 * HOUR_MS, to: minuteThrough - 1 },
          { tier: 'raw', from: minuteThrough, to: NOW },
        ]);
        expectSamePoints(r.points, referenceSeries(raw, H0, NOW, HOUR_MS));
        expect(total(r)).toBe(raw.filter((x) => x.at >= H0).length);
      });

      it('reads minute-sized buckets from minutes, and from hours where minutes were pruned', async () => {
        await compactAll(s, NOW - 30_000);
        const minuteThrough = floorTo(NOW - 30_000, MINUTE_MS);
        const q = { from: H0, to: NOW, bucketMs: 12 * MINUTE_MS };
        let r = await s.readSampleSeries(q);
        expect(r.sources).toEqual([
          { tier: 'minute', from: H0, to: minuteThrough - 1 },
          { tier: 'raw', from: minuteThrough, to: NOW },
        ]);
        expectSamePoints(r.points, referenceSeries(raw, H0, NOW, q.bucketMs));
        while ((await s.pruneSamples('minute', H0 + 30 * HOUR_MS + 5 * MINUTE_MS, 1000)) === 1000);
        r = await s.readSampleSeries(q);
        // Whole minute blocks went: minutes are whole from the end of the last one pruned.
        const split = floorTo(H0 + 30 * HOUR_MS + 5 * MINUTE_MS, BLOCK_MS.minute);
        expect(r.sources).toEqual([
          { tier: 'hour', from: H0, to: split - 1 },
          { tier: 'minute', from: split, to: minuteThrough - 1 },
          { tier: 'raw', from: minuteThrough, to: NOW },
        ]);
        // Each hour read falls whole into the bucket where it starts.
        expectSamePoints(r.points.filter((p) => p.at < split), referenceSeries(raw, H0, split - 1, HOUR_MS));
        expectSamePoints(r.points.filter((p) => p.at >= split), referenceSeries(raw, H0, NOW, q.bucketMs).filter((p) => p.at >= split));
        expect(total(r)).toBe(raw.filter((x) => x.at >= H0).length);
      });

      it('reads short buckets from raw samples while they last, older ones from rollups', async () => {
        await compactAll(s, NOW - 30_000);
        while ((await s.pruneSamples('raw', NOW - 24 * HOUR_MS, 5000)) === 5000);
        const lastHour = { from: NOW - HOUR_MS, to: NOW, bucketMs: 15_000 };
        const r = await s.readSampleSeries(lastHour);
        expect(r.sources).toEqual([{ tier: 'raw', from: lastHour.from, to: NOW }]);
        expectSamePoints(r.points, referenceSeries(raw, lastHour.from, NOW, lastHour.bucketMs));
        // Reaching back past the oldest raw sample: minutes up to the end of the last raw block pruned.
        const rawFrom = floorTo(NOW - 24 * HOUR_MS, BLOCK_MS.raw);
        const from = floorTo(NOW - 26 * HOUR_MS, HOUR_MS);
        const back = await s.readSampleSeries({ from, to: NOW, bucketMs: 30_000 });
        expect(back.sources).toEqual([
          { tier: 'minute', from, to: rawFrom - 1 },
          { tier: 'raw', from: rawFrom, to: NOW },
        ]);
        expect(total(back)).toBe(raw.filter((x) => x.at >= from).length);
        // With one-minute buckets the rollups and the raw samples fall alike.
        expectSamePoints((await s.readSampleSeries({ from, to: NOW, bucketMs: MINUTE_MS })).points, referenceSeries(raw, from, NOW, MINUTE_MS));
      });

      it('sums each bucket across GPUs in the store for detail `pool` (from pool rollups where a bucket spans several), as the per-GPU points add up, and gives them as columns for detail `series`', async () => {
        await compactAll(s, NOW - 30_000);
        const queries = [
          { from: H0, to: NOW, bucketMs: HOUR_MS },
          { from: NOW - 48 * HOUR_MS, to: NOW, bucketMs: 12 * MINUTE_MS },
          { from: NOW - HOUR_MS, to: NOW, bucketMs: 15_000 },
          { from: H0, to: NOW, bucketMs: 6 * HOUR_MS, nodeId: 'n1' },
        ];
        for (const q of queries) {
          const perGpu = await s.readSampleSeries(q);
          const pool = await s.readSampleSeries({ ...q, detail: 'pool' });
          expect(pool.points).toEqual([]);
          expect(pool.sources).toEqual(perGpu.sources);
          const expected = new Map<number, { at: number; gpus: number; utilPercent: number; allocatedMilli: number }>();
          for (const p of perGpu.points) {
            const b = expected.get(p.at) ?? { at: p.at, gpus: 0, utilPercent: 0, allocatedMilli: 0 };
            b.gpus++;
            b.utilPercent += p.utilPercent;
            b.allocatedMilli += Math.round(p.allocatedMilli);
            expected.set(p.at, b);
          }
          const round = (b: { at: number; gpus: number; utilPercent: number; allocatedMilli: number }) => ({ ...b, utilPercent: Math.round(b.utilPercent * 1e9) / 1e9 });
          const want = [...expected.values()].map((b) => round({ ...b, utilPercent: b.utilPercent / b.gpus }));
          // A steady pool (every GPU reports equally often): the pool rollups' answer is the
          // per-GPU one, to their rounding (utilisation kept to 1e-6 %, allocation rounded per
          // unit where the per-GPU answer rounds per GPU: within half a milli a GPU).
          const got = pool.buckets ?? [];
          expect(got.map((b) => [b.at, b.gpus]), JSON.stringify(q)).toEqual(want.map((b) => [b.at, b.gpus]));
          got.forEach((b, i) => {
            expect(Math.abs(b.utilPercent - want[i]!.utilPercent), `${JSON.stringify(q)} bucket ${b.at}`).toBeLessThan(1e-5);
            expect(Math.abs(b.allocatedMilli - want[i]!.allocatedMilli), `${JSON.stringify(q)} bucket ${b.at}`).toBeLessThanOrEqual(b.gpus / 2);
          });
          // Buckets of raw samples alone are the per-GPU answer exactly.
          const rawOnly = perGpu.sources.length === 1 && perGpu.sources[0]!.tier === 'raw';
          if (rawOnly) expect(got.map(round), JSON.stringify(q)).toEqual(want);
          // Detail series: the same points as columns a GPU, and the per-GPU totals exactly.
          const cols = await s.readSampleSeries({ ...q, detail: 'series' });
          expect(cols.points).toEqual([]);
          expect(cols.sources).toEqual(perGpu.sources);
          expect(cols.buckets?.map(round)).toEqual(want);
          const regrouped = (cols.series ?? []).flatMap((g) =>
            g.bucket.map((b, i) => ({ at: q.from + b * q.bucketMs, nodeId: g.nodeId, gpuIndex: g.gpuIndex, utilPercent: g.utilPercent[i]!, memoryUsedMiB: g.memoryUsedMiB[i]!, allocatedMilli: g.allocatedMilli[i]!, samples: g.samples[i]! })),
          );
          regrouped.sort((a, b) => a.at - b.at || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : a.gpuIndex - b.gpuIndex));
          expect(regrouped, JSON.stringify(q)).toEqual(perGpu.points);
        }
      });

      it('reads one node, and leaves out a rollup that starts before `from`', async () => {
        await compactAll(s, NOW - 30_000);
        const r = await s.readSampleSeries({ from: H0, to: NOW, bucketMs: 6 * HOUR_MS, nodeId: 'n2' });
        expectSamePoints(r.points, referenceSeries(raw, H0, NOW, 6 * HOUR_MS, 'n2'));
        expect(new Set(r.points.map((p) => p.nodeId))).toEqual(new Set(['n2']));
        // From half past: the hour at H0 started before the range and is not drawn into it (it
        // would show its samples where none was taken); the hour at H0 + 1 h counts in the first
        // bucket, where it starts, and the hour at H0 + 2 h in the second.
        const from = H0 + 30 * MINUTE_MS;
        const half = await s.readSampleSeries({ from, to: H0 + 3 * HOUR_MS - 1, bucketMs: HOUR_MS });
        expect(half.points.map((p) => [p.at - from, p.samples])).toEqual([
          [0, 120],
          [0, 120],
          [0, 120],
          [HOUR_MS, 120],
          [HOUR_MS, 120],
          [HOUR_MS, 120],
        ]);
      });
    });
  });
}
