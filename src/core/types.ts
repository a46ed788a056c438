// The FastGPU domain model. Pure data: no I/O, no clock. Times are epoch milliseconds
// passed in by the caller; ids are strings made by the server.
import type { TaskInput } from './data/io-spec.js';
import type { TaskOutput } from './data/outputs-spec.js';

/** How a physical GPU may be shared. `timeslice` is bookkeeping only (nothing enforces it). */
export type SharingMode = 'exclusive' | 'mps' | 'timeslice' | 'simulated';

/** Milli-GPU: 1000 is one whole GPU's compute. */
export const MILLI_PER_GPU = 1000;

export interface Gpu {
  /** Index on its node, as CUDA_VISIBLE_DEVICES counts (0-based). */
  index: number;
  uuid: string;
  /** Canonical catalogue name, e.g. `H100-80GB`, or the raw name for unknown models. */
  model: string;
  memoryMiB: number;
  /** Dense FP16/BF16 TFLOPS of the whole device. */
  tflops: number;
  sharing: SharingMode;
}

/** READY takes work; DRAINING keeps what it runs but takes nothing new; LOST missed its heartbeats. */
export type NodeState = 'READY' | 'DRAINING' | 'LOST';

export interface NodeRecord {
  id: string;
  name: string;
  cpuMilli: number;
  memoryMiB: number;
  labels: Record<string, string>;
  gpus: Gpu[];
  state: NodeState;
  /**
   * Drained by an admin: it takes no new work (state DRAINING while its agent is alive) until
   * resumed. Kept across LOST and re-registration. Absent means false.
   */
  drained?: boolean;
  /** True when the GPUs are declared (`--gpus 4xH100`) rather than discovered. */
  simulated: boolean;
  agentVersion: string;
  registeredAt: number;
  lastHeartbeatAt: number;
  /** Nodes shared with MPS: their control daemon, as the agent last reported it (issue 23). */
  mps?: NodeMpsHealth;
  /** Its dataset cache, as the agent last reported it (issue 16): live status, not stored. */
  cache?: NodeCacheStatus;
}

/** A node's dataset cache: bytes since its agent started, and the dataset versions it holds whole. */
export interface NodeCacheStatus {
  usedBytes: number;
  capBytes: number;
  hitBytes: number;
  downloadedBytes: number;
  stagedBytes: number;
  stagingSeconds: number;
  /** `tenant/name@version` */
  datasets: string[];
}

/** The MPS control daemon of a node shared with `mps`, as its agent reports it. */
export interface NodeMpsHealth {
  state: 'starting' | 'ok' | 'down' | 'stopped';
  /** Why it is down. */
  detail?: string;
  /** Times the agent started it again after it stopped answering. */
  restarts: number;
  /** When it last answered (agent clock, ms). */
  lastOkAt?: number;
  /** When the server heard this (server clock, ms). */
  reportedAt: number;
}

/**
 * How much of each GPU a request wants. A fixed share is the same on every model;
 * `memory` and `tflops` shares become a milli-GPU fraction of whichever model the task lands on.
 */
export type GpuShare =
  | { kind: 'milli'; milli: number }
  | { kind: 'memory'; memoryMiB: number }
  | { kind: 'tflops'; tflops: number };

export interface GpuRequest {
  /** Physical GPUs wanted. Fractions (milli < 1000) always have count 1. */
  count: number;
  share: GpuShare;
  /** Explicit GPU memory per GPU; when absent, memory follows the compute share of the model. */
  memoryMiB?: number;
  /** Canonical model name the task requires, if any. */
  model?: string;
  /**
   * Any one of these models (a trace's `gpu_spec` `A|B`; the simulator's replay sets it, the API
   * does not). Used only when `model` is absent.
   */
  anyOf?: readonly string[];
}

export interface ResourceRequest {
  /** null: a CPU-only task. */
  gpu: GpuRequest | null;
  cpuMilli: number;
  /** Host RAM. */
  memoryMiB: number;
}

/** Task life. LOST and PREEMPTED return to PENDING while retries remain. */
export type TaskState =
  | 'PENDING'
  | 'SCHEDULED'
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'CANCELLED'
  | 'TIMEOUT'
  | 'PREEMPTED'
  | 'LOST';

