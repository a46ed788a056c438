// EASY backfill. The first task that cannot start (the head) gets a reserved start: the earliest
// time, walking running tasks by expected end, at which it would fit, and the node and GPUs it
// would take then (its shadow placement). Later tasks may start now only if they end before that
// time, or if they leave the head's shadow resources alone.
import { nodeFits, type ClusterState, type ResolvedPodRequest } from '../placement/cluster.js';
import type { ClusterView, NodeChanges, NodeSlot, PlacementChoice, PlacementContext, PlacementPolicy } from '../placement/types.js';
import type { Hold } from './capacity.js';

/** The head's reserved start. */
export interface Shadow {
  startAt: number;
  /** Capacity at `startAt`, the head placed: tasks that run past `startAt` are charged here too. */
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
 * The what-if runs on `cluster` itself and is undone before returning (only the returned state is
 * a copy): a fresh copy would have its own change feed and node arrays, so the policy's ranked
 * indexes and per-node memos would start cold and every node would be scored again for every head
 * (the live bench's overload, where each arrival becomes the head, spent most of its CPU there).
 * On `cluster` only the nodes the released holds touch are scored again. The choices are the
 * copy's: the nodes' free state is the same, and policies read nothing else.
 */
export function reserveStart(cluster: ClusterState, holds: readonly Hold[], reqs: readonly ResolvedPodRequest[], placer: PlacementPolicy, ctx: PlacementContext): Shadow | null {
  const first = reqs[0];
  if (!first) return null;
  const sorted = [...holds].sort((a, b) => a.end - b.end);
  const changed = new Set<number>();
  let released = 0;
  try {
    while (released < sorted.length) {
      const end = sorted[released]!.end;
      changed.clear();
      for (; released < sorted.length && sorted[released]!.end === end; released++) {
        const h = sorted[released]!;
        cluster.release(h.nodePos, h.gpuIdx, h.gpuMilli, h.gpuMemoryMiB, h.cpuMilli, h.memoryMiB);
        changed.add(h.nodePos);
      }
      // Nothing fitted before this step, so something must fit on a node that just changed.
      let any = false;
      for (const p of changed) if (nodeFits(cluster.nodes[p]!, first)) any = true;
      if (!any) continue;
      const choices = placeAll(cluster, cluster, reqs, placer, ctx);
      if (!choices) continue;
      const state = cluster.clone();
      for (let i = choices.length - 1; i >= 0; i--) release(cluster, choices[i]!, reqs[i]!);
      return { startAt: end, state, choices, nodes: new Set(choices.map((ch) => ch.nodePos)) };
    }
    return null;
  } finally {
    // Back to the live state, last released first (the exact inverse of the walk).
    for (let i = released - 1; i >= 0; i--) {
      const h = sorted[i]!;
      cluster.charge(h.nodePos, h.gpuIdx, h.gpuMilli, h.gpuMemoryMiB, h.cpuMilli, h.memoryMiB);
    }
  }
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
