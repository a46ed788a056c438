// The same cycle as `schedule`, for a caller that keeps the pool's capacity between cycles instead
// of rebuilding it from a full snapshot each time (the trace simulator: thousands of cycles over a
// pool of a thousand nodes). The caller reports what changes (`add` a task that started, `remove`
// one that ended); each cycle then costs what the queue costs, not what the pool costs, and the
// placement policies' per-node memos stay warm because the cluster object lives on.
//
// Equivalence: `cycle(pending, now, policy)` decides exactly what
// `schedule({nodes, active, pending, reservations: []}, now, policy)` decides, where `active` are
// the tasks added and not removed (see incremental.test.ts). vGPU reservations are not supported:
// snapshots with reservations go through `schedule`.
import { buildCapacity, gpuPositions, type Capacity, type Hold } from './capacity.js';
import { PlacementMemos } from '../placement/memos.js';
import { scheduleOn } from './schedule.js';
import type { ScheduleResult, SchedulerPolicy, SchedulerSnapshot } from './types.js';
import type { NodeRecord, Placement, Task } from '../types.js';

interface Charge {
  pos: number;
  gpuIdx: number[];
  gpuMilli: number;
  gpuMemoryMiB: number;
  cpuMilli: number;
  memoryMiB: number;
}

interface Held {
  hold: Hold;
  /** Expected end before clamping to now: start + time limit (or the default runtime). */
  end0: number;
}

export class IncrementalScheduler {
  private readonly cap: Capacity;
  /** Active tasks, in no order (swap-remove). */
  private readonly tasks: Task[] = [];
  private readonly index = new Map<string, number>();
  private readonly charges: (Charge | null)[] = [];
  /** Holds with a known start, in order of `end0`; their `end` is `max(end0, now of the last cycle)`. */
  private readonly held: Held[] = [];
  private readonly heldOf = new Map<string, Held>();
  /** Holds of tasks with no start time: their end moves with now, so it is computed each cycle. */
  private readonly floating = new Map<string, { hold: Hold; task: Task }>();
  private holds: Hold[] = [];
  private defaultRuntimeMs: number | null = null;
  /** Placement memos for this capacity, kept across cycles (node states that did not change are not re-scored). */
  private readonly memos = new PlacementMemos();

  /** `nodes`: the pool; only READY ones take work (a change of node state needs a new instance). */
  constructor(private readonly nodes: readonly NodeRecord[]) {
    this.cap = buildCapacity({ nodes, active: [], pending: [], reservations: [] }, 0, 0);
  }

  /** Tasks holding resources now (added, not removed), in no particular order. */
  get active(): readonly Task[] {
    return this.tasks;
  }

  /** A task that now holds its placement (SCHEDULED or RUNNING). */
  add(task: Task): void {
    if (this.index.has(task.id)) throw new Error(`IncrementalScheduler: ${task.id} is already active`);
    const c = task.placement ? this.chargeOf(task.placement) : null;
    this.index.set(task.id, this.tasks.length);
    this.tasks.push(task);
    this.charges.push(c);
    if (!c) return;
    this.cap.cluster.charge(c.pos, c.gpuIdx, c.gpuMilli, c.gpuMemoryMiB, c.cpuMilli, c.memoryMiB);
    const hold: Hold = { end: 0, nodePos: c.pos, gpuIdx: c.gpuIdx, gpuMilli: c.gpuMilli, gpuMemoryMiB: c.gpuMemoryMiB, cpuMilli: c.cpuMilli, memoryMiB: c.memoryMiB };
    if (task.startedAt === null && task.scheduledAt === null) {
      this.floating.set(task.id, { hold, task });
      return;
    }
    const h: Held = { hold, end0: 0 };
    this.heldOf.set(task.id, h);
    if (this.defaultRuntimeMs === null) {
      this.held.push(h); // ordered at the first cycle, when the default runtime is known
      this.holds.push(hold);
      return;
    }
    h.end0 = this.end0(task, this.defaultRuntimeMs);
    h.hold.end = h.end0;
    const at = this.upper(h.end0);
    this.held.splice(at, 0, h);
    this.holds.splice(at, 0, hold);
  }

