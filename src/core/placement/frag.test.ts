import { describe, expect, it } from 'vitest';
import { ClusterState } from './cluster.js';
import { clusterFrag, fragOf } from './frag.js';
import type { WorkloadClass } from './types.js';
import { typicalWorkload } from './workload.js';

const k = (cpuMilli: number, gpuCount: number, gpuMilli: number, weight: number, models?: string[]): WorkloadClass => ({
  cpuMilli,
  memoryMiB: 0,
  gpuCount,
  gpuMilli,
  gpuMemoryMiB: 0,
  weight,
  ...(models ? { models } : {}),
});

describe('fragOf (FGD node fragmentation)', () => {
  it('counts GPUs too small for a class that fits, and everything for a class that does not', () => {
    // GPUs free: 1000, 300, 0. Classes: ½ × (1 GPU × 500m), ½ × (2 GPUs × 1000m).
    const w = [k(1000, 1, 500, 0.5), k(1000, 2, 1000, 0.5)];
    // 500m fits (GPU 0): the 300 on GPU 1 is fragmented → 0.5 × 300 = 150.
    // 2×1000 does not fit (one whole GPU): all 1300 fragmented → 0.5 × 1300 = 650.
    expect(fragOf('T4', 8000, [1000, 300, 0], w)).toBeCloseTo(800);
  });
  it('treats lack of CPU, a disallowed model and CPU-only classes as all fragmented', () => {
    const frees = [1000, 1000];
    expect(fragOf('T4', 500, frees, [k(1000, 1, 500, 1)])).toBe(2000); // CPU lacking
    expect(fragOf('T4', 8000, frees, [k(1000, 1, 500, 1, ['A100'])])).toBe(2000); // model
    expect(fragOf('T4', 8000, frees, [k(1000, 0, 0, 1)])).toBe(2000); // no GPU wanted
    expect(fragOf('A100', 8000, frees, [k(1000, 1, 500, 1, ['A100'])])).toBe(0);
  });
  it('is zero on a node with no free GPU', () => {
    expect(fragOf('T4', 8000, [0, 0], [k(1000, 1, 500, 1)])).toBe(0);
  });
  it('sums over the cluster; the ratio is over idle GPU', () => {
    const mk = (id: string) => ({ id, name: id, cpuMilli: 8000, memoryMiB: 1024, gpus: [0, 1].map((index) => ({ index, model: 'T4', memoryMiB: 0, tflops: 0, exclusive: false })) });
    const c = new ClusterState([mk('a'), mk('b')]);
    c.allocate({ nodePos: 0, gpuIdx: [0], gpuMilli: 700, gpuMemoryMiB: 0 }, { cpuMilli: 1000, memoryMiB: 0, gpuCount: 1, gpuMilli: 700, gpuMemoryMiB: 0, models: [] });
    const f = clusterFrag(c, [k(1000, 1, 500, 1)]);
    // node a: GPU 0 has 300 < 500 → 300 fragmented; node b: none.
    expect(f).toEqual({ amount: 300, idle: 3300, ratio: 300 / 3300 });
  });
});

describe('typicalWorkload', () => {
  it('keeps the most popular shapes up to the coverage and renormalises', () => {
    const r = (cpuMilli: number, gpuCount: number, gpuMilli: number) => ({ cpuMilli, memoryMiB: 1, gpuCount, gpuMilli, gpuMemoryMiB: 0, models: [] });
    const reqs = [...Array(6).fill(r(1000, 1, 500)), ...Array(3).fill(r(2000, 1, 1000)), r(4000, 0, 0)];
    const w = typicalWorkload(reqs, { coverage: 0.9 });
    expect(w.map((c) => [c.cpuMilli, c.weight])).toEqual([
      [1000, 6 / 9],
      [2000, 3 / 9],
    ]);
    expect(typicalWorkload(reqs).length).toBe(3); // 95 % needs all three
  });
});
