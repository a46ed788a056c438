// One scheduling cycle: schedule(snapshot, now, policy) → decisions. Pure and deterministic for
// a given `policy.rng`: the control loop and the simulator call it and apply what it decides.
//
// Steps: build the free capacity of the READY nodes; place PENDING vGPU reservations (oldest
// first); start the next task of each idle reservation in its slice; then walk the queue in order,
// placing each task (or whole gang) with the placement policy. The first one that cannot start
// is the head: it gets a reserved start, and later tasks run only where they cannot delay it
// (EASY backfill), or not at all when backfill is off. Every task left waiting gets a reason.
import { nodeFits } from '../placement/cluster.js';
import { getPolicy } from '../placement/index.js';
import type { ClusterView, PlacementChoice } from '../placement/types.js';
import type { Task } from '../types.js';
import { BackfillGuard, placeAll, reserveStart, type PlaceHooks, type Shadow } from './backfill.js';
import { buildCapacity, toPlacement } from './capacity.js';
import { endIfPlacedNow, pendTask, placeTask, type Cycle } from './cycle.js';
import { explainNoFit, type Explanation } from './explain.js';
import { count, when } from './format.js';
import { orderQueue } from './order.js';
import { FailMemo, Requests, type Shape } from './requests.js';
import type { ScheduleResult, SchedulerPolicy, SchedulerSnapshot } from './types.js';
import { placeReservations, scheduleSliceTasks } from './vgpu.js';

/** A unit of the queue: one task, or a whole gang placed all-or-nothing. */
interface Unit {
  /** The members in gang-index order; one task for a task that is not in a gang. */
  tasks: Task[];
  shapes: Shape[];
  gangId: string | null;
  /** The gang size the spec asks for (1 for a single task). */
  size: number;
  /** When it would end if started now (Infinity without a time limit). */
  endIfStarted: number;
}

interface Head {
  unit: Unit;
  shadow: Shadow;
  guard: BackfillGuard;
}

/**
 * Decides, for every pending task and reservation, where it starts now or why it waits.
 *
 * @example schedule({nodes, active, pending, reservations: []}, now, {placement: 'best-fit', backfill: true, defaultRuntimeMs: 3_600_000, rng})
 */
export function schedule(snapshot: SchedulerSnapshot, now: number, policy: SchedulerPolicy): ScheduleResult {
  const cap = buildCapacity(snapshot, now, policy.defaultRuntimeMs);
  const cy: Cycle = {
    now,
    policy,
    cap,
    allNodes: snapshot.nodes,
    placer: getPolicy(policy.placement),
    pctx: policy.workload ? { rng: policy.rng, workload: policy.workload } : { rng: policy.rng },
    requests: new Requests(cap.models),
    decisions: [],
    stats: { pending: 0, placed: 0, backfilled: 0 },
  };

  placeReservations(cy, snapshot.reservations);
  const sliceTasks: Task[] = [];
  const queued: Task[] = [];
  for (const t of snapshot.pending) (t.spec.vgpuId !== undefined ? sliceTasks : queued).push(t);
  scheduleSliceTasks(cy, snapshot.nodes, snapshot.active, sliceTasks, snapshot.reservations);

  const ordered = policy.order ? policy.order(queued, snapshot, now) : orderQueue(queued);
  const head = runQueue(cy, units(cy, ordered), snapshot.active);
  const result: ScheduleResult = { decisions: cy.decisions, stats: cy.stats };
  if (head) {
    const first = head.shadow.choices[0]!;
    result.head = { taskId: head.unit.tasks[0]!.id, startAt: head.shadow.startAt, nodeId: cap.records[first.nodePos]!.id };
  }
  return result;
}

/**
 * Groups ordered tasks into units: a gang takes the queue position of its first member in
 * `ordered`, and its members follow in gang-index order.
 */
