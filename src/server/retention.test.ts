import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FastGpuError } from '../core/errors.js';
import { H0 } from '../store/conformance-samples.js';
import { openStore } from '../store/index.js';
import type { SampleCompaction, Store } from '../store/port.js';
import { BLOCK_MS } from '../store/sample-blocks.js';
import { HOUR_MS, MINUTE_MS } from '../store/sample-tiers.js';
import { ManualClock } from '../util/clock.js';
import { compileSampleRetention, DEFAULT_SAMPLE_RETENTION, SampleMaintenance } from './retention.js';

const DAY = 24 * HOUR_MS;

describe('compileSampleRetention', () => {
  it('fills in 24 h raw, 7 d minutes and 400 d hours', () => {
    expect(compileSampleRetention({})).toEqual({ rawMs: DAY, minuteMs: 7 * DAY, hourMs: 400 * DAY });
    expect(compileSampleRetention({ rawMs: 2 * DAY, hourMs: 30 * DAY })).toEqual({ rawMs: 2 * DAY, minuteMs: 7 * DAY, hourMs: 30 * DAY });
  });

  it('refuses a tier kept shorter than the finer one, naming the field as the caller spells it', () => {
    const flags = { rawMs: '--samples-raw', minuteMs: '--samples-minute', hourMs: '--samples-hour' };
    const err = (f: () => unknown): FastGpuError => {
      try {
        f();
      } catch (e) {
        return e as FastGpuError;
      }
      throw new Error('did not throw');
    };
    const e = err(() => compileSampleRetention({ rawMs: 8 * DAY }, flags));
    expect(e.field).toBe('--samples-minute');
    expect(e.message).toBe('--samples-minute: 7d is shorter than raw samples are kept (--samples-raw 8d); minute rollups must be kept at least as long');
    expect(err(() => compileSampleRetention({ hourMs: DAY }, flags)).message).toMatch(/^--samples-hour: 1d is shorter than minute rollups are kept \(--samples-minute 7d\)/);
    expect(err(() => compileSampleRetention({ rawMs: 0 })).field).toBe('rawMs');
  });
});

describe('SampleMaintenance over a real store', () => {
  let dir: string;
  let store: Store;
  const clock = new ManualClock(H0);
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fastgpu-retention-'));
    store = openStore({ kind: 'sqlite', path: join(dir, 'fastgpu.db') });
    await store.init();
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const gpu = (at: number) => ({ at, nodeId: 'n1', gpuIndex: 0, utilPercent: 50, memoryUsedMiB: 1, allocatedMilli: 0 });

  it('rolls up a backlog in many short steps, leaving the minutes that ended under 30 s ago', async () => {
    // Three hours of samples every 10 s: 6 steps of 30 minutes each.
    await store.appendSamples(Array.from({ length: 3 * 360 }, (_, i) => gpu(H0 + i * 10_000)));
    const m = new SampleMaintenance({ store, clock, retention: DEFAULT_SAMPLE_RETENTION, log: () => {} });
    clock.set(H0 + 3 * HOUR_MS + 20_000);
    // Minute 179 ended 20 s ago: left for the next pass, and so is hour 2, which it is part of.
    expect(await m.compact()).toEqual({ minutes: 179, hours: 2, steps: 6 });
    clock.advance(15_000);
    expect(await m.compact()).toEqual({ minutes: 1, hours: 1, steps: 1 });
    expect(await m.compact()).toEqual({ minutes: 0, hours: 0, steps: 1 });
    await m.close();
  });

  it('prunes each tier down to its window, a batch at a time', async () => {
    await store.appendSamples(Array.from({ length: 2 * 360 }, (_, i) => gpu(H0 + i * 10_000)));
    const m = new SampleMaintenance({ store, clock, retention: { rawMs: HOUR_MS, minuteMs: 7 * HOUR_MS, hourMs: 26 * HOUR_MS }, log: () => {}, pruneBatch: 4 });
    clock.set(H0 + 2 * HOUR_MS + MINUTE_MS);
    await m.compact();
    // Whole blocks that end by each window: the six raw blocks of 10 minutes before H0 + 1 h, in
    // two batches; no minute block of 6 hours ends by H0 − 5 h, no day of hours by H0 − 24 h.
    expect(await m.prune()).toEqual({ raw: 6, minute: 0, hour: 0, logs: 0 });
    expect(await m.prune()).toEqual({ raw: 0, minute: 0, hour: 0, logs: 0 });
    expect((await store.listSamples(0, Number.MAX_SAFE_INTEGER))[0]?.at).toBe(H0 + HOUR_MS);
    // A day later every block of the first two hours has expired, but not the last raw and minute blocks.
    clock.set(H0 + 2 * HOUR_MS + 26 * HOUR_MS + BLOCK_MS.hour);
    await m.compact();
    const pass = await m.prune();
    expect(pass.raw).toBe(6);
    expect(pass.minute).toBeGreaterThanOrEqual(1);
    expect(pass.hour).toBe(1);
    expect(await store.listSamples(0, Number.MAX_SAFE_INTEGER)).toEqual([]);
    await m.close();
  });
});

