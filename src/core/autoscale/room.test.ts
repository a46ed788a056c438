import { describe, expect, it } from 'vitest';
import { freeRoom } from './room.js';

describe('freeRoom', () => {
  it('takes each placement off its GPUs, CPU and RAM, and never goes below zero', () => {
    const node = { cpuMilli: 8000, memoryMiB: 32_768, gpus: [{ index: 0, memoryMiB: 16_384 }, { index: 1, memoryMiB: 16_384 }] };
    const half = { gpus: [1], gpuMilli: 500, memoryMiB: 8192, cpuMilli: 2000, hostMemoryMiB: 4096 };
    const whole = { gpus: [0], gpuMilli: 1000, memoryMiB: 16_384, cpuMilli: 7000, hostMemoryMiB: 4096 };
    expect(freeRoom(node, [])).toEqual({ gpuMilli: [1000, 1000], gpuMemoryMiB: [16_384, 16_384], cpuMilli: 8000, memoryMiB: 32_768 });
    expect(freeRoom(node, [half])).toEqual({ gpuMilli: [1000, 500], gpuMemoryMiB: [16_384, 8192], cpuMilli: 6000, memoryMiB: 28_672 });
    // Over-committed CPU (a stale view) reads as none left, not as negative room.
    expect(freeRoom(node, [half, whole])).toEqual({ gpuMilli: [0, 500], gpuMemoryMiB: [0, 8192], cpuMilli: 0, memoryMiB: 24_576 });
  });
});
