// A task's resource request → what placement charges on each GPU model. A fixed share costs
// the same compute everywhere, but its memory follows the model; a memory or TFLOPS share costs
// a different fraction of each model, so it is resolved per model (`perModel`).
import type { PerGpuAmount, ResolvedPodRequest } from './placement/cluster.js';
import { formatMiB } from './quantity.js';
import { MILLI_PER_GPU, type GpuRequest, type ResourceRequest } from './types.js';

/** A GPU model present in the pool, as placement needs it. */
export interface ModelCapacity {
  model: string;
  memoryMiB: number;
  tflops: number;
}
/** The name the scheduler uses for `ModelCapacity`. */
export type ModelInfo = ModelCapacity;

// `x` is a ratio computed in floating point; 0.25 * 1000 may come out as 250.00000000000003,
// which must not round up to 251.
const ceilMilli = (x: number): number => Math.ceil(x - 1e-9);

/** Per-GPU amounts of `gpu` on one model, or null when that model cannot hold it. */
export function amountForModel(gpu: GpuRequest, m: ModelCapacity): PerGpuAmount | null {
  if (gpu.model !== undefined && gpu.model !== m.model) return null;
  if (gpu.model === undefined && gpu.anyOf !== undefined && gpu.anyOf.length > 0 && !gpu.anyOf.includes(m.model)) return null;
  const share = gpu.share;
  let milli: number;
  let memory: number;
  switch (share.kind) {
    case 'milli':
      milli = share.milli;
      memory = milli >= MILLI_PER_GPU ? m.memoryMiB : (gpu.memoryMiB ?? Math.floor((milli * m.memoryMiB) / MILLI_PER_GPU));
      break;
    case 'memory':
      if (m.memoryMiB <= 0) return null;
      milli = Math.max(1, ceilMilli((share.memoryMiB * MILLI_PER_GPU) / m.memoryMiB));
      memory = share.memoryMiB;
      break;
    case 'tflops':
      if (m.tflops <= 0) return null;
      milli = Math.max(1, ceilMilli((share.tflops * MILLI_PER_GPU) / m.tflops));
      memory = gpu.memoryMiB ?? Math.floor((milli * m.memoryMiB) / MILLI_PER_GPU);
      break;
  }
  if (milli > MILLI_PER_GPU || memory > m.memoryMiB) return null;
  return { gpuMilli: milli, gpuMemoryMiB: memory };
}

/**
 * Resolve `resources` against the GPU models of the pool. `perModel` holds every model the
 * request can run on (a model missing from it is excluded). The flat `gpuMilli`/`gpuMemoryMiB`
 * are the smallest per-GPU amounts over those models (0 when none), for summaries and workload
 * statistics; placement reads `perModel`.
 * @example resolveRequest({gpu: {count: 1, share: {kind: 'tflops', tflops: 20}}, cpuMilli: 1000, memoryMiB: 1024},
 *   [{model: 'L4', memoryMiB: 24576, tflops: 121}]).perModel.get('L4') // {gpuMilli: 166, gpuMemoryMiB: 4079}
 */
export function resolveRequest(resources: ResourceRequest, models: readonly ModelCapacity[]): ResolvedPodRequest {
  const gpu = resources.gpu;
  const base = { cpuMilli: resources.cpuMilli, memoryMiB: resources.memoryMiB };
  if (gpu === null) return { ...base, gpuCount: 0, gpuMilli: 0, gpuMemoryMiB: 0, models: [] };

  const perModel = new Map<string, PerGpuAmount>();
  for (const m of models) {
    if (perModel.has(m.model)) continue; // first entry of a model wins
    const a = amountForModel(gpu, m);
    if (a) perModel.set(m.model, a);
  }
  let gpuMilli = 0;
  let gpuMemoryMiB = 0;
  if (perModel.size > 0) {
    gpuMilli = Math.min(...[...perModel.values()].map((a) => a.gpuMilli));
    gpuMemoryMiB = Math.min(...[...perModel.values()].map((a) => a.gpuMemoryMiB));
  } else if (gpu.share.kind === 'milli') {
    gpuMilli = gpu.share.milli;
  }
  return {
    ...base,
    gpuCount: gpu.count,
    gpuMilli,
    gpuMemoryMiB,
    models: gpu.model !== undefined ? [gpu.model] : gpu.anyOf !== undefined ? [...gpu.anyOf] : [],
    perModel,
  };
}

function trim(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}

/** The GPU part of a request in words: `0.5 GPU`, `2 GPUs (H100-80GB)`, `20 TFLOPS of a GPU`. */
export function describeGpu(gpu: GpuRequest): string {
  const s = gpu.share;
  let text: string;
  if (s.kind === 'milli' && s.milli >= MILLI_PER_GPU) text = `${gpu.count} GPU${gpu.count === 1 ? '' : 's'}`;
  else if (s.kind === 'milli') text = `${trim(s.milli / MILLI_PER_GPU)} GPU`;
  else if (s.kind === 'memory') text = `a GPU share with ${formatMiB(s.memoryMiB)}`;
  else text = `${trim(s.tflops)} TFLOPS of a GPU`;
  if (gpu.memoryMiB !== undefined && s.kind !== 'memory') text += ` with ${formatMiB(gpu.memoryMiB)}`;
  if (gpu.model !== undefined) text += ` (${gpu.model})`;
  return text;
}

/**
 * A request in words, for messages.
 * @example describeRequest(spec.resources) // '0.5 GPU, 1 CPU, 1 GiB RAM'
 */
export function describeRequest(resources: ResourceRequest): string {
  const cores = resources.cpuMilli / 1000;
  const parts = [`${trim(cores)} CPU${cores === 1 || cores < 1 ? '' : 's'}`, `${formatMiB(resources.memoryMiB)} RAM`];
  if (resources.gpu) parts.unshift(describeGpu(resources.gpu));
  return parts.join(', ');
}
