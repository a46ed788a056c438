import { describe, expect, it } from 'vitest';
import type { NodeInit, ResolvedPodRequest } from '../core/placement/index.js';
import { configurationBound, loadHighs, maximalConfigs, relaxationBound } from './bound.js';

const node = (id: string, gpus: number, cpu = 64_000): NodeInit => ({
  id,
  name: id,
  cpuMilli: cpu,
  memoryMiB: 1 << 20,
  gpus: Array.from({ length: gpus }, (_, index) => ({ index, model: 'X', memoryMiB: 0, tflops: 0, exclusive: false })),
});
const req = (gpuMilli: number, gpuCount = 1, cpuMilli = 1000): ResolvedPodRequest => ({ cpuMilli, memoryMiB: 0, gpuCount, gpuMilli, gpuMemoryMiB: 0, models: [] });
const times = (n: number, r: ResolvedPodRequest) => Array.from({ length: n }, () => r);

describe('HiGHS bounds', () => {
  it('enumerates maximal GPU configurations', () => {
    expect(maximalConfigs([6, 4], 10)).toEqual([[1, 1], [0, 2]]);
    expect(maximalConfigs([3], 10)).toEqual([[3]]);
    expect(maximalConfigs([1], 100, 0)).toBeNull();
  });

  it('the configuration LP sees per-GPU leftovers that the aggregate LP cannot', async () => {
    const highs = await loadHighs();
    // Three 400-milli requests, one GPU: at most two share it (both LPs know ⌊1000/400⌋ per GPU).
    expect(relaxationBound(highs, [node('a', 1)], times(3, req(400)))).toBeCloseTo(800);
    expect(configurationBound(highs, [node('a', 1)], times(3, req(400)))).toBeCloseTo(800);
    // Two 400s and a 300 on one GPU (best: 800): the aggregate fills the GPU, configurations do not.
    const mixed = [req(400), req(400), req(300)];
    expect(relaxationBound(highs, [node('a', 1)], mixed)).toBeCloseTo(1000);
    const c = configurationBound(highs, [node('a', 1)], mixed);
    expect(c).toBeGreaterThanOrEqual(800 - 1e-6);
    expect(c).toBeLessThan(950);
    // 810 + 300 on one GPU (best: 810): the LP mixes configurations, 2/3 of [810] and 1/3 of [300×3].
    expect(relaxationBound(highs, [node('a', 1)], [req(810), req(300)])).toBeCloseTo(1000);
    expect(configurationBound(highs, [node('a', 1)], [req(810), req(300)])).toBeCloseTo(840);
    // Whole GPUs and fractions never share a GPU; CPU stays summed per node type.
    expect(configurationBound(highs, [node('a', 2)], [req(1000), req(500), req(500), req(500)])).toBeCloseTo(2000);
    expect(configurationBound(highs, [node('a', 2, 2000)], times(4, req(1000, 1, 1000)))).toBeCloseTo(2000);
    // Never below what a placement achieves: a 2-GPU request and two halves on 2 + 1 GPUs.
    expect(configurationBound(highs, [node('a', 2), node('b', 1)], [req(1000, 2), req(500), req(500)])).toBeCloseTo(3000);
  });
});
