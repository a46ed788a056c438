// The wire shapes of the REST API (docs/CONTRACTS.md), as the SDK sees them. Views are flat
// JSON for people and scripts: times are ISO strings, ids are strings made by the server.
import type { TaskState } from '../core/types.js';
import type { AttemptView, TaskView } from '../protocol/views.js';

export type { PendingReason, TaskState } from '../core/types.js';

/** A GPU request as users write it: `1`, `0.5`, `"A100:0.5"`, `"2xH100"`, `{count: 2, model: 'H100'}`, `{memory: '20GiB'}`, `{tflops: 20}`. */
export type GpuRequestInput =
  | number
  | string
  | {
      count?: number;
      model?: string;
      memory?: string | number;
      tflops?: number;
      fraction?: number;
    };

/** One data input of a task: a dataset staged at `path` (default its name), in FASTGPU_INPUT_<NAME>. */
export interface DataInputSpec {
  dataset: string;
  path?: string;
  name?: string;
}

/**
 * One data output of a task: after it exits 0, the folder or file at `path` (relative to its working
 * directory) is uploaded as a new version of `dataset`, owned by the task's tenant.
 */
export interface DataOutputSpec {
  path: string;
  dataset: string;
}

/** A task spec as submitted (the JSON form of the YAML); the server validates and normalises it. */
export interface TaskSpecInput {
  name?: string;
  /** argv, or a string run with `sh -c`. */
  command: string | string[];
  env?: Record<string, string>;
  workdir?: string;
  resources?: {
    gpu?: GpuRequestInput;
    cpu?: number | string;
    memory?: string | number;
  };
  priority?: number;
  timeLimit?: string | number;
  retries?: number;
  preemptible?: boolean;
  gang?: number;
  vgpu?: string;
  /**
   * Datasets staged read-only under the working directory before it starts (`{dataset: 'NAME[@VERSION]', path?, name?}`).
   * (An array's `inputs`, a list of any JSON values, is the map form: see ArraySpecInput.)
   */
  inputs?: DataInputSpec[];
  /** Folders or files uploaded as new dataset versions after a successful exit (`{path: 'out/', dataset: 'NAME'}`). */
  outputs?: DataOutputSpec[];
}

/**
 * The views as the server sends them, declared once with their zod schemas in
 * src/protocol/views.ts (the schemas are exported too, to validate answers where that matters).
 */
export type { AttemptView, GpuView, LogChunkView, LogPage, NodeView, PlacementView, SliceView, TaskView, VgpuView } from '../protocol/views.js';
export { AttemptViewSchema, GpuViewSchema, LogPageSchema, NodeViewSchema, TaskDetailViewSchema, TaskViewSchema, VgpuViewSchema } from '../protocol/views.js';
export type { TaskEventPage } from '../protocol/api.js';
/** A slice of a GPU (a task or a vGPU on it). */
export type { SliceView as GpuSliceView } from '../protocol/views.js';

/** One entry of a task's history and of the pool's event stream: `at` in epoch milliseconds. */
export type { PoolEvent } from '../core/types.js';

/** `GET /v1/tasks/:id`: the task, `attempts` its count as in every view, and its attempts in `history`. */
export interface TaskDetail extends TaskView {
  history: AttemptView[];
  /** Its `outputs:` with the dataset version each made (null until uploaded, or when it failed); issue 16. */
  outputs?: { path: string; dataset: string; version: number | null }[];
}

/** What `POST /v1/vgpus` takes. */
export interface VgpuRequest {
  name?: string;
  gpu?: number | string;
  memory?: string;
  tflops?: number;
  model?: string;
}

export interface TaskFilter {
  state?: TaskState | TaskState[];
  name?: string;
  node?: string;
  vgpu?: string;
  limit?: number;
  before?: string;
  /** Every task, not only live ones and the last 100 finished. */
  all?: boolean;
}

/** One page of tasks, newest first; `next` (pass it as `before`) is there while older ones follow. */
export interface TaskPage {
  tasks: TaskView[];
  next?: string;
}

export const TERMINAL: readonly TaskState[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT'];
export const isTerminal = (s: TaskState): boolean => TERMINAL.includes(s);
