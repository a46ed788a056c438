// What a GPU slice comes with. A fraction or a TFLOPS request gets GPU memory in proportion to
// its compute share unless it names an amount, and a TFLOPS share is a tiny slice of a big GPU
// (20 TFLOPS of an H100 is 0.021 of it and 1.68 GiB): say so where the request is made.
import { formatMiB } from '../core/quantity.js';
import { amountForModel, type ModelCapacity } from '../core/resolve.js';
import { MILLI_PER_GPU, type GpuRequest } from '../core/types.js';

/** The distinct models of a GPU list (`client.gpus()`), as `amountForModel` takes them. */
export function modelsOf(gpus: readonly { model: string; memoryMiB: number; tflops: number }[]): ModelCapacity[] {
  const seen = new Map<string, ModelCapacity>();
  for (const g of gpus) if (!seen.has(g.model)) seen.set(g.model, { model: g.model, memoryMiB: g.memoryMiB, tflops: g.tflops });
  return [...seen.values()];
}

/**
 * One line saying what a share of a GPU comes with on each model of the pool, or undefined for
 * whole GPUs, memory shares and requests that name their memory (nothing is implied there).
 * @example sliceNote({count: 1, share: {kind: 'tflops', tflops: 20}}, [{model: 'H100-80GB', memoryMiB: 81920, tflops: 989}], '--gpu-memory')
 *   // '20 TFLOPS is 0.021 of an H100-80GB (989 TFLOPS dense BF16) with 1.68 GiB of GPU memory; set --gpu-memory for more'
 */
export function sliceNote(gpu: GpuRequest | null | undefined, models: readonly ModelCapacity[], memoryFlag: string): string | undefined {
  if (!gpu || gpu.memoryMiB !== undefined) return undefined;
  const s = gpu.share;
  if (s.kind === 'memory' || (s.kind === 'milli' && s.milli >= MILLI_PER_GPU)) return undefined;
  const what = s.kind === 'tflops' ? `${s.tflops} TFLOPS` : `${s.milli / MILLI_PER_GPU} GPU`;
  const parts: string[] = [];
  for (const m of models) {
    const a = amountForModel(gpu, m);
    if (!a) continue;
    parts.push(
      s.kind === 'tflops'
        ? `is ${a.gpuMilli / MILLI_PER_GPU} of ${article(m.model)} (${m.tflops} TFLOPS dense BF16) with ${formatMiB(a.gpuMemoryMiB)} of GPU memory`
        : `comes with ${formatMiB(a.gpuMemoryMiB)} of GPU memory on ${article(m.model)}`,
    );
  }
  if (parts.length === 0) return `${what} gets GPU memory in proportion to its share of the GPU it lands on; set ${memoryFlag} to say how much`;
  return `${what} ${parts.join(', or ')}; set ${memoryFlag} for more`;
}

function article(model: string): string {
  return `${/^[AEFHILMNORSX]/i.test(model) ? 'an' : 'a'} ${model}`;
}
