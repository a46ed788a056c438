// Task arrays, dependencies and map (issue 14) in the TypeScript SDK.
//
//   const arr = await fg.arrays.submit({command: 'python eval.py', resources: {gpu: 0.25}, array: '0-99%8'});
//   await fg.arrays.wait(arr.id);
//   const squares = await fg.map('python -c "import json,os; x=json.loads(os.environ[\'FASTGPU_INPUT\']); open(os.environ[\'FASTGPU_RESULT\'],\'w\').write(json.dumps(x*x))"', [1, 2, 3], {gpu: 0.25});
import type { ArrayResults, ArrayView } from '../protocol/arrays.js';
import type { Requester } from './requester.js';
import { FastGpuApiError } from './errors.js';
import type { GpuRequestInput, TaskSpecInput, TaskView } from './types.js';

export type { ArrayResults, ArrayView } from '../protocol/arrays.js';

/** A dependency as the SDK takes it: `'t_abc'`, `'t_abc:any'`, or `{id, on}`. */
export type DependencyInput = string | { id: string; on?: 'ok' | 'any' | 'failed' };

/** A spec with the array fields (issue 14); a map's `inputs` (any JSON values) stand where a task's data inputs would. */
export interface ArraySpecInput extends Omit<TaskSpecInput, 'inputs'> {
  /** A Slurm range (`'0-99%8'`, `'1,3,5-7'`) or a size (`8` = indices 0…7). */
  array?: string | number;
  /** Wait for these tasks or arrays first. */
  after?: DependencyInput | DependencyInput[];
  /** One JSON value per element, given to it in FASTGPU_INPUT. */
  inputs?: unknown[];
}

export interface MapOptions {
  /** Each element's GPU share (default none: CPU only). */
  gpu?: GpuRequestInput;
  cpu?: number | string;
  memory?: string | number;
  /** The most elements at once (`%N`). */
  maxConcurrent?: number;
  name?: string;
  env?: Record<string, string>;
  retries?: number;
  timeLimit?: string | number;
  /** Give up waiting after this long (the array keeps running). */
  timeoutMs?: number;
}

/** An element that did not succeed, by index, in what `map` throws. */
export class MapError extends Error {
  constructor(
    readonly arrayId: string,
    readonly failures: { index: number; taskId: string; state: string; message: string | null }[],
    readonly results: ArrayResults,
  ) {
    super(`map ${arrayId}: ${failures.length} of ${results.results.length} elements did not succeed (first: element ${failures[0]?.index} ${failures[0]?.state}${failures[0]?.message ? `: ${failures[0].message}` : ''}); see fastgpu logs ${failures[0]?.taskId}`);
    this.name = 'MapError';
  }
}

const POLL_START_MS = 200;
const POLL_MAX_MS = 2_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What arrays need of the client: requests, and the submit (with its idempotency key and retries). */
export interface ArraysClient extends Requester {
  readonly tasks: { create(spec: TaskSpecInput): Promise<TaskView[]>; wait(id: string, opts?: { timeoutMs?: number }): Promise<TaskView> };
}

export class ArraysApi {
  constructor(private readonly client: ArraysClient) {}

  /** Submit a spec with `array:` (and optionally `after:`/`inputs:`); returns the array's status. */
  async submit(spec: ArraySpecInput): Promise<ArrayView> {
    const tasks: TaskView[] = await this.client.tasks.create(spec as TaskSpecInput);
    const id = tasks[0]?.array?.id;
    if (!id) throw new FastGpuApiError('INVALID_ARGUMENT', 'the spec made no array: give array: (a range such as "0-99%8") or inputs:');
    return this.get(id);
  }

  /** The array's counts by state, done/ok, and usage (GPU-seconds and cost so far). */
  async get(id: string): Promise<ArrayView> {
    return this.client.request<ArrayView>('GET', `/v1/arrays/${encodeURIComponent(id)}`);
  }

  /** Every element, by index. */
  async tasks(id: string): Promise<TaskView[]> {
    return (await this.client.request<{ tasks: TaskView[] }>('GET', `/v1/arrays/${encodeURIComponent(id)}/tasks`)).tasks;
  }

  /** Each element's state and $FASTGPU_RESULT, by index. */
  async results(id: string): Promise<ArrayResults> {
    return this.client.request<ArrayResults>('GET', `/v1/arrays/${encodeURIComponent(id)}/results`);
  }

