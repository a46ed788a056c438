// Per-node memo of policy evaluations, valid while the node's free state is unchanged.
// Tables are keyed by the cluster's nodes array (a clone of the cluster gets its own) and each entry
// is checked against a snapshot of the node's free amounts, so no caller has to report changes.
import type { NodeSlot } from './types.js';

class Entry<V> {
  cpu = -1;
  mem = -1;
  gpu: Float64Array = new Float64Array(0); // freeMilli, freeMemoryMiB per GPU
  /** Indexed by shape id. */
  values: (V | undefined)[] = [];
}

export class NodeMemo<V> {
  private readonly tables = new WeakMap<readonly NodeSlot[], Entry<V>[]>();
  private lastNodes: readonly NodeSlot[] | null = null;
  private lastTable: Entry<V>[] = [];

  /** The memo of the node at `pos` of `nodes` for its current state (emptied when the state changed). */
  forNode(nodes: readonly NodeSlot[], pos: number): (V | undefined)[] {
    let table: Entry<V>[];
    if (nodes === this.lastNodes) table = this.lastTable;
    else {
      table = this.tables.get(nodes) ?? [];
      this.tables.set(nodes, table);
      this.lastNodes = nodes;
      this.lastTable = table;
    }
    const node = nodes[pos]!;
    let e = table[pos];
    if (!e) {
      e = new Entry<V>();
      table[pos] = e;
    } else if (same(e, node)) return e.values;
    const gpus = node.gpus;
    if (e.gpu.length !== gpus.length * 2) e.gpu = new Float64Array(gpus.length * 2);
    for (let i = 0; i < gpus.length; i++) {
      e.gpu[2 * i] = gpus[i]!.freeMilli;
      e.gpu[2 * i + 1] = gpus[i]!.freeMemoryMiB;
    }
    e.cpu = node.cpuMilliFree;
    e.mem = node.memoryMiBFree;
    e.values = [];
    return e.values;
  }
}

function same<V>(e: Entry<V>, node: NodeSlot): boolean {
  if (e.cpu !== node.cpuMilliFree || e.mem !== node.memoryMiBFree) return false;
  const gpus = node.gpus;
  const g = e.gpu;
  if (g.length !== gpus.length * 2) return false;
  for (let i = 0; i < gpus.length; i++) {
    const s = gpus[i]!;
    if (g[2 * i] !== s.freeMilli || g[2 * i + 1] !== s.freeMemoryMiB) return false;
  }
  return true;
}

/** Interns request shapes to small integers (memo keys). */
export class ShapeIds {
  private readonly ids = new Map<string, number>();
  id(cpuMilli: number, memoryMiB: number, gpuCount: number, gpuMilli: number, gpuMemoryMiB: number): number {
    const k = `${cpuMilli}|${memoryMiB}|${gpuCount}|${gpuMilli}|${gpuMemoryMiB}`;
    let v = this.ids.get(k);
    if (v === undefined) {
      v = this.ids.size;
      this.ids.set(k, v);
    }
    return v;
  }
}
