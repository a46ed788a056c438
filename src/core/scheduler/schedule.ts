// One scheduling cycle: schedule(snapshot, now, policy) → decisions. Pure and deterministic for
// a given `policy.rng`: the control loop and the simulator call it and apply what it decides.
//
// Steps: build the free capacity of the READY nodes; place PENDING vGPU reservations (oldest
// first); start the next task of each idle reservation in its slice; then walk the queue in order,
// placing each task (or whole gang) with the placement policy. The first one that cannot start
// is the head: it gets a reserved start, and later tasks run only where they cannot delay it
// (EASY backfill), or not at all when backfill is off. Every task left waiting gets a reason.
import { inputKeys, preferWarm, warmNodes } from '../data/locality.js';
import { nodeFits, type ResolvedPodRequest } from '../placement/cluster.js';
import { getPolicy } from '../placement/index.js';
import type { ClusterView, PlacementChoice, WorkloadClass } from '../placement/types.js';
import { typicalWorkload } from '../placement/workload.js';
import { PlacementMemos } from '../placement/memos.js';
import type { Task } from '../types.js';
import { BackfillGuard, placeAll, release, reserveStart, type PlaceHooks, type Shadow } from './backfill.js';
import { formatDuration } from '../quantity.js';
import { buildCapacity, expectedEnd, toPlacement, type Capacity } from './capacity.js';
import { endIfPlacedNow, pendTask, placeTask, type Cycle } from './cycle.js';
import { explainNoFit, type Explanation } from './explain.js';
import { count, when } from './format.js';
import { orderQueue } from './order.js';
import { FailMemo, Requests, type Shape } from './requests.js';
import { CycleTenancy } from './tenancy.js';
import type { BatchPlacer, ScheduleResult, SchedulerPolicy, SchedulerSnapshot } from './types.js';
import { placeReservations, scheduleSliceTasks } from './vgpu.js';

/** A gang in the queue: its pending members, placed all-or-nothing. */
class Gang {
  /** The pending members, in gang-index order. */
  readonly tasks: Task[] = [];
  shapes: Shape[] = [];
  /** When the last member would end if started now (Infinity without a time limit). */
  endIfStarted = -Infinity;
  constructor(
    readonly id: string,
    readonly size: number,
  ) {}
}

/** An entry of the queue: a task, or a gang at the position of its first member. */
type Entry = Task | Gang;

interface Head {
  entry: Entry;
  shadow: Shadow;
  guard: BackfillGuard;
}

/**
 * Decides, for every pending task and reservation, where it starts now or why it waits.
 *
 * @example schedule({nodes, active, pending, reservations: []}, now, {placement: 'best-fit', backfill: true, defaultRuntimeMs: 3_600_000, rng})
 */
export function schedule(snapshot: SchedulerSnapshot, now: number, policy: SchedulerPolicy): ScheduleResult {
  return scheduleOn(buildCapacity(snapshot, now, policy.defaultRuntimeMs), snapshot, now, policy);
}

/**
 * `schedule` on a capacity the caller built (`buildCapacity`, or kept up to date across cycles by
 * `IncrementalScheduler`): it must be what `buildCapacity(snapshot, now, …)` would give. The cycle
 * allocates its placements in `cap.cluster` and appends their holds to `cap.holds`.
 */
