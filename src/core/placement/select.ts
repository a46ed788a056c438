// Shared building blocks for policies: GPU choice inside a node (node choice by score is
// chooseBest, scored.ts).
import { gpuFits, type PerGpuAmount } from './cluster.js';
import type { NodeSlot, PlacementChoice } from './types.js';

/**
 * The `count` GPUs of `node` that fit `amount`, the fullest first (best fit), ties by index.
 * Returns null when fewer than `count` fit.
 */
export function bestFitGpus(node: NodeSlot, amount: PerGpuAmount, count: number): number[] | null {
  const fit: number[] = [];
  for (let i = 0; i < node.gpus.length; i++) if (gpuFits(node.gpus[i]!, amount)) fit.push(i);
  if (fit.length < count) return null;
  if (count === 0) return [];
  fit.sort((a, b) => node.gpus[a]!.freeMilli - node.gpus[b]!.freeMilli || a - b);
  return fit.slice(0, count);
}

/** The first `count` GPUs (by index) of `node` that fit `amount`, or null. */
export function firstFitGpus(node: NodeSlot, amount: PerGpuAmount, count: number): number[] | null {
  const out: number[] = [];
  if (count === 0) return out;
  for (let i = 0; i < node.gpus.length; i++) {
    if (gpuFits(node.gpus[i]!, amount)) {
      out.push(i);
      if (out.length === count) return out;
    }
  }
  return null;
}

/** A node the request can go to, with the per-GPU amounts it would take there. */
export interface Candidate {
  node: NodeSlot;
  amount: PerGpuAmount;
}

export function choice(node: NodeSlot, amount: PerGpuAmount, gpuIdx: number[]): PlacementChoice {
  return { nodePos: node.pos, gpuIdx, gpuMilli: amount.gpuMilli, gpuMemoryMiB: amount.gpuMemoryMiB };
}