function units(cy: Cycle, ordered: readonly Task[]): Unit[] {
  const out: Unit[] = [];
  const gangs = new Map<string, Unit>();
  const endOf = (t: Task): number => (t.spec.timeLimitMs === undefined ? Infinity : cy.now + t.spec.timeLimitMs);
  for (const t of ordered) {
    const shape = cy.requests.shape(t.spec.resources);
    if (t.gangId === null || t.spec.gang <= 1) {
      out.push({ tasks: [t], shapes: [shape], gangId: null, size: 1, endIfStarted: endOf(t) });
      continue;
    }
    const u = gangs.get(t.gangId);
    if (u) {
      u.tasks.push(t);
      u.endIfStarted = Math.max(u.endIfStarted, endOf(t));
    } else {
      const g: Unit = { tasks: [t], shapes: [], gangId: t.gangId, size: t.spec.gang, endIfStarted: endOf(t) };
      gangs.set(t.gangId, g);
      out.push(g);
    }
  }
  for (const g of gangs.values()) {
    g.tasks.sort((a, b) => a.gangIndex - b.gangIndex || (a.id < b.id ? -1 : 1));
    g.shapes = g.tasks.map((t) => cy.requests.shape(t.spec.resources));
  }
  return out;
}

/** Walks the queue; returns the head, if one got a reserved start. */
function runQueue(cy: Cycle, queue: readonly Unit[], active: readonly Task[]): Head | null {
  const { cluster } = cy.cap;
  const failedNow = new FailMemo(); // shapes that found no room on the live cluster
  const neverNow = new FailMemo(); // shapes that would not fit even with every hold ended
  let failedSafe: FailMemo | null = null; // shapes that found no room that leaves the head alone
  let head: Head | null = null;
  const waiting: Unit[] = [];

  const reqsOf = (u: Unit) => u.shapes.map((s) => s.req);
  const commit = (u: Unit, choices: readonly PlacementChoice[]): void => {
    u.tasks.forEach((t, i) => {
      const c = choices[i]!;
      const req = u.shapes[i]!.req;
      cy.cap.holds.push({ end: endIfPlacedNow(cy, t), nodePos: c.nodePos, gpuIdx: c.gpuIdx, gpuMilli: c.gpuMilli, gpuMemoryMiB: c.gpuMemoryMiB, cpuMilli: req.cpuMilli, memoryMiB: req.memoryMiB });
      placeTask(cy, t, toPlacement(cy.cap.records, c, req.cpuMilli, req.memoryMiB));
    });
  };

  for (const u of queue) {
    if (u.tasks.length < u.size) {
      waitForGang(cy, u, active);
      continue;
    }
    const single = u.shapes.length === 1 ? u.shapes[0]! : null;
    if (!head) {
      const choices = single && failedNow.has(single) ? null : placeAll(cluster, cluster, reqsOf(u), cy.placer, cy.pctx);
      if (choices) {
        commit(u, choices);
        continue;
      }
      if (single) failedNow.add(single);
      waiting.push(u);
      const shadow = single && neverNow.has(single) ? null : reserveStart(cluster, cy.cap.holds, reqsOf(u), cy.placer, cy.pctx);
      if (shadow) {
        head = { unit: u, shadow, guard: new BackfillGuard(cluster, shadow) };
        failedSafe = new FailMemo();
      } else if (single) neverNow.add(single);
      continue;
    }
    if (!cy.policy.backfill || (single && failedNow.has(single))) {
      waiting.push(u);
      continue;
    }
    // Backfill: a unit that ends before the reserved start may use anything free now; one that
    // runs past it only what leaves the head's shadow placement intact.
    const runsPast = u.endIfStarted > head.shadow.startAt;
    if (runsPast && single && failedSafe!.has(single)) {
      waiting.push(u);
      continue;
    }
    const guard = head.guard;
    const hooks: PlaceHooks = {
      placed: (c, req) => guard.placed(c, req, runsPast),
      unplaced: (c, req) => guard.unplaced(c, req, runsPast),
    };
    const view: ClusterView = runsPast ? guard.view : cluster;
    const choices = placeAll(cluster, view, reqsOf(u), cy.placer, cy.pctx, hooks);
    if (choices) {
      commit(u, choices);
      cy.stats.backfilled += u.tasks.length;
      continue;
    }
    if (single) (runsPast ? failedSafe! : failedNow).add(single);
    waiting.push(u);
  }

  explainWaiting(cy, waiting, head, failedNow);
  return head;
}