export function scheduleOn(cap: Capacity, snapshot: SchedulerSnapshot, now: number, policy: SchedulerPolicy): ScheduleResult {
  const cy: Cycle = {
    now,
    policy,
    cap,
    allNodes: snapshot.nodes,
    placer: getPolicy(policy.placement),
    pctx: { rng: policy.rng, memos: policy.memos ?? new PlacementMemos() },
    requests: new Requests(cap.models),
    decisions: [],
    stats: { pending: 0, placed: 0, backfilled: 0 },
  };

  // Policies that score against the expected request mix (fgd, default) get it from the policy or,
  // failing that, from this snapshot; never from what a policy saw in earlier calls, which would
  // make the cycle depend on history.
  cy.pctx.workload = policy.workload ?? snapshotWorkload(cy, snapshot);
  placeReservations(cy, snapshot.reservations);
  // Tasks for vGPU slices apart; without any, the queue is the snapshot's list itself (no copy).
  const sliceTasks: Task[] = [];
  let queued: readonly Task[] = snapshot.pending;
  if (snapshot.pending.some((t) => t.spec.vgpuId !== undefined)) {
    const rest: Task[] = [];
    for (const t of snapshot.pending) (t.spec.vgpuId !== undefined ? sliceTasks : rest).push(t);
    queued = rest;
  }
  if (sliceTasks.length > 0) scheduleSliceTasks(cy, snapshot.nodes, snapshot.active, sliceTasks, snapshot.reservations);

  const ordered = policy.order ? policy.order(queued, snapshot, now) : orderQueue(queued);
  const tenancy = snapshot.tenancy ? new CycleTenancy(snapshot.tenancy, snapshot.active, snapshot.reservations) : null;
  const walk = policy.batch ? placeBatch(cy, policy.batch, ordered, snapshot, tenancy) : ordered;
  const head = runQueue(cy, entries(cy, walk), snapshot.active, tenancy);
  const result: ScheduleResult = { decisions: cy.decisions, stats: cy.stats };
  if (head) {
    const first = head.shadow.choices[0]!;
    result.head = { taskId: tasksOf(head.entry)[0]!.id, startAt: head.shadow.startAt, nodeId: cap.records[first.nodePos]!.id };
  }
  return result;
}

/**
 * The batch step (`policy.batch`): its placements are committed as the walk commits its own, and
 * the walk gets the queue without them.
 */
function placeBatch(cy: Cycle, batch: BatchPlacer, ordered: readonly Task[], snapshot: SchedulerSnapshot, tenancy: CycleTenancy | null): readonly Task[] {
  const placed = batch.place({ cluster: cy.cap.cluster, queue: ordered, shape: (t) => cy.requests.shape(t.spec.resources), choose: (req) => cy.placer.choose(cy.cap.cluster, req, cy.pctx), snapshot });
  if (placed.length === 0) return ordered;
  const done = new Set<string>();
  for (const p of placed) {
    commitPlaced(cy, tenancy, p.tasks, p.shapes, p.choices);
    for (const t of p.tasks) done.add(t.id);
  }
  return ordered.filter((t) => !done.has(t.id));
}

/** Records placements already allocated in the cycle's cluster: their holds, decisions and borrowing. */
function commitPlaced(cy: Cycle, tenancy: CycleTenancy | null, tasks: readonly Task[], shapes: readonly Shape[], choices: readonly PlacementChoice[]): void {
  for (let i = 0; i < tasks.length; i++) {
    const t = tasks[i]!;
    const c = choices[i]!;
    const req = shapes[i]!.req;
    cy.cap.holds.push({ end: endIfPlacedNow(cy, t), nodePos: c.nodePos, gpuIdx: c.gpuIdx, gpuMilli: c.gpuMilli, gpuMemoryMiB: c.gpuMemoryMiB, cpuMilli: req.cpuMilli, memoryMiB: req.memoryMiB });
    const borrowed = tenancy ? tenancy.admit(t, c.gpuMilli * c.gpuIdx.length) : false;
    placeTask(cy, t, toPlacement(cy.cap.records, c, req.cpuMilli, req.memoryMiB), borrowed);
  }
}

/** At most this many requests of each kind (pending, running) shape the workload estimate. */
const WORKLOAD_SAMPLE = 2000;

/**
 * The request mix of the snapshot (pending tasks and reservations, and running tasks), as FGD's
 * typical pods. Long lists are sampled at an even stride, which keeps their proportions.
 */
function snapshotWorkload(cy: Cycle, snapshot: SchedulerSnapshot): WorkloadClass[] {
  const reqs: ResolvedPodRequest[] = [];
  const sample = (tasks: readonly Task[]): void => {
    const step = Math.max(1, Math.ceil(tasks.length / WORKLOAD_SAMPLE));
    for (let i = 0; i < tasks.length; i += step) reqs.push(cy.requests.shape(tasks[i]!.spec.resources).req);
  };
  sample(snapshot.pending);
  sample(snapshot.active);
  for (const r of snapshot.reservations) {
    if (r.state === 'PENDING') reqs.push(cy.requests.shape({ gpu: { ...r.request, count: 1 }, cpuMilli: 0, memoryMiB: 0 }).req);
  }
  return typicalWorkload(reqs);
}

