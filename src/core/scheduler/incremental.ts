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
import { buildCapacity, expectedEnd, gpuPositions, type Capacity, type Hold } from './capacity.js';
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

export class IncrementalScheduler {
  private readonly cap: Capacity;
  private readonly tasks: Task[] = [];
  private readonly index = new Map<string, number>();
  private readonly charges: (Charge | null)[] = [];
  private readonly holds: Hold[] = [];

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
    if (c) this.cap.cluster.charge(c.pos, c.gpuIdx, c.gpuMilli, c.gpuMemoryMiB, c.cpuMilli, c.memoryMiB);
    this.index.set(task.id, this.tasks.length);
    this.tasks.push(task);
    this.charges.push(c);
    this.holds.push(c ? { end: 0, nodePos: c.pos, gpuIdx: c.gpuIdx, gpuMilli: c.gpuMilli, gpuMemoryMiB: c.gpuMemoryMiB, cpuMilli: c.cpuMilli, memoryMiB: c.memoryMiB } : NO_HOLD);
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
      this.holds[i] = this.holds[last]!;
      this.index.set(this.tasks[i]!.id, i);
    }
    this.tasks.pop();
    this.charges.pop();
    this.holds.pop();
    this.index.delete(taskId);
  }

  /**
   * One cycle over `pending`. The capacity is left as it was: the caller applies the `place`
   * decisions it accepts with `add`, as the server records them.
   */
  cycle(pending: readonly Task[], now: number, policy: SchedulerPolicy): ScheduleResult {
    const holds: Hold[] = [];
    for (let i = 0; i < this.tasks.length; i++) {
      const h = this.holds[i]!;
      if (h === NO_HOLD) continue;
      h.end = expectedEnd(this.tasks[i]!, now, policy.defaultRuntimeMs);
      holds.push(h);
    }
    this.cap.holds = holds;
    const snapshot: SchedulerSnapshot = { nodes: this.nodes, active: this.tasks, pending, reservations: [] };
    const result = scheduleOn(this.cap, snapshot, now, policy);
    // The cycle allocated its placements in the cluster; take them back (the caller adds them).
    for (const d of result.decisions) {
      if (d.kind !== 'place') continue;
      const c = this.chargeOf(d.placement);
      if (c) this.cap.cluster.release(c.pos, c.gpuIdx, c.gpuMilli, c.gpuMemoryMiB, c.cpuMilli, c.memoryMiB);
    }
    return result;
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

const NO_HOLD: Hold = { end: 0, nodePos: -1, gpuIdx: [], gpuMilli: 0, gpuMemoryMiB: 0, cpuMilli: 0, memoryMiB: 0 };
