// `client.sweeps`: hyper-parameter sweeps over /v1/sweeps. A sweep's trials are tasks; the
// server samples them, keeps `max_concurrent` running, stops losers early and honours a cost cap.
import type { Requester } from './requester.js';

export type SweepParam =
  | (string | number | boolean)[]
  | { grid: (string | number | boolean)[] }
  | { choice: (string | number | boolean)[] }
  | { uniform: [number, number]; int?: boolean }
  | { loguniform: [number, number]; int?: boolean };

/** A sweep file, as `fastgpu sweep FILE.yaml` reads it. */
export interface SweepInput {
  name?: string;
  /** The trial command; `{name}` is replaced by each parameter's value. */
  command: string | string[];
  space?: Record<string, SweepParam>;
  trials?: number;
  max_concurrent?: number;
  /** Each trial's GPU: 0.25, 'A100:0.5', {fraction: 0.25}. */
  gpu?: number | string | Record<string, unknown>;
  /** GPU memory of each trial's slice, e.g. '10GiB'. */
  memory?: string | number;
  cpu?: string | number;
  host_memory?: string | number;
  env?: Record<string, string>;
  workdir?: string;
  time_limit?: string | number;
  priority?: number;
  retries?: number;
  preemptible?: boolean;
  metric: string | { name: string; goal?: 'minimize' | 'maximize' };
  goal?: 'minimize' | 'maximize';
  early_stopping?: { rule: 'none' | 'median' | 'asha'; min_steps?: number; min_trials?: number; min_step?: number; max_step?: number; reduction_factor?: number };
  /** Stop the sweep when its trials have cost this much, e.g. '25.00'. */
  cost_cap?: string | number;
  seed?: number;
  backend?: 'native' | 'optuna';
}

export type SweepState = 'RUNNING' | 'SUCCEEDED' | 'CANCELLED' | 'CAPPED' | 'FAILED';
export type TrialState = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'PRUNED' | 'CANCELLED';

export interface SweepSummary {
  id: string;
  tenant: string;
  name: string;
  state: SweepState;
  createdAt: number;
  finishedAt: number | null;
  nextTrial: number;
  trials: number;
  message: string | null;
}

export interface TrialView {
  index: number;
  taskId: string;
  params: Record<string, string | number | boolean>;
  state: TrialState;
  taskState: string | null;
  slice: { gpuMilli: number; memoryMiB: number; node: string; gpus: number[] } | null;
  cost: number;
  costMicros: string;
  best: { value: number; step: number } | null;
  lastStep: number | null;
  points: number;
  message: string | null;
}

export interface SweepDetail {
  sweep: SweepSummary;
  /** `optuna`: a driver (Python, `fastgpu.sweep_optuna`) asks for the trials and prunes them. */
  backend: 'native' | 'optuna';
  metric: string;
  goal: 'minimize' | 'maximize';
  maxConcurrent: number;
  costCap: number | null;
  cost: number;
  currency: string;
  counts: Partial<Record<TrialState, number>>;
  best: TrialView | null;
  trials: TrialView[];
}

export interface SweepMetrics {
  metric: string;
  series: { index: number; taskId: string; state: TrialState; points: { step: number; at: number; values: Record<string, number> }[] }[];
}

export class SweepsApi {
  constructor(private readonly client: Requester) {}

  /**
   * Start a sweep; answers with its first trials submitted.
   * @example await fg.sweeps.create({command: 'python train.py --lr {lr}', space: {lr: {loguniform: [1e-5, 0.1]}}, trials: 32, gpu: 0.25, metric: 'loss'})
   */
  async create(input: SweepInput, opts: { tenant?: string } = {}): Promise<SweepDetail> {
    return this.client.request<SweepDetail>('POST', '/v1/sweeps', { body: input, query: { tenant: opts.tenant } });
  }

  async list(opts: { tenant?: string; live?: boolean } = {}): Promise<SweepSummary[]> {
    return (await this.client.request<{ sweeps: SweepSummary[] }>('GET', '/v1/sweeps', { query: { tenant: opts.tenant, live: opts.live } })).sweeps;
  }

  /** Status: every trial with its state, slice, cost and best value, and the best trial. */
  async get(id: string): Promise<SweepDetail> {
    return this.client.request<SweepDetail>('GET', `/v1/sweeps/${encodeURIComponent(id)}`);
  }

  /** The best trial so far (null before any report). */
  async best(id: string): Promise<TrialView | null> {
    return (await this.get(id)).best;
  }

  async metrics(id: string): Promise<SweepMetrics> {
    return this.client.request<SweepMetrics>('GET', `/v1/sweeps/${encodeURIComponent(id)}/metrics`);
  }

  async cancel(id: string): Promise<SweepSummary> {
    return this.client.request<SweepSummary>('POST', `/v1/sweeps/${encodeURIComponent(id)}/cancel`);
  }
}
