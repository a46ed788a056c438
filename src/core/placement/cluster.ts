// ClusterState: the free capacity of every node and GPU, changed only through allocate/release.
// Shared by the live scheduler (built from nodes + active tasks) and the simulator.
import { ChangeFeed } from './feed.js';
import type { ClusterView, GpuSlot, NodeSlot, PlacementChoice, PodRequest } from './types.js';

/** What a node looks like before anything runs on it. */
export interface NodeInit {
  id: string;
  name: string;
  cpuMilli: number;
  memoryMiB: number;
  gpus: readonly { index: number; model: string; memoryMiB: number; tflops: number; exclusive: boolean }[];
}

/** Per-GPU amounts a request takes on a node of `model`, or null when it cannot run there. */
export interface PerGpuAmount {
  gpuMilli: number;
  gpuMemoryMiB: number;
}

/**
 * A request whose per-GPU share depends on the GPU model (a memory or TFLOPS request):
 * `perModel` gives the amounts for each model it may run on. When absent, `gpuMilli` and
 * `gpuMemoryMiB` of the request apply on every allowed model.
 */
export interface ResolvedPodRequest extends PodRequest {
  perModel?: ReadonlyMap<string, PerGpuAmount>;
}

/** The per-GPU amounts `req` takes on `node`, or null if the node's model is not allowed. */
export function amountOn(node: NodeSlot, req: ResolvedPodRequest): PerGpuAmount | null {
  if (req.gpuCount === 0) return { gpuMilli: 0, gpuMemoryMiB: 0 };
  if (req.models.length > 0 && !req.models.includes(node.model)) return null;
  if (req.perModel) return req.perModel.get(node.model) ?? null;
  return { gpuMilli: req.gpuMilli, gpuMemoryMiB: req.gpuMemoryMiB };
}

/** Whether one GPU can take `amount` right now. */
export function gpuFits(gpu: GpuSlot, amount: PerGpuAmount): boolean {
  // An exclusive GPU takes whole-GPU tasks only, and only when nothing else is on it.
  if (gpu.exclusive) return amount.gpuMilli >= gpu.totalMilli && gpu.freeMilli === gpu.totalMilli;
  return gpu.freeMilli >= amount.gpuMilli && gpu.freeMemoryMiB >= amount.gpuMemoryMiB;
}

/** Whether the node's CPU and RAM can take the request (GPUs not considered). */
export function hostFits(node: NodeSlot, req: PodRequest): boolean {
  return node.cpuMilliFree >= req.cpuMilli && node.memoryMiBFree >= req.memoryMiB;
}

/** Indices of the node's GPUs that can each take `amount`. */
export function fittingGpus(node: NodeSlot, amount: PerGpuAmount): number[] {
  const out: number[] = [];
  for (let i = 0; i < node.gpus.length; i++) if (gpuFits(node.gpus[i]!, amount)) out.push(i);
  return out;
}

/** Whether `req` fits on `node` as it is now (host resources and enough GPUs). */
export function nodeFits(node: NodeSlot, req: ResolvedPodRequest): boolean {
  if (!hostFits(node, req)) return false;
  if (req.gpuCount === 0) return true;
  const amount = amountOn(node, req);
  if (!amount) return false;
  let n = 0;
  for (const g of node.gpus) if (gpuFits(g, amount) && ++n >= req.gpuCount) return true;
  return false;
}

/** The kind of a GPU task for `NodeSlot.gpuTaskKinds`: `share` or `N-gpu`. */
export function gpuTaskKind(gpuCount: number, gpuMilli: number): string {
  return gpuCount === 1 && gpuMilli < 1000 ? 'share' : `${gpuCount}-gpu`;
}

export class ClusterState implements ClusterView {
  readonly nodes: NodeSlot[];
  /** Every change of a node, for the policies' ranked indexes (ranked.ts). */
  readonly changes: ChangeFeed;
  private readonly byId = new Map<string, number>();

  constructor(inits: readonly NodeInit[]) {
    this.nodes = inits.map((n, pos) => {
      this.byId.set(n.id, pos);
      const model = n.gpus[0]?.model ?? '';
      return {
        pos,
        id: n.id,
        name: n.name,
        model,
        cpuMilliTotal: n.cpuMilli,
        memoryMiBTotal: n.memoryMiB,
        cpuMilliFree: n.cpuMilli,
        memoryMiBFree: n.memoryMiB,
        gpuTaskKinds: new Map<string, number>(),
        gpus: n.gpus.map((g) => ({
          index: g.index,
          model: g.model,
          totalMilli: 1000,
          totalMemoryMiB: g.memoryMiB,
          tflops: g.tflops,
          freeMilli: 1000,
          freeMemoryMiB: g.memoryMiB,
          exclusive: g.exclusive,
        })),
      };
    });
    this.changes = new ChangeFeed(this.nodes);
  }