  /** Cancel every element not finished yet; returns how many. */
  async cancel(id: string): Promise<{ array: ArrayView; cancelled: number }> {
    return this.client.request('POST', `/v1/arrays/${encodeURIComponent(id)}/cancel`);
  }

  /**
   * Wait until every element has finished; returns the final status.
   * @throws FastGpuApiError `TIMEOUT` when `timeoutMs` passes first.
   */
  async wait(id: string, opts: { timeoutMs?: number; onProgress?: (a: ArrayView) => void } = {}): Promise<ArrayView> {
    const deadline = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : Infinity;
    let pause = POLL_START_MS;
    for (;;) {
      const a = await this.get(id);
      opts.onProgress?.(a);
      if (a.done) return a;
      if (Date.now() + pause > deadline) throw new FastGpuApiError('TIMEOUT', `array ${id} has not finished after ${opts.timeoutMs} ms (${JSON.stringify(a.counts)})`);
      await sleep(pause);
      pause = Math.min(POLL_MAX_MS, pause * 1.5);
    }
  }

  /**
   * Run `command` once per input, each as an element of one array (its input as JSON in
   * FASTGPU_INPUT; its result is what it writes to $FASTGPU_RESULT), and return the results in
   * input order. Throws MapError when an element did not succeed.
   */
  async map(command: string | string[], inputs: readonly unknown[], opts: MapOptions = {}): Promise<unknown[]> {
    if (inputs.length === 0) return [];
    return (await this.mapArray(command, inputs, opts)).results;
  }

  /**
   * `map`, then a reduce step: `reduce` runs as one task once every element has succeeded, with
   * all their results (a JSON list by index) in FASTGPU_RESULTS; what it writes to
   * $FASTGPU_RESULT is `reduced`.
   */
  async mapReduce(command: string | string[], inputs: readonly unknown[], reduce: string | string[], opts: MapOptions = {}): Promise<{ results: unknown[]; reduced: unknown }> {
    const { arrayId, results, reduceId } = await this.mapArray(command, inputs, opts, reduce);
    if (reduceId === undefined) throw new FastGpuApiError('INTERNAL', `the server made no reduce step for ${arrayId}`);
    const done = await this.client.tasks.wait(reduceId, opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {});
    if (done.state !== 'SUCCEEDED') throw new FastGpuApiError('INTERNAL', `the reduce step ${done.id} of ${arrayId} ended ${done.state}${done.reasonMessage ? `: ${done.reasonMessage}` : ''}`);
    return { results, reduced: done.result ?? null };
  }

  private async mapArray(command: string | string[], inputs: readonly unknown[], opts: MapOptions, reduce?: string | string[]): Promise<{ arrayId: string; results: unknown[]; reduceId?: string }> {
    const spec: ArraySpecInput = { command, inputs: [...inputs], name: opts.name ?? 'map' };
    if (opts.maxConcurrent !== undefined) spec.array = `0-${inputs.length - 1}%${opts.maxConcurrent}`;
    const resources: NonNullable<TaskSpecInput['resources']> = {};
    if (opts.gpu !== undefined) resources.gpu = opts.gpu;
    if (opts.cpu !== undefined) resources.cpu = opts.cpu;
    if (opts.memory !== undefined) resources.memory = opts.memory;
    spec.resources = resources;
    if (opts.env) spec.env = opts.env;
    if (opts.retries !== undefined) spec.retries = opts.retries;
    if (opts.timeLimit !== undefined) spec.timeLimit = opts.timeLimit;
    const arr = await this.submit(spec);
    // Submitted now, it waits on the server (reason Dependency) and runs as soon as the array has succeeded.
    const reduceId = reduce !== undefined ? (await this.client.tasks.create({ command: reduce, name: `${spec.name ?? 'map'}-reduce`, reduce: arr.id } as TaskSpecInput))[0]?.id : undefined;
    await this.wait(arr.id, opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {});
    const res = await this.results(arr.id);
    const failures = res.results.filter((r) => r.state !== 'SUCCEEDED').map((r) => ({ index: r.index, taskId: r.taskId, state: r.state, message: r.reasonMessage }));
    if (failures.length > 0) throw new MapError(arr.id, failures, res);
    const out = { arrayId: arr.id, results: res.results.map((r) => r.result ?? null) };
    return reduceId !== undefined ? { ...out, reduceId } : out;
  }
}