  /** A task that no longer holds anything (ended, cancelled, requeued). */
  remove(taskId: string): void {
    const i = this.index.get(taskId);
    if (i === undefined) throw new Error(`IncrementalScheduler: ${taskId} is not active`);
    const c = this.charges[i];
    if (c) this.cap.cluster.release(c.pos, c.gpuIdx, c.gpuMilli, c.gpuMemoryMiB, c.cpuMilli, c.memoryMiB);
    const last = this.tasks.length - 1;
    if (i !== last) {
      this.tasks[i] = this.tasks[last]!;
      this.charges[i] = this.charges[last]!;
      this.index.set(this.tasks[i]!.id, i);
    }
    this.tasks.pop();
    this.charges.pop();
    this.index.delete(taskId);
    this.floating.delete(taskId);
    const h = this.heldOf.get(taskId);
    if (!h) return;
    this.heldOf.delete(taskId);
    let j = this.defaultRuntimeMs === null ? 0 : this.lower(h.end0);
    while (j < this.held.length && this.held[j] !== h) j++;
    if (j === this.held.length) throw new Error(`IncrementalScheduler: lost the hold of ${taskId}`);
    this.held.splice(j, 1);
    this.holds.splice(j, 1);
  }

  /**
   * One cycle over `pending`. The capacity is left as it was: the caller applies the `place`
   * decisions it accepts with `add`, as the server records them.
   */
  cycle(pending: readonly Task[], now: number, policy: SchedulerPolicy): ScheduleResult {
    const held = this.held;
    if (this.defaultRuntimeMs !== policy.defaultRuntimeMs) {
      // First cycle, or another default runtime: order the holds again.
      this.defaultRuntimeMs = policy.defaultRuntimeMs;
      for (const [id, h] of this.heldOf) h.end0 = this.end0(this.tasks[this.index.get(id)!]!, policy.defaultRuntimeMs);
      held.sort((a, b) => a.end0 - b.end0);
      for (const h of held) h.hold.end = h.end0;
      this.holds = held.map((h) => h.hold);
    }
    // As expectedEnd (capacity.ts): never before now. Holds are in order of end0, so the ones to
    // clamp are a prefix.
    for (let i = 0; i < held.length && held[i]!.end0 < now; i++) held[i]!.hold.end = now;
    const holds = this.holds;
    const n = holds.length;
    for (const { hold, task } of this.floating.values()) {
      hold.end = now + (task.spec.timeLimitMs ?? policy.defaultRuntimeMs);
      holds.push(hold);
    }
    this.cap.holds = holds;
    const snapshot: SchedulerSnapshot = { nodes: this.nodes, active: this.tasks, pending, reservations: [] };
    const result = scheduleOn(this.cap, snapshot, now, policy.memos ? policy : { ...policy, memos: this.memos });
    holds.length = n; // the cycle appended the holds of its placements
    // The cycle allocated its placements in the cluster; take them back (the caller adds them).
    for (const d of result.decisions) {
      if (d.kind !== 'place') continue;
      const c = this.chargeOf(d.placement);
      if (c) this.cap.cluster.release(c.pos, c.gpuIdx, c.gpuMilli, c.gpuMemoryMiB, c.cpuMilli, c.memoryMiB);
    }
    return result;
  }

  private end0(t: Task, defaultRuntimeMs: number): number {
    return (t.startedAt ?? t.scheduledAt ?? 0) + (t.spec.timeLimitMs ?? defaultRuntimeMs);
  }

  /** The first position in `held` whose end0 is not below `end0`. */
  private lower(end0: number): number {
    let lo = 0;
    let hi = this.held.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.held[mid]!.end0 < end0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The first position in `held` whose end0 is above `end0`. */
  private upper(end0: number): number {
    let lo = 0;
    let hi = this.held.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.held[mid]!.end0 <= end0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** What a placement charges, as `buildCapacity` does (a task in a vGPU slice: CPU and RAM only). */
  private chargeOf(p: Placement): Charge | null {
    const pos = this.cap.cluster.nodePos(p.nodeId);
    if (pos === undefined) return null;
    const inSlice = p.vgpuId !== undefined;
    return {
      pos,
      gpuIdx: inSlice ? [] : gpuPositions(this.cap.records[pos]!, p.gpus),
      gpuMilli: inSlice ? 0 : p.gpuMilli,
      gpuMemoryMiB: inSlice ? 0 : p.memoryMiB,
      cpuMilli: p.cpuMilli,
      memoryMiB: p.hostMemoryMiB,
    };
  }
}