/**
 * The queue: tasks as they are (no per-task allocation: the queue may be long), gangs grouped at
 * the position of their first member in `ordered`, members in gang-index order. Without gangs, the
 * queue is `ordered` itself (no copy of a million entries).
 */
function entries(cy: Cycle, ordered: readonly Task[]): readonly Entry[] {
  let firstGang = -1;
  for (let i = 0; i < ordered.length; i++) {
    const t = ordered[i]!;
    if (t.gangId !== null && t.spec.gang > 1) {
      firstGang = i;
      break;
    }
  }
  if (firstGang < 0) return ordered;
  const out: Entry[] = ordered.slice(0, firstGang);
  const gangs = new Map<string, Gang>();
  for (let i = firstGang; i < ordered.length; i++) {
    const t = ordered[i]!;
    if (t.gangId === null || t.spec.gang <= 1) {
      out.push(t);
      continue;
    }
    let g = gangs.get(t.gangId);
    if (!g) {
      g = new Gang(t.gangId, t.spec.gang);
      gangs.set(t.gangId, g);
      out.push(g);
    }
    g.tasks.push(t);
    g.endIfStarted = Math.max(g.endIfStarted, endIfStarted(cy, t));
  }
  for (const g of gangs.values()) {
    g.tasks.sort((a, b) => a.gangIndex - b.gangIndex || (a.id < b.id ? -1 : 1));
    g.shapes = g.tasks.map((t) => cy.requests.shape(t.spec.resources));
  }
  return out;
}

function endIfStarted(cy: Cycle, t: Task): number {
  return t.spec.timeLimitMs === undefined ? Infinity : cy.now + t.spec.timeLimitMs;
}

const tasksOf = (e: Entry): readonly Task[] => (e instanceof Gang ? e.tasks : [e]);

