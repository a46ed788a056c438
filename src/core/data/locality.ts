// Locality (issue 16 item 4): a task whose inputs a node's cache already holds prefers that node,
// as a tie-break that costs no fragmentation. After the placement policy chooses, if the chosen
// node is cold and a warm node is its twin (the same GPU model and the same free state on every
// GPU, and room on the host), the task goes to the twin on the GPUs in the same state: the pool
// ends in the same shape either way, so every policy's measure of fragmentation is unchanged.
// Pure: positions and free state in, a choice out.
import type { ClusterState, ResolvedPodRequest } from '../placement/cluster.js';
import type { GpuSlot, NodeSlot, PlacementChoice } from '../placement/types.js';
import type { NodeRecord, Task } from '../types.js';

/** `tenant/name@version` of each input: what agents report their caches hold (protocol CacheReport.datasets). */
export function inputKeys(t: Task): string[] {
  return (t.spec.inputs ?? []).map((i) => `${t.spec.tenant}/${i.dataset}@${i.version ?? 0}`);
}

/**
 * Positions (in `cluster.nodes`) of the nodes whose caches hold every one of `keys`, as the
 * snapshot's node records (`all`) say now.
 */
export function warmNodes(cluster: ClusterState, all: readonly NodeRecord[], keys: readonly string[]): Set<number> {
  const out = new Set<number>();
  if (keys.length === 0) return out;
  const held = new Map<string, readonly string[]>();
  for (const r of all) if (r.cache && r.cache.datasets.length > 0) held.set(r.id, r.cache.datasets);
  if (held.size === 0) return out;
  cluster.nodes.forEach((n, pos) => {
    const h = held.get(n.id);
    if (h && keys.every((k) => h.includes(k))) out.add(pos);
  });
  return out;
}

const state = (g: GpuSlot): string => `${g.model}|${g.totalMilli}|${g.totalMemoryMiB}|${g.freeMilli}|${g.freeMemoryMiB}|${g.exclusive}`;
const signature = (n: NodeSlot): string => n.gpus.map(state).sort().join(',');

/**
 * Moves an allocated choice to a warm twin of its node, when there is one; answers the choice that
 * holds now (the twin's, or `c` unchanged).
 * @example preferWarm(cluster, choice, req, warmNodes(cap.records, inputKeys(task)))
 */
export function preferWarm(cluster: ClusterState, c: PlacementChoice, req: ResolvedPodRequest, warm: ReadonlySet<number>): PlacementChoice {
  if (warm.size === 0 || warm.has(c.nodePos)) return c;
  cluster.release(c.nodePos, c.gpuIdx, c.gpuMilli, c.gpuMemoryMiB, req.cpuMilli, req.memoryMiB);
  const chosen = cluster.nodes[c.nodePos]!;
  const sig = signature(chosen);
  let pick = c;
  for (const pos of [...warm].sort((a, b) => a - b)) {
    const n = cluster.nodes[pos];
    if (!n || n.cpuMilliFree < req.cpuMilli || n.memoryMiBFree < req.memoryMiB || signature(n) !== sig) continue;
    // The twin's GPUs in the states of the chosen ones, each used once.
    const used = new Set<number>();
    const gpuIdx: number[] = [];
    for (const i of c.gpuIdx) {
      const want = state(chosen.gpus[i]!);
      const j = n.gpus.findIndex((g, k) => !used.has(k) && state(g) === want);
      if (j < 0) break;
      used.add(j);
      gpuIdx.push(j);
    }
    if (gpuIdx.length !== c.gpuIdx.length) continue;
    pick = { ...c, nodePos: pos, gpuIdx };
    break;
  }
  cluster.allocate(pick, req);
  return pick;
}
