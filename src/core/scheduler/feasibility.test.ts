import { describe, expect, it } from 'vitest';
import type { ResourceRequest } from '../types.js';
import { whyNeverFits, whyReservationNeverFits } from './feasibility.js';
import { gpuReq, makeNode } from './testing.js';

const res = (gpu: Parameters<typeof gpuReq>[0], cpuMilli = 1000, memoryMiB = 1024): ResourceRequest => ({ gpu: gpuReq(gpu), cpuMilli, memoryMiB });
const GiB = 1024;

describe('whyNeverFits', () => {
  const oneH100 = [makeNode('n1', { gpus: 1, cpuMilli: 16_000, memoryMiB: 64 * GiB })];

  it('accepts what an empty node could hold, and anything while no node is registered', () => {
    expect(whyNeverFits(res(0.5), oneH100)).toBeNull();
    expect(whyNeverFits(res(1), oneH100)).toBeNull();
    expect(whyNeverFits(res(null, 16_000), oneH100)).toBeNull();
    expect(whyNeverFits(res(8, 512_000), [])).toBeNull();
  });

  it('counts GPUs on one node', () => {
    expect(whyNeverFits(res(2), oneH100)).toBe('needs 2 GPUs on one node; the largest node has 1 (1xH100-80GB)');
    const two = [makeNode('a', { gpus: 1 }), makeNode('b', { gpus: 1 })];
    expect(whyNeverFits(res(2), two)).toBe('needs 2 GPUs on one node; the largest node has 1 (1xH100-80GB)');
  });

  it('names a missing model', () => {
    const r: ResourceRequest = { gpu: { count: 1, share: { kind: 'milli', milli: 500 }, model: 'A100-80GB' }, cpuMilli: 1000, memoryMiB: 1024 };
    expect(whyNeverFits(r, oneH100)).toBe('needs model A100-80GB; the pool has H100-80GB');
  });

  it('names GPU memory and TFLOPS too large for any GPU', () => {
    const l4 = [makeNode('l', { gpus: 2, model: 'L4', gpuMemoryMiB: 24 * GiB, tflops: 121 })];
    const mem: ResourceRequest = { gpu: { count: 1, share: { kind: 'memory', memoryMiB: 40 * GiB } }, cpuMilli: 1000, memoryMiB: 1024 };
    expect(whyNeverFits(mem, l4)).toBe('needs 40 GiB of GPU memory per GPU; the largest GPU has 24 GiB (L4)');
    const explicit: ResourceRequest = { gpu: { count: 1, share: { kind: 'milli', milli: 500 }, memoryMiB: 30 * GiB }, cpuMilli: 1000, memoryMiB: 1024 };
    expect(whyNeverFits(explicit, l4)).toBe('needs 30 GiB of GPU memory per GPU; the largest GPU has 24 GiB (L4)');
    const fast: ResourceRequest = { gpu: { count: 1, share: { kind: 'tflops', tflops: 500 } }, cpuMilli: 1000, memoryMiB: 1024 };
    expect(whyNeverFits(fast, l4)).toBe('needs 500 TFLOPS per GPU; the fastest GPU has 121 (L4)');
    expect(whyNeverFits({ ...fast, gpu: { count: 1, share: { kind: 'tflops', tflops: 60 } } }, l4)).toBeNull();
  });

  it('says when only exclusive GPUs could hold a fraction', () => {
    const ex = [makeNode('x', { gpus: 4, sharing: 'exclusive' })];
    expect(whyNeverFits(res(0.5), ex)).toBe('needs 0.5 of a GPU, but every GPU that could hold it is exclusive (whole GPUs only)');
    expect(whyNeverFits(res(2), ex)).toBeNull();
  });

  it('names CPU and RAM beyond the largest node', () => {
    expect(whyNeverFits(res(null, 512_000), oneH100)).toBe('needs 512 CPUs; the largest node has 16 CPUs');
    expect(whyNeverFits(res(0.5, 1000, 128 * GiB), oneH100)).toBe('needs 128 GiB of RAM; the largest node has 64 GiB');
    const mixed = [makeNode('gpu', { gpus: 1, cpuMilli: 8000 }), makeNode('cpu', { gpus: 0, cpuMilli: 64_000 })];
    expect(whyNeverFits(res(1, 32_000), mixed)).toBe('needs 32 CPUs; the largest node that has the GPUs has 8 CPUs');
    expect(whyNeverFits(res(null, 32_000), mixed)).toBeNull();
  });

  it('checks that a whole gang fits the empty pool at once', () => {
    const two = [makeNode('a', { gpus: 1 }), makeNode('b', { gpus: 1 })];
    expect(whyNeverFits(res(1), two, 2)).toBeNull();
    expect(whyNeverFits(res(0.5), two, 4)).toBeNull();
    expect(whyNeverFits(res(1), two, 3)).toBe('a gang of 3 needs them all placed at once, each 1 GPU, 1 CPU, 1 GiB RAM; the whole pool holds 2 when empty');
    // A CPU-only gang is bounded by CPUs.
    expect(whyNeverFits(res(null, 40_000), [makeNode('c', { gpus: 0, cpuMilli: 64_000 })], 2)).toMatch(/holds 1 when empty$/);
  });

  it('says when the pool has no GPU at all', () => {
    expect(whyNeverFits(res(1), [makeNode('c', { gpus: 0 })])).toBe('needs 1 GPU; no node in the pool has a GPU');
  });

  it('considers nodes in every state', () => {
    expect(whyNeverFits(res(4), [makeNode('l', { gpus: 8, state: 'LOST' }), makeNode('r', { gpus: 1 })])).toBeNull();
  });
});

describe('whyReservationNeverFits', () => {
  it('checks one slice of one GPU', () => {
    const nodes = [makeNode('n', { gpus: 1, model: 'L4', gpuMemoryMiB: 24 * GiB, tflops: 121 })];
    expect(whyReservationNeverFits({ count: 1, share: { kind: 'tflops', tflops: 20 } }, nodes)).toBeNull();
    expect(whyReservationNeverFits({ count: 1, share: { kind: 'memory', memoryMiB: 48 * GiB } }, nodes)).toBe(
      'needs 48 GiB of GPU memory per GPU; the largest GPU has 24 GiB (L4)',
    );
  });
});