/** Walks the queue; returns the head, if one got a reserved start. */
function runQueue(cy: Cycle, queue: readonly Entry[], active: readonly Task[], tenancy: CycleTenancy | null): Head | null {
  const { cluster } = cy.cap;
  const failedNow = new FailMemo(); // shapes that found no room on the live cluster
  const neverNow = new FailMemo(); // shapes that would not fit even with every hold ended
  let failedSafe = new FailMemo(); // shapes that found no room that leaves the head alone
  let head: Head | null = null;
  const waiting: Entry[] = [];
  // The shape of each waiting single task (null for a gang), so that the reasons need no look-up.
  const waitShapes: (Shape | null)[] = [];
  // Hooks that keep the backfill guard up to date; `runsPast` is set per entry.
  let runsPast = false;
  const hooks: PlaceHooks = {
    placed: (c, req) => head!.guard.placed(c, req, runsPast),
    unplaced: (c, req) => head!.guard.unplaced(c, req, runsPast),
  };

  const commit = (tasks: readonly Task[], shapes: readonly Shape[], choices: readonly PlacementChoice[]): void => commitPlaced(cy, tenancy, tasks, shapes, choices);

  for (const e of queue) {
    let single: Shape | null = null;
    if (e instanceof Gang) {
      if (e.tasks.length < e.size) {
        waitForGang(cy, e, active);
        continue;
      }
    } else {
      single = cy.requests.shape(e.spec.resources);
    }
    // Quotas and budgets first: a tenant over its limit waits whatever the room.
    const demand = tenancy ? (single ? shapeDemand(single) : gpuDemandOf((e as Gang).shapes)) : 0;
    if (tenancy) {
      const gate = tenancy.gate(single ? (e as Task).spec.tenant : (e as Gang).tasks[0]!.spec.tenant, demand);
      if (gate) {
        for (const t of tasksOf(e)) pendTask(cy, t, gate.reason, gate.message);
        continue;
      }
    }
    if (single) {
      if ((head && !cy.policy.backfill) || (failedNow.has(single) && (head || neverNow.has(single)))) {
        // Held behind the head, or known not to fit now (nor to make a head): the common case
        // deep in a long queue, kept cheap.
        if (tenancy && failedNow.has(single) && !neverNow.has(single) && tenancy.preempt(cy, e as Task, single.req, demand)) continue;
        waiting.push(e);
        waitShapes.push(single);
        continue;
      }
    }
    const shapes = single ? [single] : (e as Gang).shapes;
    const end = e instanceof Gang ? e.endIfStarted : endIfStarted(cy, e);
    const reqs = shapes.map((s) => s.req);
    if (!head) {
      const choices = single && failedNow.has(single) ? null : placeAll(cluster, cluster, reqs, cy.placer, cy.pctx);
      if (choices) {
        // Data inputs (issue 16): a warm twin of the chosen node, when there is one.
        if (single && (e as Task).spec.inputs) choices[0] = preferWarm(cluster, choices[0]!, single.req, warmNodes(cluster, cy.allNodes, inputKeys(e as Task)));
        commit(tasksOf(e), shapes, choices);
        continue;
      }
      if (single) failedNow.add(single);
      if (single && tenancy?.preempt(cy, e as Task, single.req, demand)) continue;
      waiting.push(e);
      waitShapes.push(single);
      const shadow = single && neverNow.has(single) ? null : reserveStart(cluster, cy.cap.holds, reqs, cy.placer, cy.pctx);
      if (shadow) {
        head = { entry: e, shadow, guard: new BackfillGuard(cluster, shadow) };
        failedSafe = new FailMemo();
      } else if (single) neverNow.add(single);
      continue;
    }
    if (!cy.policy.backfill) {
      waiting.push(e);
      waitShapes.push(single);
      continue;
    }
    // Backfill: an entry that ends before the reserved start may use anything free now; one that
    // runs past it only what leaves the head's shadow placement intact.
    runsPast = end > head.shadow.startAt;
    if (runsPast && single && failedSafe.has(single)) {
      waiting.push(e);
      waitShapes.push(single);
      continue;
    }
    const view: ClusterView = runsPast ? head.guard.view : cluster;
    const choices = placeAll(cluster, view, reqs, cy.placer, cy.pctx, hooks);
    if (choices) {
      commit(tasksOf(e), shapes, choices);
      cy.stats.backfilled += choices.length;
      continue;
    }
    if (single) (runsPast ? failedSafe : failedNow).add(single);
    if (single && tenancy?.preempt(cy, e as Task, single.req, demand)) continue;
    waiting.push(e);
    waitShapes.push(single);
  }

  explainWaiting(cy, waiting, waitShapes, head, failedNow, head ? untimedBefore(active, head.shadow.startAt, cy) : false);
  return head;
}

/** Total GPU milli the shapes ask for (a model-dependent share: its largest resolution). */
function gpuDemandOf(shapes: readonly Shape[]): number {
  let total = 0;
  for (const s of shapes) total += shapeDemand(s);
  return total;
}

/** GPU milli one shape asks for in all (gpuDemandOf of one, with no array a task). */
function shapeDemand(s: Shape): number {
  const r = s.req;
  let milli = r.gpuMilli;
  if (r.perModel) for (const a of r.perModel.values()) milli = Math.max(milli, a.gpuMilli);
  return milli * r.gpuCount;
}

/** A gang with members still active: it is placed only once all of them are pending again. */
function waitForGang(cy: Cycle, g: Gang, active: readonly Task[]): void {
  const others = active.filter((t) => t.gangId === g.id).map((t) => t.id);
  const still = others.length > 0 ? `; still active: ${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''}` : '';
  const msg = `gang ${g.id} starts all-or-nothing: ${g.tasks.length} of its ${g.size} tasks are pending${still}`;
  for (const t of g.tasks) pendTask(cy, t, 'Dependency', msg);
}

function headName(h: Head): string {
  const e = h.entry;
  return e instanceof Gang ? `gang ${e.id} (priority ${e.tasks[0]!.spec.priority})` : `${e.id} (priority ${e.spec.priority})`;
}

