// `schedule` for a caller that calls it again and again on a pool that changes a little between
// calls (the server's control loop: one cycle per burst of submits or reports). `schedule` builds
// the pool's ClusterState from the snapshot every time, so a placement policy's per-node memos
// (which live as long as the ClusterState's nodes array) start empty each cycle and `default`
// re-scores every node for every request: with 1,213 nodes that, not the policy, is the cycle's
// cost. `PersistentScheduler` keeps the ClusterState and the memos between calls and brings the
// charges up to date from the snapshot itself: a task whose placement is unchanged costs a map
// look-up, a new or changed one one charge, a gone one one release. Nodes whose free state did not
// change keep their memos, so a cycle costs what changed since the last one.
//
// It takes the same full snapshot as `schedule` and decides exactly what `schedule` decides
// (persistent.test.ts checks it cycle by cycle, with tenancy, gangs, backfill and node changes):
// nothing is reported to it, so a caller cannot forget to report a change. Snapshots it does not
// keep state for go to `schedule` as they are: vGPU reservations and tasks in their slices (their
// charges live in the reservations), and tasks waiting for preempted victims (that step charges
// the cycle's cluster with room it blocks for one cycle only). The pool is rebuilt when the READY
// nodes or their resources change (not on a heartbeat: the records are refreshed in place).
import { ClusterState } from '../placement/cluster.js';
import { PlacementMemos } from '../placement/memos.js';
import type { NodeRecord, Placement, Task } from '../types.js';
import { expectedEnd, gpuPositions, nodeInit, poolModels, type Capacity, type Hold } from './capacity.js';
import { sameResources } from './same-node.js';
import { schedule, scheduleOn } from './schedule.js';
import type { ScheduleResult, SchedulerPolicy, SchedulerSnapshot } from './types.js';

/** What one task's placement holds in the kept cluster. */
interface Charge {
  placement: Placement;
  hold: Hold;
  /** The call that last saw it active (or placed it): older ones are released. */
  seen: number;
}

export class PersistentScheduler {
  private cap: Capacity | null = null;
  private readonly charges = new Map<string, Charge>();
  private memos = new PlacementMemos();
  private call = 0;
  /** How many calls rebuilt the pool, and how many went to `schedule` as they were (for tests and metrics). */
  readonly counts = { calls: 0, rebuilds: 0, full: 0 };

  /** Decides what `schedule(snapshot, now, policy)` decides. */
  schedule(snapshot: SchedulerSnapshot, now: number, policy: SchedulerPolicy): ScheduleResult {
    this.counts.calls++;
    if (!keepable(snapshot)) {
      this.counts.full++;
      return schedule(snapshot, now, policy);
    }
    const cap = this.pool(snapshot.nodes);
    const seen = ++this.call;
    const holds: Hold[] = [];
    for (const t of snapshot.active) {
      const p = t.placement;
      if (!p) continue;
      const c = this.track(cap, t.id, p, seen);
      if (!c) continue;
      c.hold.end = expectedEnd(t, now, policy.defaultRuntimeMs);
      holds.push(c.hold);
    }
    // Every kept charge belongs to a task seen just now unless some task has gone: only then look
    // for the gone ones (a walk over every charge, each cycle, was a tenth of a busy pool's cycle).
    if (holds.length !== this.charges.size) {
      for (const [id, c] of this.charges) {
        if (c.seen === seen) continue;
        release(cap, c.hold);
        this.charges.delete(id);
      }
    }
    cap.holds = holds;
    const result = scheduleOn(cap, snapshot, now, policy.memos ? policy : { ...policy, memos: this.memos });
    // The cycle allocated its placements in the cluster: keep them as charges of their tasks. A
    // task the caller did not start after all is missing from the next snapshot's active tasks,
    // and is released then.
    for (const d of result.decisions) {
      if (d.kind !== 'place') continue;
      const hold = holdOf(cap, d.placement);
      if (hold) this.charges.set(d.taskId, { placement: d.placement, hold, seen });
    }
    cap.holds = [];
    return result;
  }

  /** The kept capacity for `nodes`, rebuilt when the READY nodes or their resources changed. */
  private pool(nodes: readonly NodeRecord[]): Capacity {
    const ready = nodes.filter((n) => n.state === 'READY');
    const cap = this.cap;
    if (cap && cap.records.length === ready.length && ready.every((n, i) => sameResources(cap.records[i]!, n))) {
      // Same pool: take the newest records (heartbeat times, caches) for the cycle to read.
      for (let i = 0; i < ready.length; i++) cap.records[i] = ready[i]!;
      return cap;
    }
    this.counts.rebuilds++;
    this.charges.clear();
    this.memos = new PlacementMemos();
    this.cap = { cluster: new ClusterState(ready.map(nodeInit)), records: ready, holds: [], models: poolModels(ready) };
    return this.cap;
  }

  /** Brings task `id`'s charge up to date with placement `p`; null when it holds nothing here. */
  private track(cap: Capacity, id: string, p: Placement, seen: number): Charge | null {
    const c = this.charges.get(id);
    if (c && (c.placement === p || samePlacement(c.placement, p))) {
      c.placement = p;
      c.seen = seen;
      return c;
    }
    if (c) {
      release(cap, c.hold);
      this.charges.delete(id);
    }
    const hold = holdOf(cap, p);
    if (!hold) return null;
    cap.cluster.charge(hold.nodePos, hold.gpuIdx, hold.gpuMilli, hold.gpuMemoryMiB, hold.cpuMilli, hold.memoryMiB);
    const n: Charge = { placement: p, hold, seen };
    this.charges.set(id, n);
    return n;
  }
}

/** Whether the persistent path decides this snapshot (else `schedule` does, from scratch). */
function keepable(s: SchedulerSnapshot): boolean {
  if (s.reservations.length > 0) return false;
  if ((s.tenancy?.claims?.size ?? 0) > 0) return false;
  for (const t of s.pending) if (t.spec.vgpuId !== undefined) return false;
  for (const t of s.active) if (t.placement?.vgpuId !== undefined) return false;
  return true;
}

/** What placement `p` charges, as `buildCapacity` charges it; null on a node that is not READY. */
function holdOf(cap: Capacity, p: Placement): Hold | null {
  const pos = cap.cluster.nodePos(p.nodeId);
  if (pos === undefined) return null;
  return { end: 0, nodePos: pos, gpuIdx: gpuPositions(cap.records[pos]!, p.gpus), gpuMilli: p.gpuMilli, gpuMemoryMiB: p.memoryMiB, cpuMilli: p.cpuMilli, memoryMiB: p.hostMemoryMiB };
}

function release(cap: Capacity, h: Hold): void {
  cap.cluster.release(h.nodePos, h.gpuIdx, h.gpuMilli, h.gpuMemoryMiB, h.cpuMilli, h.memoryMiB);
}

function samePlacement(a: Placement, b: Placement): boolean {
  return (
    a.nodeId === b.nodeId &&
    a.gpuMilli === b.gpuMilli &&
    a.memoryMiB === b.memoryMiB &&
    a.cpuMilli === b.cpuMilli &&
    a.hostMemoryMiB === b.hostMemoryMiB &&
    a.vgpuId === b.vgpuId &&
    a.gpus.length === b.gpus.length &&
    a.gpus.every((g, i) => g === b.gpus[i])
  );
}
