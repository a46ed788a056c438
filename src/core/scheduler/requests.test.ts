import { describe, expect, it } from 'vitest';
import type { ResourceRequest } from '../types.js';
import { covers, FailMemo, requestKey, Requests } from './requests.js';
import { gpuReq } from './testing.js';

const models = [
  { model: 'H100-80GB', memoryMiB: 81_920, tflops: 989 },
  { model: 'L4', memoryMiB: 24_576, tflops: 121 },
];
const res = (gpu: Parameters<typeof gpuReq>[0], cpuMilli = 1000, memoryMiB = 1024): ResourceRequest => ({ gpu: gpuReq(gpu), cpuMilli, memoryMiB });

describe('request shapes', () => {
  it('resolves each distinct request once', () => {
    const r = new Requests(models);
    expect(r.shape(res(0.5))).toBe(r.shape(res(0.5)));
    expect(r.shape(res(0.5))).not.toBe(r.shape(res(0.5, 2000)));
    expect(requestKey(res(0.5))).not.toBe(requestKey(res(1)));
    const mem: ResourceRequest = { gpu: { count: 1, share: { kind: 'memory', memoryMiB: 20_480 } }, cpuMilli: 1000, memoryMiB: 1024 };
    expect(r.shape(mem)).toBe(r.shape({ ...mem, gpu: { count: 1, share: { kind: 'memory', memoryMiB: 20_480 } } }));
  });

  it('keeps apart what its number keys could confuse: shares by memory or milli, models, counts', () => {
    const r = new Requests(models);
    const g = (count: number, share: { kind: 'milli'; milli: number } | { kind: 'memory'; memoryMiB: number }, model?: string): ResourceRequest => ({
      gpu: { count, share, ...(model !== undefined ? { model } : {}) },
      cpuMilli: 1000,
      memoryMiB: 1024,
    });
    const all: ResourceRequest[] = [
      g(1, { kind: 'milli', milli: 500 }),
      g(1, { kind: 'milli', milli: 500 }, 'L4'),
      g(1, { kind: 'milli', milli: 500 }, 'H100-80GB'),
      g(2, { kind: 'milli', milli: 1000 }),
      g(1, { kind: 'memory', memoryMiB: 500 }),
      g(1, { kind: 'memory', memoryMiB: 500 }, 'L4'),
      g(2, { kind: 'memory', memoryMiB: 500 }),
      { ...g(1, { kind: 'milli', milli: 500 }), gpu: { count: 1, share: { kind: 'milli', milli: 500 }, memoryMiB: 40_000 } },
    ];
    const shapes = all.map((x) => r.shape(x));
    expect(new Set(shapes).size).toBe(all.length);
    expect(new Set(shapes.map((s) => s.key)).size).toBe(all.length);
    // Asked again (new objects, equal requests): the same shapes.
    all.forEach((x, i) => expect(r.shape(structuredClone(x))).toBe(shapes[i]));
  });

  it('knows when a larger shape cannot fit where a smaller one did not', () => {
    const r = new Requests(models);
    const half = r.shape(res(0.5));
    expect(covers(r.shape(res(0.75)), half)).toBe(true);
    expect(covers(r.shape(res(0.5, 4000)), half)).toBe(true);
    expect(covers(r.shape(res(0.25)), half)).toBe(false);
    // A whole GPU may fit an exclusive GPU where a fraction cannot.
    expect(covers(r.shape(res(1)), half)).toBe(false);
    expect(covers(r.shape(res(2)), r.shape(res(1)))).toBe(true);
    // A CPU-only shape that failed answers for everything needing as much host.
    expect(covers(r.shape(res(1, 8000)), r.shape(res(null, 8000)))).toBe(true);
    // A model-restricted shape is not covered by one that fails on other models.
    const l4only: ResourceRequest = { gpu: { count: 1, share: { kind: 'milli', milli: 100 }, model: 'L4' }, cpuMilli: 1000, memoryMiB: 1024 };
    const h100only: ResourceRequest = { gpu: { count: 1, share: { kind: 'milli', milli: 900 }, model: 'H100-80GB' }, cpuMilli: 1000, memoryMiB: 1024 };
    expect(covers(r.shape(h100only), r.shape(l4only))).toBe(false);
    expect(covers(r.shape(h100only), r.shape(res(0.1)))).toBe(true);
  });

  it('memoises failures, including covered shapes, and forgets nothing as failures are added', () => {
    const r = new Requests(models);
    const m = new FailMemo();
    expect(m.has(r.shape(res(0.75)))).toBe(false);
    m.add(r.shape(res(0.5)));
    expect(m.has(r.shape(res(0.75)))).toBe(true);
    expect(m.has(r.shape(res(0.25)))).toBe(false);
    m.add(r.shape(res(0.2)));
    expect(m.has(r.shape(res(0.25)))).toBe(true);
  });
});
