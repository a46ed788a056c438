// The room left on a node: its GPUs, CPU and RAM less what the placements on it take. The server
// and the simulator both hand it to the autoscaler, which keeps the warm headroom with it.
import { MILLI_PER_GPU, type Placement } from '../types.js';
import type { FreeRoom } from './types.js';

export interface NodeCapacity {
  cpuMilli: number;
  memoryMiB: number;
  gpus: readonly { index: number; memoryMiB: number }[];
}

type Taken = Pick<Placement, 'gpus' | 'gpuMilli' | 'memoryMiB' | 'cpuMilli' | 'hostMemoryMiB'>;

/** What `placements` leave free on `node` (never below zero). */
export function freeRoom(node: NodeCapacity, placements: readonly Taken[]): FreeRoom {
  const slot = new Map(node.gpus.map((g, i) => [g.index, i]));
  const gpuMilli = node.gpus.map(() => MILLI_PER_GPU);
  const gpuMemoryMiB = node.gpus.map((g) => g.memoryMiB);
  let cpuMilli = node.cpuMilli;
  let memoryMiB = node.memoryMiB;
  for (const p of placements) {
    for (const idx of p.gpus) {
      const i = slot.get(idx);
      if (i === undefined) continue;
      gpuMilli[i] = Math.max(0, gpuMilli[i]! - p.gpuMilli);
      gpuMemoryMiB[i] = Math.max(0, gpuMemoryMiB[i]! - p.memoryMiB);
    }
    cpuMilli -= p.cpuMilli;
    memoryMiB -= p.hostMemoryMiB;
  }
  return { gpuMilli, gpuMemoryMiB, cpuMilli: Math.max(0, cpuMilli), memoryMiB: Math.max(0, memoryMiB) };
}
