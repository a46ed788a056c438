// The state backfill's head would find at its reserved start: the live cluster with some running
// tasks ended. Each head used to get a fresh copy of the cluster, whose policy memos and ranked
// indexes start cold (they are keyed by the copy's nodes and change feed), so every node was
// scored again for every head: in an overloaded pool, where each arrival becomes the head, that
// was most of a cycle. `WhatIf` keeps one copy between calls (in the caller's memos) and brings it
// to each new state by assigning only the nodes that differ, so its memos and indexes stay warm.
import { gpuTaskKind, type ClusterState } from '../placement/cluster.js';
import type { NodeSlot } from '../placement/types.js';
import type { Hold } from './capacity.js';

/** A detached copy of a node, to compute a what-if state on. */
export function copyNode(n: NodeSlot): NodeSlot {
  return { ...n, gpus: n.gpus.map((g) => ({ ...g })), gpuTaskKinds: new Map(n.gpuTaskKinds) };
}

/** Gives `h` back on the copy `n`, as `ClusterState.release` gives it back on a cluster. */
export function releaseOn(n: NodeSlot, h: Hold): void {
  n.cpuMilliFree += h.cpuMilli;
  n.memoryMiBFree += h.memoryMiB;
  const kinds = n.gpuTaskKinds;
  if (h.gpuIdx.length > 0 && h.gpuMilli !== 0 && kinds) {
    const kind = gpuTaskKind(h.gpuIdx.length, Math.abs(h.gpuMilli));
    const left = (kinds.get(kind) ?? 0) - 1;
    if (left > 0) kinds.set(kind, left);
    else kinds.delete(kind);
  }
  for (const i of h.gpuIdx) {
    const g = n.gpus[i];
    if (!g) throw new Error(`no GPU ${i} on ${n.name}`);
    g.freeMilli += h.gpuMilli;
    g.freeMemoryMiB += h.gpuMemoryMiB;
  }
}

function sameState(a: NodeSlot, b: NodeSlot): boolean {
  if (a.cpuMilliFree !== b.cpuMilliFree || a.memoryMiBFree !== b.memoryMiBFree || a.gpus.length !== b.gpus.length) return false;
  for (let i = 0; i < a.gpus.length; i++) {
    const x = a.gpus[i]!;
    const y = b.gpus[i]!;
    if (x.freeMilli !== y.freeMilli || x.freeMemoryMiB !== y.freeMemoryMiB) return false;
  }
  const ka = a.gpuTaskKinds;
  const kb = b.gpuTaskKinds;
  if ((ka?.size ?? 0) !== (kb?.size ?? 0)) return false;
  if (ka && kb) for (const [k, v] of ka) if (kb.get(k) !== v) return false;
  return true;
}

/** `w` (a node copy from an earlier call, or none) reset to `from`'s free state, allocating only when new. */
function resetTo(w: NodeSlot | undefined, from: NodeSlot): NodeSlot {
  if (!w) return copyNode(from);
  w.cpuMilliFree = from.cpuMilliFree;
  w.memoryMiBFree = from.memoryMiBFree;
  for (let i = 0; i < from.gpus.length; i++) {
    w.gpus[i]!.freeMilli = from.gpus[i]!.freeMilli;
    w.gpus[i]!.freeMemoryMiB = from.gpus[i]!.freeMemoryMiB;
  }
  const kinds = (w.gpuTaskKinds ??= new Map());
  kinds.clear();
  if (from.gpuTaskKinds) for (const [k, v] of from.gpuTaskKinds) kinds.set(k, v);
  return w;
}

/**
 * One kept copy of a cluster for what-if states, and the node copies a walk releases holds on
 * (kept too: a walk over thousands of holds would otherwise allocate a copy of every node it touches).
 * Use: `begin(cluster)`, `release(hold)` for each hold given back, then `state()`.
 */
export class WhatIf {
  private source: ClusterState | null = null;
  private copy: ClusterState | null = null;
  private work: NodeSlot[] = [];
  /** Per position: the walk that last reset its work copy (`call`: touched by this walk). */
  private stamp = new Uint32Array(0);
  private call = 0;

  /** Starts a walk from `cluster`'s current state. */
  begin(cluster: ClusterState): void {
    if (this.source !== cluster || !this.copy) {
      this.source = cluster;
      this.copy = cluster.clone();
      this.work = [];
      this.stamp = new Uint32Array(cluster.nodes.length);
      this.call = 0;
    }
    if (++this.call === 0xffffffff) {
      this.stamp.fill(0);
      this.call = 1;
    }
  }

  /** Gives `h` back in this walk's state; answers the node it changed, as it is now. */
  release(h: Hold): NodeSlot {
    const pos = h.nodePos;
    let w = this.work[pos];
    if (this.stamp[pos] !== this.call) {
      this.stamp[pos] = this.call;
      this.work[pos] = w = resetTo(w, this.source!.nodes[pos]!);
    }
    releaseOn(w!, h);
    return w!;
  }

  /**
   * The walk's state as a cluster: the source's nodes, those the walk changed as it left them. The
   * same object on every call for the same source, brought up to date by assigning only the nodes
   * that differ (so its memos and indexes stay warm): valid until the next `begin`.
   */
  state(): ClusterState {
    const c = this.copy!;
    const src = this.source!;
    for (let pos = 0; pos < c.nodes.length; pos++) {
      const want = this.stamp[pos] === this.call ? this.work[pos]! : src.nodes[pos]!;
      if (!sameState(c.nodes[pos]!, want)) c.assign(pos, want);
    }
    return c;
  }
}
