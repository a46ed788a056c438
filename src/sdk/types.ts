// The wire shapes of the REST API (docs/CONTRACTS.md), as the SDK sees them. Views are flat
// JSON for people and scripts: times are ISO strings, ids are strings made by the server.
import type { PendingReason, TaskSpec, TaskState } from '../core/types.js';
import type { PlacementView, TaskView } from '../protocol/api.js';

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
}

/** A placement and a task as the server sends them (shared with the server: src/protocol/api.ts). */
export type { PlacementView, TaskEventPage, TaskView } from '../protocol/api.js';

/** One entry of a task's history and of the pool's event stream: `at` in epoch milliseconds. */
export type { PoolEvent } from '../core/types.js';

export interface AttemptView {
  attempt: number;
  nodeId: string;
  node?: string;
  placement?: PlacementView | null;
  scheduledAt: string | number | null;
  startedAt: string | number | null;
  endedAt: string | number | null;
  outcome: TaskState | null;
  exitCode: number | null;
}

/** `GET /v1/tasks/:id`: the task with its attempt history. */
export interface TaskDetail extends TaskView {
  history: AttemptView[];
}

export interface GpuSliceView {
  taskId?: string;
  vgpuId?: string;
  name: string;
  tenant: string;
  milli: number;
  memoryMiB: number;
}

export interface GpuView {
  node: string;
  nodeId: string;
  nodeState?: string;
  index: number;
  uuid: string;
  model: string;
  memoryMiB: number;
  tflops: number;
  sharing: string;
  allocatedMilli: number;
  allocatedMemoryMiB: number;
  slices: GpuSliceView[];
  utilPercent?: number;
}

export interface NodeView {
  id: string;
  name: string;
  state: string;
  /** Drained by an admin: takes no new work until resumed. */
  drained?: boolean;
  cpuMilli: number;
  memoryMiB: number;
  gpus: unknown[];
  simulated: boolean;
  labels?: Record<string, string>;
  agentVersion?: string;
  registeredAt?: string | number;
  lastHeartbeatAt?: string | number;
  [extra: string]: unknown;
}

export interface VgpuView {
  id: string;
  name: string;
  tenant?: string;
  state: 'PENDING' | 'ACTIVE' | 'RELEASED';
  reason?: PendingReason | null;
  placement?: PlacementView | null;
  createdAt?: string;
  releasedAt?: string | null;
  [extra: string]: unknown;
}

/** What `POST /v1/vgpus` takes. */
export interface VgpuRequest {
  name?: string;
  gpu?: number | string;
  memory?: string;
  tflops?: number;
  model?: string;
}

/** One piece of a task's output. `pos` orders chunks across streams and attempts. */
export interface LogChunkView {
  pos: number;
  stream: 'stdout' | 'stderr';
  attempt: number;
  data: string;
}

export interface LogPage {
  chunks: LogChunkView[];
  /** Pass as `after` to read on; null/undefined when nothing more is known. */
  next: number | null;
  /** On a first, empty page: when log retention deleted the finished task's logs (ISO 8601). */
  prunedAt?: string;
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

export const TERMINAL: readonly TaskState[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT'];
export const isTerminal = (s: TaskState): boolean => TERMINAL.includes(s);
