// The scheduler contract: schedule(snapshot, now, policy) → decisions. Pure: the server's
// control loop and the simulator build a snapshot, call it, and apply the decisions.
import type { PolicyMemoStore, PolicyName, Rng, WorkloadClass } from '../placement/types.js';
import type { NodeRecord, PendingReason, Placement, Task, VgpuReservation } from '../types.js';
import type { Tenant } from '../tenancy/types.js';
import type { ClusterState, ResolvedPodRequest } from '../placement/cluster.js';
import type { PlacementChoice } from '../placement/types.js';
import type { Shape } from './requests.js';

/** What the cycle knows of tenants, beyond the tasks. */
export interface TenancySnapshot {
  /** Tenants with their guarantee, limit and weight; a tenant not listed has none of them (weight 1). */
  tenants: readonly Tenant[];
  /** Tenants that may start nothing new (e.g. an exhausted budget), with the reason to show. */
  blocked?: ReadonlyMap<string, { reason: PendingReason; message: string }>;
  /** Let waiting tasks preempt (default true). */
  preemption?: boolean;
  /** Running tasks already ordered to stop for a preemption: never chosen again. */
  stopping?: ReadonlySet<string>;
  /**
   * Waiting tasks that preempted others → their victims still running. Such a task goes first in
   * the queue, waits while any victim runs, and the room already freed is kept for it.
   */
  claims?: ReadonlyMap<string, readonly string[]>;
}

export interface SchedulerSnapshot {
  /** All known nodes; only READY ones receive new work. */
  nodes: readonly NodeRecord[];
  /** Tasks holding resources (SCHEDULED or RUNNING), each with its placement. */
  active: readonly Task[];
  /** Tasks waiting (PENDING), in any order; the scheduler orders them. */
  pending: readonly Task[];
  /** vGPU reservations: PENDING ones want a slice, ACTIVE ones hold one. */
  reservations: readonly VgpuReservation[];
  /**
   * Tenants, budgets and preemptions in flight (tenancy.ts). Absent: no quotas, no borrowing and
   * no preemption (a single-team pool).
   */
  tenancy?: TenancySnapshot;
}

/**
 * Orders the pending queue (vGPU tasks excepted). Must return a permutation of `pending`; the
 * scheduler keeps gang members together at the position of the first one. The default is
 * `orderQueue` (priority, then submit time, then id); weighted fair share plugs in here.
 */
export type QueueOrder = (pending: readonly Task[], snapshot: SchedulerSnapshot, now: number) => Task[];

export interface SchedulerPolicy {
  placement: PolicyName;
  /** Let smaller tasks run around a blocked head task without delaying its reserved start. */
  backfill: boolean;
  /** Time limit assumed for a running task that has none, when computing reserved starts. */
  defaultRuntimeMs: number;
  rng: Rng;
  /** Queue order; default `orderQueue`. */
  order?: QueueOrder;
  /** The expected request mix, passed to placement policies that score by it (fgd). */
  workload?: readonly WorkloadClass[];
  /**
   * Placement caches to keep across cycles (`PlacementMemos`), owned by the caller; without them
   * each cycle starts its own. They pay only where the capacity persists (IncrementalScheduler).
   */
  memos?: PolicyMemoStore;
  /**
   * A step that places part of the queue at once before the walk (`--policy lp`: a MILP batch,
   * lp.ts); the walk then places the rest with `placement`.
   */
  batch?: BatchPlacer;
}

/** What the cycle hands a batch step. */
export interface BatchInput {
  cluster: ClusterState;
  /** The queue in order (no vGPU tasks). */
  queue: readonly Task[];
  shape(t: Task): Shape;
  /** The cycle's own placement policy, one request at a time (nothing allocated). */
  choose(req: ResolvedPodRequest): PlacementChoice | null;
  snapshot: SchedulerSnapshot;
}

/** Tasks placed together (a gang's members, or one task) and their placements, already allocated. */
export interface BatchPlacement {
  tasks: readonly Task[];
  shapes: readonly Shape[];
  choices: readonly PlacementChoice[];
}

/** A step that places part of the queue at once before the cycle walks the rest. */
export interface BatchPlacer {
  place(input: BatchInput): BatchPlacement[];
}


export type Decision =
  | {
      kind: 'place';
      taskId: string;
      placement: Placement;
      /** It runs on capacity above its tenant's guarantee: others may take it back (tenancy.ts). */
      borrowed?: boolean;
    }
  /**
   * Stop the running task `taskId` (SIGTERM with FASTGPU_PREEMPTED=1, grace, SIGKILL) to make room
   * for the waiting `forTaskId`, which stays PENDING until the victim's exit is recorded.
   */
  | { kind: 'preempt'; taskId: string; forTaskId: string; message: string }
  | { kind: 'pending'; taskId: string; reason: PendingReason; message: string }
  | { kind: 'placeReservation'; reservationId: string; placement: Placement }
  | { kind: 'reservationPending'; reservationId: string; reason: PendingReason; message: string };

export interface ScheduleResult {
  decisions: Decision[];
  /** For logs and metrics. */
  stats: { pending: number; placed: number; backfilled: number; preempted?: number };
  /**
   * The reserved start of the first blocked task (the head), when one could be computed:
   * what backfill protects. For logs, metrics and `fastgpu ps`.
   */
  head?: { taskId: string; startAt: number; nodeId: string };
}