/**
 * Whether the reserved start `at` rests on a guess: some running task with no time limit is
 * assumed to end by then only because the policy's default run time says so.
 */
function untimedBefore(active: readonly Task[], at: number, cy: Cycle): boolean {
  return active.some((t) => t.placement !== null && t.spec.timeLimitMs === undefined && expectedEnd(t, cy.now, cy.policy.defaultRuntimeMs) <= at);
}

/** Reasons for every entry left waiting, against the capacity left at the end of the cycle. */
function explainWaiting(cy: Cycle, waiting: readonly Entry[], shapes: readonly (Shape | null)[], head: Head | null, failedNow: FailMemo, guessed: boolean): void {
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
  // Say what an estimate assumes: a running task with no time limit is taken to run for the
  // policy's default, which is a guess, not something the task said.
  const assumes = guessed ? ` (an estimate: running tasks with no time limit are assumed to take ${formatDuration(cy.policy.defaultRuntimeMs)})` : '';
  // EASY backfill lets a task that fits now start at once if it ends by the head's reserved
  // start (schedule: `runsPast`), so a time limit up to that gap would let it start now.
  const gap = head ? head.shadow.startAt - cy.now : 0;
  const limitHint = head && cy.policy.backfill && gap >= 1000 ? `; a time limit of ${formatDuration(Math.floor(gap / 1000) * 1000)} or less would let it start now` : '';
  const heldMsg = head
    ? cy.policy.backfill
      ? `held back so that ${headName(head)} can start at ${when(head.shadow.startAt, cy.now)}${assumes}${limitHint}`
      : `held back behind ${headName(head)}, first in line to start at ${when(head.shadow.startAt, cy.now)}${assumes} (backfill is off)`
    : '';
  const headSuffix = head ? `; first in line, expected to start at ${when(head.shadow.startAt, cy.now)} on ${[...head.shadow.nodes].map((p) => records[p]!.name).join(', ')}${assumes}` : '';

  // One verdict per shape (by Shape.id): every task of a shape that is not the head waits for the
  // same reason.
  const verdicts: (Explanation | undefined)[] = [];
  const headEntry = head?.entry;
  for (let i = 0; i < waiting.length; i++) {
    const e = waiting[i]!;
    const shape = shapes[i];
    const isHead = e === headEntry;
    if (shape) {
      const t = e as Task;
      let v = isHead ? undefined : verdicts[shape.id];
      if (!v) {
        v = !isHead && head && fitsNow(shape) ? { reason: 'Priority', message: heldMsg } : explain(shape);
        if (isHead) v = { reason: v.reason, message: v.message + headSuffix };
        else verdicts[shape.id] = v;
      }
      pendTask(cy, t, v.reason, v.message);
      continue;
    }
    if (!(e instanceof Gang)) throw new Error('explainWaiting: a task without its shape');
    // A gang: does it fit now as a whole, and if not, how many of its members would?
    const fitting = membersFitting(cy, e);
    let why: Explanation;
    if (fitting === e.shapes.length) {
      why = head && !isHead ? { reason: 'Priority', message: heldMsg } : { reason: 'Resources', message: `gang of ${e.size} fits now` };
    } else if (fitting === 0) {
      const x = explain(e.shapes[0]!);
      why = { reason: x.reason, message: `gang of ${e.size}, each ${x.message}` };
    } else {
      why = { reason: 'Resources', message: `gang of ${e.size} starts all-or-nothing; only ${count(fitting, 'member')} would fit now` };
    }
    const message = isHead ? why.message + headSuffix : why.message;
    for (const t of e.tasks) pendTask(cy, t, why.reason, message);
  }
}

/** How many of a gang's members fit now, placed one after another (then taken back). */
function membersFitting(cy: Cycle, g: Gang): number {
  const { cluster } = cy.cap;
  const done: PlacementChoice[] = [];
  for (const s of g.shapes) {
    const c = cy.placer.choose(cluster, s.req, cy.pctx);
    if (!c) break;
    cluster.allocate(c, s.req);
    done.push(c);
  }
  for (let i = done.length - 1; i >= 0; i--) release(cluster, done[i]!, g.shapes[i]!.req);
  return done.length;
}
