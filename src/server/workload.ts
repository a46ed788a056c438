// The pool's request mix as the live scheduler plans for it: one `WorkloadEstimator` (core, the
// same class the simulator feeds at each arrival) fed every accepted submit, stored in the store's
// meta table (at most every second under submits, and at shutdown) so that a restarted server
// resumes the same estimate.
import { DEFAULT_WORKLOAD_OPTIONS } from '../core/placement/default.js';
import type { PolicyName, WorkloadClass } from '../core/placement/types.js';
import { WorkloadEstimator, type EstimatorOptions, type EstimatorState } from '../core/placement/workload.js';
import { resolveRequest, type ModelCapacity } from '../core/resolve.js';
import type { Task } from '../core/types.js';
import type { Store } from '../store/port.js';

/** The store meta key of the stored estimate (JSON). */
export const WORKLOAD_META = 'workloadEstimate';

/**
 * Distinct request shapes the server keeps. The published openb family (23 lists) has 431 shapes
 * in all, the default list 91; beyond this a new shape replaces the least frequent. The stored row
 * holds at most this many shapes and as many built classes: under ~300 KB of JSON.
 */
export const SERVER_MAX_SHAPES = 1024;

/** The estimator options a placement policy plans with (`default`: its own summary; others: FGD's typical pods). */
export function estimatorOptions(policy: PolicyName): EstimatorOptions {
  return { ...(policy === 'default' ? DEFAULT_WORKLOAD_OPTIONS : {}), maxShapes: SERVER_MAX_SHAPES };
}

export class PoolWorkload {
  /** Observed since the last save. */
  private unsaved = false;
  private saving: Promise<void> | null = null;

  private constructor(
    private readonly store: Store,
    private readonly est: WorkloadEstimator,
    private readonly policy: PolicyName,
  ) {}

  /** The stored estimate for `policy`, or a fresh one (a stored row that cannot be read is logged and replaced). */
  static async load(store: Store, policy: PolicyName, log: (line: string) => void = () => {}): Promise<PoolWorkload> {
    const raw = await store.getMeta(WORKLOAD_META);
    let state: EstimatorState | undefined;
    if (raw !== null) {
      try {
        const parsed = JSON.parse(raw) as { policy?: string; state?: EstimatorState };
        // An estimate built for another policy's options is not this one's.
        if (parsed.policy === policy && parsed.state && Array.isArray(parsed.state.shapes)) state = parsed.state;
      } catch (e) {
        log(`warning: stored workload estimate unreadable (${(e as Error).message}); starting a new one`);
      }
    }
    return new PoolWorkload(store, new WorkloadEstimator(estimatorOptions(policy), state), policy);
  }

  /** Requests observed since the pool began. */
  get observed(): number {
    return this.est.observed;
  }

  /** Distinct shapes kept (≤ SERVER_MAX_SHAPES). */
  get size(): number {
    return this.est.size;
  }

  /**
   * What the policy plans for, or undefined before the first submit (the scheduler then uses the
   * snapshot's mix: the pending and running tasks).
   */
  current(): readonly WorkloadClass[] | undefined {
    return this.est.observed > 0 ? this.est.current() : undefined;
  }

  /** Feeds accepted tasks (resolved against the pool's models); `save()` stores the new estimate. */
  observe(tasks: readonly Task[], models: readonly ModelCapacity[]): void {
    if (tasks.length === 0) return;
    // An array's elements share one resources object: resolved once, not once per element.
    const resolved = new Map<Task['spec']['resources'], ReturnType<typeof resolveRequest>>();
    for (const t of tasks) {
      let r = resolved.get(t.spec.resources);
      if (!r) resolved.set(t.spec.resources, (r = resolveRequest(t.spec.resources, models)));
      this.est.observe({ cpuMilli: r.cpuMilli, memoryMiB: r.memoryMiB, gpuCount: r.gpuCount, gpuMilli: r.gpuMilli, gpuMemoryMiB: 0, models: r.models });
    }
    this.unsaved = true;
  }

  /** A save is being written. */
  get busy(): boolean {
    return this.saving !== null;
  }

  /** Stores the estimate if it changed since the last save (one write at a time; a failed one is tried again by the next save). */
  async save(): Promise<void> {
    while (this.saving) await this.saving;
    if (!this.unsaved) return;
    this.unsaved = false;
    const write = this.store.setMeta(WORKLOAD_META, JSON.stringify({ policy: this.policy, state: this.est.state() }));
    this.saving = write.then(
      () => undefined,
      () => undefined,
    );
    try {
      await write;
    } catch (e) {
      this.unsaved = true;
      throw e;
    } finally {
      this.saving = null;
    }
  }
}
