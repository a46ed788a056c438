import { describe, expect, it } from 'vitest';
import { ClusterState, type NodeInit } from './cluster.js';
import { getPolicy } from './index.js';
import type { PodRequest } from './types.js';

function node(name: string, gpus: number, cpuMilli = 64_000, memoryMiB = 262_144, model = 'V100M16'): NodeInit {
  return {
    id: name,
    name,
    cpuMilli,
    memoryMiB,
    gpus: Array.from({ length: gpus }, (_, i) => ({ index: i, model, memoryMiB: 16_384, tflops: 100, exclusive: false })),
  };
}
function pod(gpuMilli: number, gpuCount = 1, cpuMilli = 4000, memoryMiB = 1024): PodRequest {
  return { cpuMilli, memoryMiB, gpuCount, gpuMilli, gpuMemoryMiB: 0, models: [] };
}
const ctx = { rng: () => 0.5 };

describe('first-fit', () => {
  it('takes the first node and first GPUs that fit', () => {
    const c = new ClusterState([node('a', 2), node('b', 4)]);
    c.allocate({ nodePos: 0, gpuIdx: [0], gpuMilli: 500, gpuMemoryMiB: 0 }, pod(500));
    expect(getPolicy('first-fit').choose(c, pod(1000, 2), ctx)).toMatchObject({ nodePos: 1, gpuIdx: [0, 1] });
    expect(getPolicy('first-fit').choose(c, pod(500), ctx)).toMatchObject({ nodePos: 0, gpuIdx: [0] });
  });
  it('respects host CPU and returns null when nothing fits', () => {
    const c = new ClusterState([node('a', 2, 1000), node('b', 1)]);
    expect(getPolicy('first-fit').choose(c, pod(200, 1, 2000), ctx)).toMatchObject({ nodePos: 1 });
    expect(getPolicy('first-fit').choose(c, pod(1000, 3), ctx)).toBeNull();
  });
  it('honours allowed models and per-model amounts', () => {
    const c = new ClusterState([node('a', 2, 64_000, 262_144, 'T4'), node('b', 2, 64_000, 262_144, 'A100')]);
    const req = { ...pod(0), models: ['A100'], perModel: new Map([['A100', { gpuMilli: 250, gpuMemoryMiB: 4096 }]]) };
    expect(getPolicy('first-fit').choose(c, req, ctx)).toEqual({ nodePos: 1, gpuIdx: [0], gpuMilli: 250, gpuMemoryMiB: 4096 });
  });
});

describe('best-fit', () => {
  it('picks the node left with the least free capacity, and the fullest GPU', () => {
    const c = new ClusterState([node('a', 8), node('b', 2), node('c', 4)]);
    c.allocate({ nodePos: 2, gpuIdx: [1], gpuMilli: 300, gpuMemoryMiB: 0 }, pod(300));
    const ch = getPolicy('best-fit').choose(c, pod(500), ctx);
    // b: 1500 left → (0.5·60000/128000 + 0.5·1500/8000); c: GPU 1 has 700 → c leaves 3200
    expect(ch).toMatchObject({ nodePos: 1 });
    c.allocate({ nodePos: 1, gpuIdx: [0, 1], gpuMilli: 1000, gpuMemoryMiB: 0 }, pod(1000, 2));
    expect(getPolicy('best-fit').choose(c, pod(500), ctx)).toMatchObject({ nodePos: 2, gpuIdx: [1] });
  });
  it('never mutates the cluster', () => {
    const c = new ClusterState([node('a', 2)]);
    const before = JSON.stringify(c.nodes);
    getPolicy('best-fit').choose(c, pod(500), ctx);
    getPolicy('first-fit').choose(c, pod(500), ctx);
    expect(JSON.stringify(c.nodes)).toBe(before);
  });
});
