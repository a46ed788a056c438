// TEMPORARY stand-in for src/core/resolve.ts (owned by the core-domain engineer) until it lands:
// same signatures, minimal behaviour. Replaced by a re-export of '../resolve.js'.
import type { ResolvedPodRequest } from '../placement/cluster.js';
import type { ResourceRequest } from '../types.js';

export interface ModelInfo {
  model: string;
  memoryMiB: number;
  tflops: number;
}

export function resolveRequest(resources: ResourceRequest, models: readonly ModelInfo[]): ResolvedPodRequest {
  const g = resources.gpu;
  const base = { cpuMilli: resources.cpuMilli, memoryMiB: resources.memoryMiB };
  if (!g) return { ...base, gpuCount: 0, gpuMilli: 0, gpuMemoryMiB: 0, models: [] };
  const perModel = new Map<string, { gpuMilli: number; gpuMemoryMiB: number }>();
  for (const m of models) {
    if (g.model && m.model !== g.model) continue;
    let milli: number;
    if (g.share.kind === 'milli') milli = g.share.milli;
    else if (g.share.kind === 'memory') milli = Math.ceil((g.share.memoryMiB / m.memoryMiB) * 1000);
    else milli = Math.ceil((g.share.tflops / m.tflops) * 1000);
    const mem = g.memoryMiB ?? (g.share.kind === 'memory' ? g.share.memoryMiB : Math.ceil((Math.min(milli, 1000) / 1000) * m.memoryMiB));
    if (milli > 1000 || mem > m.memoryMiB) continue;
    perModel.set(m.model, { gpuMilli: Math.max(1, milli), gpuMemoryMiB: mem });
  }
  const milli = g.share.kind === 'milli' ? g.share.milli : 1000;
  return { ...base, gpuCount: g.count, gpuMilli: milli, gpuMemoryMiB: g.memoryMiB ?? 0, models: g.model ? [g.model] : [], perModel };
}

export function describeRequest(resources: ResourceRequest): string {
  const g = resources.gpu;
  const parts: string[] = [];
  if (g) {
    const share = g.share.kind === 'milli' ? `${g.share.milli / 1000}` : g.share.kind === 'memory' ? `${g.share.memoryMiB} MiB` : `${g.share.tflops} TFLOPS`;
    parts.push(`${g.count > 1 ? `${g.count}x` : ''}${share} GPU${g.model ? ` (${g.model})` : ''}`);
  }
  parts.push(`${resources.cpuMilli / 1000} CPU`, `${resources.memoryMiB} MiB RAM`);
  return parts.join(', ');
}
