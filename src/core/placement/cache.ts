// Per-node memo of policy evaluations, valid while the node's free state is unchanged.
// Keyed by the NodeSlot object (a clone of the cluster gets its own entries) and checked against a
// snapshot of the node's free amounts, so no caller has to report changes.
import type { NodeSlot } from './types.js';

interface Entry<V> {
  cpu: number;
  mem: number;
  gpu: Float64Array; // freeMilli, freeMemoryMiB per GPU
  values: Map<number, V>;
}

export class NodeMemo<V> {
  private readonly byNode = new WeakMap<NodeSlot, Entry<V>>();

  /** The memo of `node` for its current state (emptied when the state changed since last time). */
  forNode(node: NodeSlot): Map<number, V> {
    let e = this.byNode.get(node);
    if (e && same(e, node)) return e.values;
    const gpus = node.gpus;
    const gpu = new Float64Array(gpus.length * 2);
    for (let i = 0; i < gpus.length; i++) {
      gpu[2 * i] = gpus[i]!.freeMilli;
      gpu[2 * i + 1] = gpus[i]!.freeMemoryMiB;
    }
    if (e) {
      e.cpu = node.cpuMilliFree;
      e.mem = node.memoryMiBFree;
      e.gpu = gpu;
      e.values.clear();
    } else {
      e = { cpu: node.cpuMilliFree, mem: node.memoryMiBFree, gpu, values: new Map() };
      this.byNode.set(node, e);
    }
    return e.values;
  }
}

function same<V>(e: Entry<V>, node: NodeSlot): boolean {
  if (e.cpu !== node.cpuMilliFree || e.mem !== node.memoryMiBFree) return false;
  const gpus = node.gpus;
  if (e.gpu.length !== gpus.length * 2) return false;
  for (let i = 0; i < gpus.length; i++) {
    const g = gpus[i]!;
    if (e.gpu[2 * i] !== g.freeMilli || e.gpu[2 * i + 1] !== g.freeMemoryMiB) return false;
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