export const TERMINAL_STATES: readonly TaskState[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT'];
/** States in which a task holds resources on a node. */
export const ACTIVE_STATES: readonly TaskState[] = ['SCHEDULED', 'RUNNING'];

/** Why a task is still pending, in words a person can act on (as Slurm's squeue REASON). */
export type PendingReason =
  | 'Priority' // something ahead of it in the queue goes first
  | 'Resources' // no node has the room right now
  | 'Fragmentation' // the pool has the room in total, but no single GPU/node does
  | 'Reservation' // waiting for its vGPU reservation (placed or busy)
  | 'Quota'
  | 'Budget'
  | 'Dependency'
  | 'ArrayTaskLimit' // its array's %N cap: that many elements hold resources already
  | 'ScalingUp' // a node is being started for it (the autoscaler asked a provider)
  | 'NodeLost' // its node's lease ran out: it waits a while for that node's late exit report
  | 'Staging' // SCHEDULED: its node stages its data inputs before starting it (issue 16)
  | 'Uploading'; // RUNNING: its process exited 0 and its node uploads its outputs (issue 16)

/** A normalised, validated task spec (the parsed form of the YAML/JSON a user submits). */
export interface TaskSpec {
  name: string;
  /** argv. A string command from the user becomes ['sh', '-c', cmd]. */
  command: string[];
  env: Record<string, string>;
  workdir?: string;
  resources: ResourceRequest;
  /** 0–100, higher runs first. */
  priority: number;
  timeLimitMs?: number;
  /** How many times LOST/PREEMPTED may send it back to PENDING. */
  retries: number;
  preemptible: boolean;
  /** Replicas placed all-or-nothing; 1 = not a gang. */
  gang: number;
  /** Run inside this vGPU reservation's slice. */
  vgpuId?: string;
  tenant: string;
  /** Datasets staged read-only under the working directory before it starts (issue 16). */
  inputs?: TaskInput[];
  /** Folders or files uploaded as new dataset versions after a successful exit (issue 16). */
  outputs?: TaskOutput[];
}

/** Where a task (or a vGPU reservation) was placed. Per-GPU amounts are the same on each GPU. */
export interface Placement {
  nodeId: string;
  /** Node name, for people. */
  node: string;
  /** GPU indices on the node. */
  gpus: number[];
  gpuUuids: string[];
  /** Milli-GPU taken on each listed GPU. */
  gpuMilli: number;
  /** GPU memory taken on each listed GPU. */
  memoryMiB: number;
  cpuMilli: number;
  hostMemoryMiB: number;
  /** Sharing mode of the GPUs, so the agent sets MPS variables where it applies. */
  sharing: SharingMode;
  /** Set when the task runs inside a vGPU reservation's slice (which holds the resources). */
  vgpuId?: string;
}

/** Where an element sits in its task array (issue 14); stored with the task. */
export interface ArrayPlace {
  /** The array's id (`a_…`), shared by its elements. */
  id: string;
  /** The element's index as the user wrote it (`--array 10-19` gives 10…19). */
  index: number;
  /** Elements in the array. */
  size: number;
  /** The most elements that may hold resources at once (`%N`); absent: no cap. */
  max?: number;
}

/** What a dependency waits for: success, any end, or a failure (Slurm's afterok, afterany, afternotok). */
export type DependencyKind = 'ok' | 'any' | 'failed';

export interface Dependency {
  /** A task id (`t_…`) or an array id (`a_…`): an array is met when all its elements are. */
  id: string;
  on: DependencyKind;
}

export interface Task {
  id: string;
  spec: TaskSpec;
  state: TaskState;
  reason: PendingReason | null;
  reasonMessage: string | null;
  /** Attempts started so far; the current attempt's number once SCHEDULED. */
  attempts: number;
  /**
   * Of `attempts`, those that ended before their process started (the agent stopped mid-launch):
   * they do not count against `spec.retries`. Absent means 0.
   */
  unstartedAttempts?: number;
  exitCode: number | null;
  createdAt: number;
  scheduledAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  placement: Placement | null;
  gangId: string | null;
  gangIndex: number;
  /** Set on an element of a task array (issue 14). */
  array?: ArrayPlace;
  /** Wait for these before starting; CANCELLED with reason Dependency when one cannot be met. */
  after?: Dependency[];
  /** A reduce step: when placed, it gets every result of this array, by index, in FASTGPU_RESULTS. */
  reduce?: string;
  /** What the task wrote to $FASTGPU_RESULT (parsed JSON), once it finished. */
  result?: unknown;
  /** Bumped on every write; lets writers detect a lost race. */
  version: number;
}

export interface Attempt {
  taskId: string;
  attempt: number;
  nodeId: string;
  placement: Placement;
  scheduledAt: number;
  startedAt: number | null;
  endedAt: number | null;
  /** The state the attempt ended in (SUCCEEDED, FAILED, TIMEOUT, CANCELLED, PREEMPTED, LOST), null while live. */
  outcome: TaskState | null;
  exitCode: number | null;
}

export type ReservationState = 'PENDING' | 'ACTIVE' | 'RELEASED';

/** A vGPU reserved ahead: a slice of one GPU that tasks can be submitted into. */
export interface VgpuReservation {
  id: string;
  name: string;
  tenant: string;
  request: GpuRequest;
  state: ReservationState;
  reason: PendingReason | null;
  placement: Placement | null;
  createdAt: number;
  /** When the current placement was made (null or absent while PENDING). */
  placedAt?: number | null;
  /** How many times it was placed (a lost node sends it back to PENDING): the ledger's attempt. */
  placements?: number;
  releasedAt: number | null;
  version: number;
}

export type LogStream = 'stdout' | 'stderr';

export interface LogChunk {
  taskId: string;
  attempt: number;
  stream: LogStream;
  /** Per (task, attempt, stream), from 0, gap-free: lets the server drop duplicates. */
  seq: number;
  at: number;
  data: string;
}

/** An entry of the event stream (SSE `/v1/events`). */
export interface PoolEvent {
  /** Monotonic, assigned by the store. */
  seq: number;
  at: number;
  type:
    | 'task.submitted'
    | 'task.scheduled'
    | 'task.staging'
    | 'task.uploading'
    | 'task.outputs'
    | 'task.started'
    | 'task.finished'
    | 'task.pending'
    | 'task.requeued'
    | 'task.cancelled'
    | 'node.registered'
    | 'node.lost'
    | 'node.ready'
    | 'node.drained'
    | 'node.resumed'
    | 'autoscale.requested'
    | 'autoscale.drained'
    | 'autoscale.released'
    | 'autoscale.ended'
    | 'vgpu.created'
    | 'vgpu.placed'
    | 'vgpu.released';
  taskId?: string;
  nodeId?: string;
  vgpuId?: string;
  data: Record<string, unknown>;
}

/** The clock, injected everywhere outside core (core takes `now` as an argument). */
export interface Clock {
  now(): number;
}
