import { describe, expect, it } from 'vitest';
import { DEFAULT_WORKLOAD_OPTIONS } from './default.js';
import type { PodRequest } from './types.js';
import { WorkloadEstimator, typicalWorkload } from './workload.js';

const req = (gpuMilli: number, gpuCount = 1, cpuMilli = 4000): PodRequest => ({ cpuMilli, memoryMiB: 0, gpuCount, gpuMilli, gpuMemoryMiB: 0, models: [] });

describe('WorkloadEstimator', () => {
  it('without decay, estimates what typicalWorkload gives for the same requests', () => {
    const reqs = [req(500), req(500), req(1000, 2), req(250), req(0, 0, 2000), req(500)];
    const est = new WorkloadEstimator(DEFAULT_WORKLOAD_OPTIONS);
    for (const r of reqs) est.observe(r);
    expect(est.current()).toEqual(typicalWorkload(reqs, DEFAULT_WORKLOAD_OPTIONS));
    expect(est.observed).toBe(6);
    expect(est.size).toBe(4);
  });

  it('rebuilds only when the count grew by a quarter (and 16), so caches keyed by it stay warm', () => {
    const est = new WorkloadEstimator();
    est.observe(req(500));
    const first = est.current();
    for (let i = 0; i < 16; i++) est.observe(req(1000));
    expect(est.current()).toBe(first); // 17 < 1·1.25 + 16
    est.observe(req(1000));
    expect(est.current()).not.toBe(first);
    expect(est.current()[0]).toMatchObject({ gpuMilli: 1000 });
  });

  it('stays bounded: 1,000,000 requests of 4,000 shapes keep at most maxShapes', () => {
    const est = new WorkloadEstimator({ maxShapes: 512 });
    for (let i = 0; i < 1_000_000; i++) {
      const shape = Math.floor(i / 250); // runs of 250 alike: 4,000 shapes in all
      est.observe(req(1 + (shape % 1000), 1, 1000 * (1 + Math.floor(shape / 1000))));
    }
    expect(est.size).toBe(512);
    expect(est.observed).toBe(1_000_000);
    expect(est.current().length).toBeGreaterThan(0);
    expect(est.current().length).toBeLessThanOrEqual(512);
  });

  it('with a half-life, follows a drifting mix', () => {
    const est = new WorkloadEstimator({ halfLife: 100, coverage: 1 });
    for (let i = 0; i < 2000; i++) est.observe(req(500));
    for (let i = 0; i < 1000; i++) est.observe(req(1000));
    const w = est.current();
    const of = (m: number): number => w.find((k) => k.gpuMilli === m)?.weight ?? 0;
    // The last 1000 requests span ten half-lives: the old shape keeps about 2^-10 of the weight.
    expect(of(1000)).toBeGreaterThan(0.99);
    expect(of(500)).toBeLessThan(0.01);
    const plain = new WorkloadEstimator({ coverage: 1 });
    for (let i = 0; i < 2000; i++) plain.observe(req(500));
    for (let i = 0; i < 1000; i++) plain.observe(req(1000));
    expect(plain.current().find((k) => k.gpuMilli === 500)!.weight).toBeCloseTo(2 / 3);
  });

  it('when full, a new shape replaces the lightest one', () => {
    const est = new WorkloadEstimator({ maxShapes: 2, coverage: 1 });
    for (const m of [100, 100, 100, 200, 300]) est.observe(req(m));
    expect(est.current().map((k) => k.gpuMilli).sort()).toEqual([100, 300]);
  });

  it('resumes from its stored state', () => {
    const est = new WorkloadEstimator({ ...DEFAULT_WORKLOAD_OPTIONS, halfLife: 50 });
    for (let i = 0; i < 300; i++) est.observe(req(100 * (1 + (i % 7)), 1 + (i % 2)));
    const state = JSON.parse(JSON.stringify(est.state())) as ReturnType<WorkloadEstimator['state']>;
    const back = new WorkloadEstimator({ ...DEFAULT_WORKLOAD_OPTIONS, halfLife: 50 }, state);
    const fresh = new WorkloadEstimator({ ...DEFAULT_WORKLOAD_OPTIONS, halfLife: 50 }, est.state());
    expect(back.observed).toBe(300);
    expect(back.current()).toEqual(fresh.current());
    for (const k of back.current()) expect(k.weight).toBeGreaterThan(0);
  });

  it('a restored estimator answers exactly as the one it was stored from, between rebuilds and after', () => {
    const est = new WorkloadEstimator(DEFAULT_WORKLOAD_OPTIONS);
    for (let i = 0; i < 100; i++) est.observe(req(100 * (1 + (i % 5)), 1 + (i % 3)));
    est.current(); // built at 100; the next build waits for 141
    for (let i = 0; i < 20; i++) est.observe(req(900, 1));
    const back = new WorkloadEstimator(DEFAULT_WORKLOAD_OPTIONS, JSON.parse(JSON.stringify(est.state())) as ReturnType<WorkloadEstimator['state']>);
    expect(back.current()).toEqual(est.current());
    for (let i = 0; i < 200; i++) {
      const r = req(100 * (1 + (i % 9)), 1 + (i % 2));
      est.observe(r);
      back.observe(r);
      expect(back.current()).toEqual(est.current());
    }
  });

  it('refuses options it cannot honour', () => {
    expect(() => new WorkloadEstimator({ maxShapes: 0 })).toThrow(/maxShapes/);
    expect(() => new WorkloadEstimator({ halfLife: 0 })).toThrow(/halfLife/);
  });
});
