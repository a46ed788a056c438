// EASY backfill. The first task that cannot start (the head) gets a reserved start: the earliest
// time, walking running tasks by expected end, at which it would fit, and the node and GPUs it
// would take then (its shadow placement). Later tasks may start now only if they end before that
// time, or if they leave the head's shadow resources alone.
import { nodeFits, type ClusterState, type ResolvedPodRequest } from '../placement/cluster.js';
import type { ClusterView, NodeChanges, NodeSlot, PlacementChoice, PlacementContext, PlacementPolicy } from '../placement/types.js';
import type { Hold } from './capacity.js';
import { WhatIf } from './what-if.js';

/** The head's reserved start. */
export interface Shadow {
  startAt: number;
  /**
   * Capacity at `startAt`, the head placed: tasks that run past `startAt` are charged here too.
   * A kept what-if cluster (what-if.ts): valid until the next `reserveStart` with the same memos.
   */
  state: ClusterState;
  choices: PlacementChoice[];
  /** Node positions the head would use. */
  nodes: Set<number>;
}

/** Told of each placement `placeAll` commits, and of each it takes back. */
export interface PlaceHooks {
  placed(c: PlacementChoice, req: ResolvedPodRequest): void;
  unplaced(c: PlacementChoice, req: ResolvedPodRequest): void;
}

/**
 * Places every request of `reqs` (a task, or a gang's members) on `cluster`, choosing through
 * `view` (the cluster itself, or a narrower view of it), all or nothing. Returns the committed
 * choices, or null with `cluster` unchanged.
 */
export function placeAll(
  cluster: ClusterState,
  view: ClusterView,
  reqs: readonly ResolvedPodRequest[],
  placer: PlacementPolicy,
  ctx: PlacementContext,
  hooks?: PlaceHooks,
): PlacementChoice[] | null {
  const done: PlacementChoice[] = [];
  for (const req of reqs) {
    const c = placer.choose(view, req, ctx);
    if (!c) {
      for (let i = done.length - 1; i >= 0; i--) {
        release(cluster, done[i]!, reqs[i]!);
        hooks?.unplaced(done[i]!, reqs[i]!);
      }
      return null;
    }
    cluster.allocate(c, req);
    hooks?.placed(c, req);
    done.push(c);
  }
  return done;
}

export function release(cluster: ClusterState, c: PlacementChoice, req: ResolvedPodRequest): void {
  cluster.release(c.nodePos, c.gpuIdx, c.gpuMilli, c.gpuMemoryMiB, req.cpuMilli, req.memoryMiB);
}

/** `cluster` with every hold released: what the head could get if it waited for everything. */
export function drained(cluster: ClusterState, holds: readonly Hold[]): ClusterState {
  const c = cluster.clone();
  for (const h of holds) c.release(h.nodePos, h.gpuIdx, h.gpuMilli, h.gpuMemoryMiB, h.cpuMilli, h.memoryMiB);
  return c;
}

/**
 * The head's reserved start: releases `holds` in order of end until the head's requests all fit,
 * and places them there. Null when they do not fit even once every hold has ended (the READY
 * nodes cannot hold it now; it must not block anyone).
 *
 * The releases are computed on copies of the nodes they touch; the placement runs on a what-if
 * cluster kept in the caller's memos between calls (what-if.ts), brought to that state node by
 * node, so the policy's memos and indexes there stay warm: a fresh copy per head scored every node
 * again. The returned state is that kept cluster: valid until the next call with the same memos.
 */
export function reserveStart(cluster: ClusterState, holds: readonly Hold[], reqs: readonly ResolvedPodRequest[], placer: PlacementPolicy, ctx: PlacementContext): Shadow | null {
  const first = reqs[0];
  if (!first) return null;
  const sorted = isSorted(holds) ? holds : [...holds].sort((a, b) => a.end - b.end);
  const whatIf = ctx.memos?.get('backfill.what-if', () => new WhatIf()) ?? new WhatIf();
  whatIf.begin(cluster);
  const changed = new Set<NodeSlot>();
  for (let i = 0; i < sorted.length; ) {
    const end = sorted[i]!.end;
    changed.clear();
    for (; i < sorted.length && sorted[i]!.end === end; i++) changed.add(whatIf.release(sorted[i]!));
    // Nothing fitted before this step, so something must fit on a node that just changed.
    let any = false;
    for (const n of changed) if (nodeFits(n, first)) any = true;
    if (!any) continue;
    const state = whatIf.state();
    const choices = placeAll(state, state, reqs, placer, ctx);
    if (choices) return { startAt: end, state, choices, nodes: new Set(choices.map((ch) => ch.nodePos)) };
  }
  return null;
}

function isSorted(holds: readonly Hold[]): boolean {
  for (let i = 1; i < holds.length; i++) if (holds[i]!.end < holds[i - 1]!.end) return false;
  return true;
}

/**
 * What a task that runs past the head's reserved start may use now: the live cluster, except
 * that on the head's shadow nodes each GPU and the host offer only the smaller of what is free
 * now and what stays free at the reserved start once the head is placed. Placing through this
 * view can never delay the head.
 */
export class BackfillGuard {
  /** The live nodes but for the shadow nodes; policies index the live cluster and score those apart. */
  readonly view: { nodes: NodeSlot[]; changes: NodeChanges; overridden: ReadonlySet<number> };

  constructor(
    private readonly cluster: ClusterState,
    readonly shadow: Shadow,
  ) {
    this.view = { nodes: [...cluster.nodes], changes: cluster.changes, overridden: shadow.nodes };
    for (const p of shadow.nodes) this.refresh(p);
  }

  /** After a placement on the live cluster; `runsPast`: it still runs at the reserved start. */
  placed(c: PlacementChoice, req: ResolvedPodRequest, runsPast: boolean): void {
    if (!this.shadow.nodes.has(c.nodePos)) return;
    if (runsPast) this.shadow.state.charge(c.nodePos, c.gpuIdx, c.gpuMilli, c.gpuMemoryMiB, req.cpuMilli, req.memoryMiB);
    this.refresh(c.nodePos);
  }

  /** Undo `placed` (a gang that did not fit after all). */
  unplaced(c: PlacementChoice, req: ResolvedPodRequest, runsPast: boolean): void {
    if (!this.shadow.nodes.has(c.nodePos)) return;
    if (runsPast) release(this.shadow.state, c, req);
    this.refresh(c.nodePos);
  }

  private refresh(pos: number): void {
    const now = this.cluster.nodes[pos]!;
    const then = this.shadow.state.nodes[pos]!;
    this.view.nodes[pos] = {
      ...now,
      cpuMilliFree: Math.min(now.cpuMilliFree, then.cpuMilliFree),
      memoryMiBFree: Math.min(now.memoryMiBFree, then.memoryMiBFree),
      gpus: now.gpus.map((g, i) => {
        const t = then.gpus[i]!;
        return { ...g, freeMilli: Math.min(g.freeMilli, t.freeMilli), freeMemoryMiB: Math.min(g.freeMemoryMiB, t.freeMemoryMiB) };
      }),
    };
  }
}
