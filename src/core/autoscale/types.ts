// The autoscaler's data: what providers offer, the nodes they lent, the demand nobody can take,
// and the decisions that follow. Pure data; times are epoch milliseconds passed in by the caller.
import type { Micros } from '../pricing/money.js';
import type { PendingReason, ResourceRequest } from '../types.js';

/** A node shape a provider can start (a Slurm partition's node, a cloud instance type, …). */
export interface ProviderOffer {
  provider: string;
  /** The provider's name for the shape, e.g. `gpu-a100x4` or `p4d.24xlarge`. */
  shape: string;
  /** GPU model (catalogue name), or null for a CPU-only shape. */
  gpuModel: string | null;
  gpuCount: number;
  /** Per GPU. */
  gpuMemoryMiB: number;
  /** Dense BF16 TFLOPS per GPU (for `{tflops}` requests). */
  gpuTflops: number;
  cpuMilli: number;
  memoryMiB: number;
  /** What one node of this shape costs per hour; absent: the price book's GPU price × gpuCount. */
  hourlyMicros?: Micros;
  /** How many more nodes of this shape the provider can start now; absent: as many as its limit allows. */
  available?: number;
}

/**
 * Where a node lent by a provider is in its life. `requested`: asked for, nothing yet;
 * `joining`: the provider started it, its agent has not registered; `ready`: taking work;
 * `draining`: given back once empty; `released`: gone.
 */
export type NodeLifecycle = 'requested' | 'joining' | 'ready' | 'draining' | 'released';

/** A node that a provider lent to the pool (hand-started nodes are not the autoscaler's). */
export interface ManagedNode {
  /** The provider's handle (a Slurm job id, an instance id, a local pid). */
  id: string;
  provider: string;
  shape: string;
  lifecycle: NodeLifecycle;
  requestedAt: number;
  /** Tasks placed on it now (SCHEDULED or RUNNING). */
  activeTasks: number;
  /** vGPU reservations placed on it now. */
  reservations: number;
  /** Since when it has held no task and no reservation; null while busy or not ready. */
  idleSince: number | null;
  /**
   * The room left on it now (ready nodes), for the warm headroom. Absent: a ready node that holds
   * nothing is all room, one that holds something has none.
   */
  free?: FreeRoom;
}

/** Room left on a node: free milli-GPU and GPU memory per GPU, CPU and RAM. */
export interface FreeRoom {
  gpuMilli: readonly number[];
  gpuMemoryMiB: readonly number[];
  cpuMilli: number;
  memoryMiB: number;
}

/** A node of the pool the autoscaler did not lend (started by hand): its room counts as headroom. */
export interface OtherRoom {
  name: string;
  gpuModel: string | null;
  /** Per GPU, whole. */
  gpuMemoryMiB: number;
  gpuTflops: number;
  free: FreeRoom;
}

/** A task that arrived (submitted, or back in the queue), for the scale-ahead forecast. */
export interface Arrival {
  at: number;
  resources: ResourceRequest;
  replicas: number;
}

/**
 * Warm headroom: room kept ready before anything waits for it. The pool keeps room for `spareGpus`
 * more one-GPU tasks, and (scale-ahead) for what arrived in the last `forecastWindowMs` again,
 * times `forecastFactor`. While that room is short, waiting demand gets nodes at once (no pending
 * threshold), and a node whose room is part of it is not given back for being idle.
 */
export interface HeadroomPolicy {
  /** Whole idle GPUs (of any model the providers offer) kept ready. 0: none. */
  spareGpus: number;
  /**
   * Whole empty nodes (as many GPUs as the widest offer has) kept ready: a task that needs a whole
   * node finds one, which spare GPUs spread over busy nodes do not give it. Absent or 0: none.
   */
  spareNodes?: number;
  /** Multiplies the demand that arrived in the last window. 0: no forecast. */
  forecastFactor: number;
  /** How far back the forecast looks; a node's boot time is the natural choice. */
  forecastWindowMs: number;
}

/** A pending task (or one gang replica set) the pool could not place. */
export interface PendingDemand {
  taskId: string;
  resources: ResourceRequest;
  /** Replicas placed all-or-nothing (1: not a gang). */
  replicas: number;
  reason: PendingReason | 'ScalingUp' | null;
  /** Since when it has waited with its current reason. */
  pendingSince: number;
}

export interface AutoscalePolicy {
  /** Demand must have waited for lack of room at least this long before nodes are asked for. */
  pendingThresholdMs: number;
  /** A ready node empty this long is drained and given back. */
  idleTimeoutMs: number;
  /** No scale-out within this long of the last scale-out, nor scale-in of the last scale-in. */
  cooldownMs: number;
  /** Most nodes each provider may lend at once (requested, joining, ready or draining). */
  maxNodes: Readonly<Record<string, number>>;
  /** Most the lent nodes may cost per hour together; absent: no cap. */
  maxHourlyMicros?: Micros;
  /** A node still requested or joining this long after it was asked for is given back; absent: wait forever. */
  joinTimeoutMs?: number;
  /** Nodes kept even when idle (per provider). */
  minNodes: Readonly<Record<string, number>>;
  /** Room kept ready ahead of demand; absent: nodes are asked for only once demand waited. */
  headroom?: HeadroomPolicy;
}

/** What the autoscaler remembers between calls; the caller holds and persists it. */
export interface AutoscaleMemory {
  lastScaleOutAt: number | null;
  lastScaleInAt: number | null;
}

export type ScaleDecision =
  | {
      kind: 'request';
      provider: string;
      shape: string;
      /** Tasks these nodes are asked for (empty when kept warm by `minNodes`). */
      taskIds: string[];
      hourlyMicros: Micros;
      reason: string;
    }
  | { kind: 'drain'; nodeId: string; provider: string; reason: string }
  | { kind: 'release'; nodeId: string; provider: string; reason: string };

export interface AutoscaleResult {
  decisions: ScaleDecision[];
  /** Pending tasks a node on its way (already requested, or requested now) is meant for: reason `ScalingUp`. */
  scalingUp: string[];
  /** Demand no offer can hold at all, with why, for the user. */
  unservable: { taskId: string; why: string }[];
  /** Why nothing more was done, when a limit held it back (cool-down, cost cap, max nodes). */
  heldBack: string[];
  memory: AutoscaleMemory;
}