  nodePos(id: string): number | undefined {
    return this.byId.get(id);
  }

  /** Commit a placement. Throws if it does not fit: that is a bug in the caller. */
  allocate(choice: PlacementChoice, req: PodRequest): void {
    const node = this.nodes[choice.nodePos];
    if (!node) throw new Error(`allocate: no node at ${choice.nodePos}`);
    if (!hostFits(node, req)) throw new Error(`allocate: host resources of ${node.name} exceeded`);
    for (const i of choice.gpuIdx) {
      const g = node.gpus[i];
      if (!g || !gpuFits(g, choice)) throw new Error(`allocate: GPU ${i} of ${node.name} cannot take ${choice.gpuMilli}m`);
    }
    this.apply(node, choice.gpuIdx, -choice.gpuMilli, -choice.gpuMemoryMiB, -req.cpuMilli, -req.memoryMiB);
  }

  /** Record usage that already exists (a running task), without fit checks: the truth may overcommit. */
  charge(nodePos: number, gpuIdx: readonly number[], gpuMilli: number, gpuMemoryMiB: number, cpuMilli: number, memoryMiB: number): void {
    const node = this.nodes[nodePos];
    if (!node) throw new Error(`charge: no node at ${nodePos}`);
    this.apply(node, gpuIdx, -gpuMilli, -gpuMemoryMiB, -cpuMilli, -memoryMiB);
  }

  /** Undo an allocate or charge. */
  release(nodePos: number, gpuIdx: readonly number[], gpuMilli: number, gpuMemoryMiB: number, cpuMilli: number, memoryMiB: number): void {
    const node = this.nodes[nodePos];
    if (!node) throw new Error(`release: no node at ${nodePos}`);
    this.apply(node, gpuIdx, gpuMilli, gpuMemoryMiB, cpuMilli, memoryMiB);
  }

  /** A deep copy, for what-if evaluation. */
  clone(): ClusterState {
    const c = Object.create(ClusterState.prototype) as ClusterState;
    (c as { nodes: NodeSlot[] }).nodes = this.nodes.map((n) => ({
      ...n,
      gpus: n.gpus.map((g) => ({ ...g })),
      gpuTaskKinds: new Map(n.gpuTaskKinds),
    }));
    (c as unknown as { byId: Map<string, number> }).byId = this.byId;
    (c as { changes: ChangeFeed }).changes = new ChangeFeed(c.nodes);
    return c;
  }

  /**
   * Gives the node at `pos` the free state and task kinds of `from` (a node of the same pool in
   * another state), recorded as a change: how a kept what-if copy is brought to a new state without
   * touching the nodes that already match (backfill's reserved start, scheduler/what-if.ts).
   */
  assign(pos: number, from: NodeSlot): void {
    const node = this.nodes[pos];
    if (!node || node.gpus.length !== from.gpus.length) throw new Error(`assign: no node like ${from.name} at ${pos}`);
    this.changes.touch(pos);
    node.cpuMilliFree = from.cpuMilliFree;
    node.memoryMiBFree = from.memoryMiBFree;
    node.gpuTaskKinds = new Map(from.gpuTaskKinds);
    for (let i = 0; i < from.gpus.length; i++) {
      node.gpus[i]!.freeMilli = from.gpus[i]!.freeMilli;
      node.gpus[i]!.freeMemoryMiB = from.gpus[i]!.freeMemoryMiB;
    }
  }

  private apply(node: NodeSlot, gpuIdx: readonly number[], dMilli: number, dMem: number, dCpu: number, dRam: number): void {
    this.changes.touch(node.pos);
    node.cpuMilliFree += dCpu;
    node.memoryMiBFree += dRam;
    if (gpuIdx.length > 0 && dMilli !== 0 && node.gpuTaskKinds) {
      const kind = gpuTaskKind(gpuIdx.length, Math.abs(dMilli));
      const n = (node.gpuTaskKinds.get(kind) ?? 0) + (dMilli < 0 ? 1 : -1);
      if (n > 0) node.gpuTaskKinds.set(kind, n);
      else node.gpuTaskKinds.delete(kind);
    }
    for (const i of gpuIdx) {
      const g = node.gpus[i];
      if (!g) throw new Error(`no GPU ${i} on ${node.name}`);
      g.freeMilli += dMilli;
      g.freeMemoryMiB += dMem;
    }
  }
}
