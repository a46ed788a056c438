// Whether two records of a node describe the same resources: what a cycle's ClusterState and the
// request resolver read of a node (not its state, heartbeat time, labels or caches). Lets callers
// that keep something built from the nodes (PersistentScheduler, FeasibilityMemo) keep it while
// heartbeats replace the records.
import type { NodeRecord } from '../types.js';

export function sameResources(a: NodeRecord, b: NodeRecord): boolean {
  if (a === b) return true;
  if (a.id !== b.id || a.name !== b.name || a.cpuMilli !== b.cpuMilli || a.memoryMiB !== b.memoryMiB || a.gpus.length !== b.gpus.length) return false;
  for (let i = 0; i < a.gpus.length; i++) {
    const x = a.gpus[i]!;
    const y = b.gpus[i]!;
    if (x.index !== y.index || x.model !== y.model || x.memoryMiB !== y.memoryMiB || x.tflops !== y.tflops || x.sharing !== y.sharing || x.uuid !== y.uuid) return false;
  }
  return true;
}

/** Whether two node lists hold the same nodes with the same resources, in the same order. */
export function samePool(a: readonly NodeRecord[], b: readonly NodeRecord[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameResources(a[i]!, b[i]!)) return false;
  return true;
}
