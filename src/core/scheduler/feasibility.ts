// Submit-time check: can a request ever run on this pool, even with every node empty? A request
// that cannot is refused with a message saying why, rather than left to wait forever.
import { amountOn, ClusterState, fittingGpus, gpuFits, nodeFits, type ResolvedPodRequest } from '../placement/cluster.js';
import type { NodeSlot } from '../placement/types.js';
import type { GpuRequest, NodeRecord, ResourceRequest } from '../types.js';
import { nodeInit, poolModels } from './capacity.js';
import { count as countOf, cpus, mib } from './format.js';
import { describeRequest, resolveRequest } from './resolve.js';

/** `4xH100-80GB, 2xL4`: the GPUs of some nodes by model. */
export function inventory(nodes: readonly NodeSlot[]): string {
  const byModel = new Map<string, number>();
  for (const n of nodes) for (const g of n.gpus) byModel.set(g.model, (byModel.get(g.model) ?? 0) + 1);
  return [...byModel].map(([m, c]) => `${c}x${m}`).join(', ');
}

/** GPUs of `node` that could hold the request's per-GPU share when empty. */
function holdable(node: NodeSlot, req: ResolvedPodRequest): number {
  const amount = amountOn(node, req);
  if (!amount) return 0;
  let n = 0;
  for (const g of node.gpus) if (gpuFits(g, amount)) n++;
  return n;
}

function perGpuProblem(gpu: GpuRequest, allowed: readonly NodeSlot[], describe: string): string {
  let maxMem = 0;
  let maxMemModel = '';
  let maxTflops = 0;
  let maxTflopsModel = '';
  let allExclusive = true;
  for (const n of allowed) {
    for (const g of n.gpus) {
      if (g.totalMemoryMiB > maxMem) [maxMem, maxMemModel] = [g.totalMemoryMiB, g.model];
      if (g.tflops > maxTflops) [maxTflops, maxTflopsModel] = [g.tflops, g.model];
      if (!g.exclusive) allExclusive = false;
    }
  }
  const memNeed = gpu.memoryMiB ?? (gpu.share.kind === 'memory' ? gpu.share.memoryMiB : 0);
  if (memNeed > maxMem) return `needs ${mib(memNeed)} of GPU memory per GPU; the largest GPU has ${mib(maxMem)} (${maxMemModel})`;
  if (gpu.share.kind === 'tflops' && gpu.share.tflops > maxTflops) {
    return `needs ${gpu.share.tflops} TFLOPS per GPU; the fastest GPU has ${maxTflops} (${maxTflopsModel})`;
  }
  if (allExclusive && !(gpu.share.kind === 'milli' && gpu.share.milli >= 1000)) {
    const share = gpu.share.kind === 'milli' ? `${gpu.share.milli / 1000} of a GPU` : 'a share of a GPU';
    return `needs ${share}, but every GPU that could hold it is exclusive (whole GPUs only)`;
  }
  return `no GPU in the pool can hold ${describe}`;
}

/**
 * Why `resources` can never run on any of `nodes` even when they are empty, or null when some
 * node could hold it. Every registered node counts, whatever its state (a LOST node may come
 * back); with no nodes at all the answer is null: the pool may just be starting. A gang passes
 * its size as `replicas`: all of them must fit the empty pool at once.
 *
 * @example whyNeverFits({gpu: {count: 2, share: {kind: 'milli', milli: 1000}}, cpuMilli: 1000, memoryMiB: 1024}, oneH100)
 *   // 'needs 2 GPUs on one node; the largest node has 1 (1xH100-80GB)'
 */