/** A gang with members still active: it is placed only once all of them are pending again. */
function waitForGang(cy: Cycle, u: Unit, active: readonly Task[]): void {
  const others = active.filter((t) => t.gangId === u.gangId).map((t) => t.id);
  const still = others.length > 0 ? `; still active: ${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''}` : '';
  const msg = `gang ${u.gangId} starts all-or-nothing: ${u.tasks.length} of its ${u.size} tasks are pending${still}`;
  for (const t of u.tasks) pendTask(cy, t, 'Dependency', msg);
}

function headName(h: Head): string {
  const t = h.unit.tasks[0]!;
  return h.unit.gangId !== null && h.unit.size > 1 ? `gang ${h.unit.gangId} (priority ${t.spec.priority})` : `${t.id} (priority ${t.spec.priority})`;
}

/** Reasons for every unit left waiting, against the capacity left at the end of the cycle. */
function explainWaiting(cy: Cycle, waiting: readonly Unit[], head: Head | null, failedNow: FailMemo): void {
  const { cluster, records } = cy.cap;
  const fits = new Map<string, boolean>();
  const fitsNow = (s: Shape): boolean => {
    let f = fits.get(s.key);
    if (f === undefined) {
      f = !failedNow.has(s) && cluster.nodes.some((n) => nodeFits(n, s.req));
      fits.set(s.key, f);
    }
    return f;
  };
  const explained = new Map<string, Explanation>();
  const explain = (s: Shape): Explanation => {
    let e = explained.get(s.key);
    if (!e) {
      e = explainNoFit(cluster, s.req, s.resources, cy.requests.describe(s), { ready: records, all: cy.allNodes });
      explained.set(s.key, e);
    }
    return e;
  };
  const heldMsg = head
    ? cy.policy.backfill
      ? `held back so that ${headName(head)} can start at ${when(head.shadow.startAt, cy.now)}`
      : `held back behind ${headName(head)}, first in line to start at ${when(head.shadow.startAt, cy.now)} (backfill is off)`
    : '';

  for (const u of waiting) {
    const isHead = head !== null && head.unit === u;
    const first = u.shapes[0]!;
    if (u.shapes.length === 1) {
      if (!isHead && head && fitsNow(first)) {
        pendTask(cy, u.tasks[0]!, 'Priority', heldMsg);
        continue;
      }
      const e = explain(first);
      pendTask(cy, u.tasks[0]!, e.reason, isHead ? `${e.message}; ${reservedMsg(cy, head)}` : e.message);
      continue;
    }
    // A gang: does it fit now as a whole, and if not, how many of its members would?
    const fitting = membersFitting(cy, u);
    let reason: Explanation;
    if (fitting === u.shapes.length) {
      reason = head && !isHead ? { reason: 'Priority', message: heldMsg } : { reason: 'Resources', message: `gang of ${u.size} fits now` };
    } else if (fitting === 0) {
      const e = explain(first);
      reason = { reason: e.reason, message: `gang of ${u.size}, each ${e.message}` };
    } else {
      reason = { reason: 'Resources', message: `gang of ${u.size} starts all-or-nothing; only ${count(fitting, 'member')} would fit now` };
    }
    const message = isHead ? `${reason.message}; ${reservedMsg(cy, head)}` : reason.message;
    for (const t of u.tasks) pendTask(cy, t, reason.reason, message);
  }
}

function reservedMsg(cy: Cycle, head: Head | null): string {
  if (!head) return '';
  const nodes = [...head.shadow.nodes].map((p) => cy.cap.records[p]!.name).join(', ');
  return `first in line, expected to start at ${when(head.shadow.startAt, cy.now)} on ${nodes}`;
}

/** How many of a gang's members fit now, placed one after another (then taken back). */
function membersFitting(cy: Cycle, u: Unit): number {
  const { cluster } = cy.cap;
  const done: PlacementChoice[] = [];
  for (const s of u.shapes) {
    const c = cy.placer.choose(cluster, s.req, cy.pctx);
    if (!c) break;
    cluster.allocate(c, s.req);
    done.push(c);
  }
  for (let i = done.length - 1; i >= 0; i--) {
    const c = done[i]!;
    const req = u.shapes[i]!.req;
    cluster.release(c.nodePos, c.gpuIdx, c.gpuMilli, c.gpuMemoryMiB, req.cpuMilli, req.memoryMiB);
  }
  return done.length;
}
