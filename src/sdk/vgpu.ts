// VirtualGPU: a slice of one GPU reserved ahead, that tasks are submitted into (the seed SDK's
// `VirtualGPU.create(20, 'tflops')`). Tasks inside run in the slice, queued when it is busy.
import { FastGPU, type FastGPUOptions } from './client.js';
import { FastGpuApiError } from './errors.js';
import type { TaskSpecInput, TaskView, VgpuRequest, VgpuView } from './types.js';

export type VgpuUnit = 'gpu' | 'tflops' | 'memoryGiB';

export interface VirtualGPUOptions {
  /** Required GPU model, e.g. `H100`. */
  model?: string;
  name?: string;
  /** The client to use; default `new FastGPU()` (env, then `$FASTGPU_HOME/config.json`). */
  client?: FastGPU | FastGPUOptions;
}

export interface VirtualGPUSpec extends VirtualGPUOptions {
  /** Fraction of one GPU's compute, 0 < gpu ≤ 1. */
  gpu?: number;
  /** GPU memory, e.g. `20GiB`. */
  memory?: string;
  /** Compute in TFLOPS; becomes a fraction of the model it lands on. */
  tflops?: number;
}

export class VirtualGPU {
  private readonly submitted: string[] = [];

  private constructor(
    readonly client: FastGPU,
    private current: VgpuView,
  ) {}

  /**
   * Reserves a slice of one GPU.
   * @example await VirtualGPU.create(20, 'tflops'); await VirtualGPU.create(0.5); await VirtualGPU.create({gpu: 0.5, memory: '20GiB'})
   */
  static create(amount: number, unit?: VgpuUnit, opts?: VirtualGPUOptions): Promise<VirtualGPU>;
  static create(spec: VirtualGPUSpec): Promise<VirtualGPU>;
  static async create(a: number | VirtualGPUSpec, unit: VgpuUnit = 'gpu', opts: VirtualGPUOptions = {}): Promise<VirtualGPU> {
    const spec: VirtualGPUSpec = typeof a === 'number' ? { ...opts, ...amountOf(a, unit) } : a;
    const req: VgpuRequest = {};
    if (spec.gpu !== undefined) req.gpu = spec.gpu;
    if (spec.memory !== undefined) req.memory = spec.memory;
    if (spec.tflops !== undefined) req.tflops = spec.tflops;
    if (spec.model !== undefined) req.model = spec.model;
    if (spec.name !== undefined) req.name = spec.name;
    if (req.gpu === undefined && req.memory === undefined && req.tflops === undefined) {
      throw new FastGpuApiError('INVALID_ARGUMENT', 'vgpu: say how big: gpu (a fraction), memory or tflops', 0, 'gpu');
    }
    const client = clientOf(spec.client);
    return new VirtualGPU(client, await client.vgpus.create(req));
  }

  /** An existing reservation. */
  static async get(id: string, client?: FastGPU | FastGPUOptions): Promise<VirtualGPU> {
    const c = clientOf(client);
    return new VirtualGPU(c, await c.vgpus.get(id));
  }

  get id(): string {
    return this.current.id;
  }

  /** The reservation as last seen (state, placement). */
  get view(): VgpuView {
    return this.current;
  }

  async refresh(): Promise<VgpuView> {
    this.current = await this.client.vgpus.get(this.id);
    return this.current;
  }

  /**
   * Runs a task inside this slice. A string is run with `sh -c`; an array is argv.
   * @example await vg.submit('python train.py --epochs 3')
   */
  async submit(task: TaskSpecInput | string | string[]): Promise<TaskView> {
    const spec: TaskSpecInput = typeof task === 'string' || Array.isArray(task) ? { command: task } : { ...task };
    spec.vgpu = this.id;
    const created = await this.client.tasks.create(spec);
    for (const t of created) this.submitted.push(t.id);
    const first = created[0];
    if (!first) throw new FastGpuApiError('INTERNAL', 'the server created no task');
    return first;
  }

  /** Waits for every task submitted through this object and returns them, finished, in submit order. */
  async wait(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<TaskView[]> {
    return Promise.all(this.submitted.map((id) => this.client.tasks.wait(id, opts)));
  }

  /** Releases the slice; unfinished tasks in it are cancelled. */
  async delete(): Promise<void> {
    this.current = await this.client.vgpus.delete(this.id);
  }
}

function amountOf(amount: number, unit: VgpuUnit): Pick<VirtualGPUSpec, 'gpu' | 'memory' | 'tflops'> {
  switch (unit) {
    case 'gpu':
      return { gpu: amount };
    case 'tflops':
      return { tflops: amount };
    case 'memoryGiB':
      return { memory: `${amount}GiB` };
    default:
      throw new FastGpuApiError('INVALID_ARGUMENT', `unit: ${JSON.stringify(unit)} is not one of gpu, tflops, memoryGiB`, 0, 'unit');
  }
}

function clientOf(c: FastGPU | FastGPUOptions | undefined): FastGPU {
  return c instanceof FastGPU ? c : new FastGPU(c ?? {});
}
