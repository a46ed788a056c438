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

/** One kept copy of a cluster for what-if states. */
export class WhatIf {
  private source: ClusterState | null = null;
  private copy: ClusterState | null = null;

  /**
   * A cluster whose nodes are `cluster`'s, except those in `changed` (position → that node's state
   * there). The same object on every call for the same `cluster`: valid until the next call.
   */
  state(cluster: ClusterState, changed: ReadonlyMap<number, NodeSlot>): ClusterState {
    if (this.source !== cluster || !this.copy) {
      this.source = cluster;
      this.copy = cluster.clone();
    }
    const c = this.copy;
    for (let pos = 0; pos < c.nodes.length; pos++) {
      const want = changed.get(pos) ?? cluster.nodes[pos]!;
      if (!sameState(c.nodes[pos]!, want)) c.assign(pos, want);
    }
    return c;
  }
}