describe('SampleMaintenance timers', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const idle: SampleCompaction = { minutes: 0, hours: 0, more: false };

  it('compacts every minute and prunes every ten, logging failures and trying again', async () => {
    const store = { compactSamples: vi.fn(async () => idle), pruneSamples: vi.fn(async () => 0), pruneLogs: vi.fn(async () => ({ tasks: 0, chunks: 0, more: false })) };
    const lines: string[] = [];
    const m = new SampleMaintenance({ store, clock: new ManualClock(H0), retention: DEFAULT_SAMPLE_RETENTION, log: (l) => lines.push(l) });
    m.start();
    await vi.advanceTimersByTimeAsync(59_999);
    expect(store.compactSamples).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(store.compactSamples).toHaveBeenCalledWith(H0 - 30_000);
    store.compactSamples.mockRejectedValueOnce(new Error('disk I/O error'));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(lines).toEqual(['warn: sample compaction failed (next pass retries): disk I/O error']);
    await vi.advanceTimersByTimeAsync(8 * 60_000);
    expect(store.compactSamples).toHaveBeenCalledTimes(10);
    expect(store.pruneSamples.mock.calls).toEqual([
      ['raw', H0 - DAY, 10_000],
      ['minute', H0 - 7 * DAY, 10_000],
      ['hour', H0 - 400 * DAY, 10_000],
    ]);
    await m.close();
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    expect(store.compactSamples).toHaveBeenCalledTimes(10);
  });

  it('never runs two passes at once, skips a tick while the last is running; close waits for it', async () => {
    let release = (): void => {};
    let running = 0;
    let most = 0;
    const store = {
      compactSamples: vi.fn(async () => {
        most = Math.max(most, ++running);
        await new Promise<void>((r) => (release = r));
        running--;
        return idle;
      }),
      pruneSamples: vi.fn(async () => {
        most = Math.max(most, ++running);
        running--;
        return 0;
      }),
      pruneLogs: vi.fn(async () => ({ tasks: 0, chunks: 0, more: false })),
    };
    const m = new SampleMaintenance({ store, clock: new ManualClock(H0), retention: DEFAULT_SAMPLE_RETENTION, log: () => {}, pruneEveryMs: 120_000 });
    m.start();
    // The first compaction hangs through the next tick and the first prune.
    await vi.advanceTimersByTimeAsync(180_000);
    expect(store.compactSamples).toHaveBeenCalledTimes(1);
    expect(store.pruneSamples).not.toHaveBeenCalled();
    release();
    // Queued behind the timer's prune: once it is done, both passes have run, one after the other.
    await m.prune();
    expect(store.pruneSamples).toHaveBeenCalledTimes(6);
    expect(most).toBe(1);
    // The next compaction hangs too: close waits for it, and the prune queued behind it stops.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(store.compactSamples).toHaveBeenCalledTimes(2);
    let closed = false;
    const closing = m.close().then(() => (closed = true));
    await Promise.resolve();
    expect(closed).toBe(false);
    release();
    await closing;
    expect(store.pruneSamples).toHaveBeenCalledTimes(6);
  });
});

describe('log retention in the prune pass', () => {
  it('prunes logs only when a retention is set, step by step until nothing more is due', async () => {
    const clock = new ManualClock(H0);
    const steps = [
      { tasks: 3, chunks: 10_000, more: true },
      { tasks: 5, chunks: 42, more: false },
    ];
    const store = { compactSamples: vi.fn(), pruneSamples: vi.fn(async () => 0), pruneLogs: vi.fn(async () => steps.shift() ?? { tasks: 0, chunks: 0, more: false }) };
    const off = new SampleMaintenance({ store, clock, retention: DEFAULT_SAMPLE_RETENTION, log: () => {} });
    expect((await off.prune()).logs).toBe(0);
    expect(store.pruneLogs).not.toHaveBeenCalled();
    const on = new SampleMaintenance({ store, clock, retention: DEFAULT_SAMPLE_RETENTION, logsRetentionMs: 30 * DAY, log: () => {} });
    expect((await on.prune()).logs).toBe(10_042);
    expect(store.pruneLogs.mock.calls).toEqual([
      [H0 - 30 * DAY, H0, 10_000],
      [H0 - 30 * DAY, H0, 10_000],
    ]);
  });
});
