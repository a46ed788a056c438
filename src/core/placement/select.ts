// Shared building blocks for policies: GPU choice inside a node and node choice by score.
import { amountOn, gpuFits, hostFits, type PerGpuAmount, type ResolvedPodRequest } from './cluster.js';
import type { ClusterView, NodeSlot, PlacementChoice, Rng } from './types.js';

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

/** Calls `visit` for each node where `req` fits now (host resources, model, enough GPUs). */
export function forEachCandidate(cluster: ClusterView, req: ResolvedPodRequest, visit: (c: Candidate) => void): void {
  for (const node of cluster.nodes) {
    if (!hostFits(node, req)) continue;
    const amount = amountOn(node, req);
    if (!amount) continue;
    if (req.gpuCount > 0) {
      let n = 0;
      for (const g of node.gpus) if (gpuFits(g, amount) && ++n >= req.gpuCount) break;
      if (n < req.gpuCount) continue;
    }
    visit({ node, amount });
  }
}

export function choice(node: NodeSlot, amount: PerGpuAmount, gpuIdx: number[]): PlacementChoice {
  return { nodePos: node.pos, gpuIdx, gpuMilli: amount.gpuMilli, gpuMemoryMiB: amount.gpuMemoryMiB };
}

/**
 * Keeps the highest-scoring candidate; ties are broken uniformly at random with `rng` when given
 * (reservoir sampling, as the Kubernetes scheduler does), else by the lowest node position.
 */
export class ArgMax<T> {
  best: T | null = null;
  private score = -Infinity;
  private ties = 0;
  constructor(private readonly rng?: Rng) {}

  offer(item: T, score: number): void {
    if (score > this.score) {
      this.score = score;
      this.best = item;
      this.ties = 1;
    } else if (score === this.score && this.rng) {
      this.ties++;
      if (this.rng() * this.ties < 1) this.best = item;
    }
  }
}