export function neverFits(resources: ResourceRequest, nodes: readonly NodeRecord[], replicas = 1): NeverFits | null {
  if (nodes.length === 0) return null;
  const state = new ClusterState(nodes.map(nodeInit));
  const empty = state.nodes;
  const req = resolveRequest(resources, poolModels(nodes));
  let candidates: NodeSlot[] = empty;
  let qualifier = '';
  const gpu = resources.gpu;
  if (gpu && req.gpuCount > 0) {
    const withGpus = empty.filter((n) => n.gpus.length > 0);
    if (withGpus.length === 0) return { field: 'resources.gpu', message: `needs ${countOf(req.gpuCount, 'GPU')}; no node in the pool has a GPU` };
    const allowed = req.models.length === 0 ? withGpus : withGpus.filter((n) => n.gpus.some((g) => req.models.includes(g.model)));
    if (allowed.length === 0) {
      const models = [...new Set(withGpus.flatMap((n) => n.gpus.map((g) => g.model)))];
      return { field: 'resources.gpu', message: `needs model ${req.models.join(' or ')}; the pool has ${models.join(', ')}` };
    }
    const counts = new Map(allowed.map((n) => [n, holdable(n, req)]));
    const some = allowed.filter((n) => counts.get(n)! > 0);
    if (some.length === 0) return { field: 'resources.gpu', message: perGpuProblem(gpu, allowed, describeRequest(resources)) };
    candidates = some.filter((n) => counts.get(n)! >= req.gpuCount);
    if (candidates.length === 0) {
      let best = some[0]!;
      for (const n of some) if (counts.get(n)! > counts.get(best)!) best = n;
      return { field: 'resources.gpu', message: `needs ${req.gpuCount} GPUs on one node; the largest node has ${counts.get(best)} (${inventory([best])})` };
    }
    qualifier = candidates.length < empty.length ? ' that has the GPUs' : '';
  }
  const withCpu = candidates.filter((n) => n.cpuMilliTotal >= req.cpuMilli);
  if (withCpu.length === 0) {
    const max = Math.max(...candidates.map((n) => n.cpuMilliTotal));
    return { field: 'resources.cpu', message: `needs ${cpus(req.cpuMilli)}; the largest node${qualifier} has ${cpus(max)}` };
  }
  if (withCpu.length < candidates.length) qualifier = qualifier ? `${qualifier} and the CPUs` : ' that has the CPUs';
  if (!withCpu.some((n) => n.memoryMiBTotal >= req.memoryMiB)) {
    const max = Math.max(...withCpu.map((n) => n.memoryMiBTotal));
    return { field: 'resources.memory', message: `needs ${mib(req.memoryMiB)} of RAM; the largest node${qualifier} has ${mib(max)}` };
  }
  if (replicas > 1) {
    const fit = replicasFitting(state, req, replicas);
    if (fit < replicas) return { field: 'gang', message: `a gang of ${replicas} needs them all placed at once, each ${describeRequest(resources)}; the whole pool holds ${fit} when empty` };
  }
  return null;
}

/** A request that can never fit, with the spec field to blame. */
export interface NeverFits {
  field: 'resources.gpu' | 'resources.cpu' | 'resources.memory' | 'gang';
  message: string;
}

/** As `neverFits`, the message alone. */
export function whyNeverFits(resources: ResourceRequest, nodes: readonly NodeRecord[], replicas = 1): string | null {
  return neverFits(resources, nodes, replicas)?.message ?? null;
}

/** How many copies of `req` (up to `limit`) fit on `state`, placed node by node on the first fitting GPUs. */
function replicasFitting(state: ClusterState, req: ResolvedPodRequest, limit: number): number {
  let n = 0;
  for (const node of state.nodes) {
    while (n < limit && nodeFits(node, req)) {
      const amount = amountOn(node, req) ?? { gpuMilli: 0, gpuMemoryMiB: 0 };
      const gpuIdx = fittingGpus(node, amount).slice(0, req.gpuCount);
      state.allocate({ nodePos: node.pos, gpuIdx, gpuMilli: amount.gpuMilli, gpuMemoryMiB: amount.gpuMemoryMiB }, req);
      n++;
    }
    if (n >= limit) break;
  }
  return n;
}

/** As `whyNeverFits`, for a vGPU reservation: one slice of one GPU, no CPU or RAM of its own. */
export function whyReservationNeverFits(request: GpuRequest, nodes: readonly NodeRecord[]): string | null {
  return whyNeverFits({ gpu: request, cpuMilli: 0, memoryMiB: 0 }, nodes);
}
