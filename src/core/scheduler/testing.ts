// Builders of nodes, tasks and snapshots for the scheduler's tests and benchmark.
import type { GpuRequest, NodeRecord, Placement, SharingMode, Task, TaskSpec } from '../types.js';
import { mulberry32 } from '../placement/rng.js';

export interface NodeOpts {
  gpus?: number;
  model?: string;
  gpuMemoryMiB?: number;
  tflops?: number;
  sharing?: SharingMode;
  cpuMilli?: number;
  memoryMiB?: number;
  state?: NodeRecord['state'];
}

/** A node called `name` (also its id) with `gpus` identical GPUs (default 8×H100-80GB, 64 CPUs, 512 GiB). */
export function makeNode(name: string, o: NodeOpts = {}): NodeRecord {
  const n = o.gpus ?? 8;
  return {
    id: name,
    name,
    cpuMilli: o.cpuMilli ?? 64_000,
    memoryMiB: o.memoryMiB ?? 512 * 1024,
    labels: {},
    gpus: Array.from({ length: n }, (_, i) => ({
      index: i,
      uuid: `GPU-${name}-${i}`,
      model: o.model ?? 'H100-80GB',
      memoryMiB: o.gpuMemoryMiB ?? 80 * 1024,
      tflops: o.tflops ?? 989,
      sharing: o.sharing ?? 'simulated',
    })),
    state: o.state ?? 'READY',
    simulated: true,
    agentVersion: 'test',
    registeredAt: 0,
    lastHeartbeatAt: 0,
  };
}

/** `0.5` → half a GPU; `2` → two whole GPUs; a GpuRequest as is; null → CPU only. */
export function gpuReq(g: number | GpuRequest | null): GpuRequest | null {
  if (g === null || typeof g === 'object') return g;
  if (g < 1) return { count: 1, share: { kind: 'milli', milli: Math.round(g * 1000) } };
  return { count: g, share: { kind: 'milli', milli: 1000 } };
}

export interface TaskOpts {
  gpu?: number | GpuRequest | null;
  cpuMilli?: number;
  memoryMiB?: number;
  priority?: number;
  createdAt?: number;
  timeLimitMs?: number;
  gang?: number;
  gangId?: string;
  gangIndex?: number;
  vgpuId?: string;
  state?: Task['state'];
  placement?: Placement | null;
  startedAt?: number;
}

export function makeTask(id: string, o: TaskOpts = {}): Task {
  const spec: TaskSpec = {
    name: id,
    command: ['true'],
    env: {},
    resources: { gpu: gpuReq(o.gpu === undefined ? 1 : o.gpu), cpuMilli: o.cpuMilli ?? 1000, memoryMiB: o.memoryMiB ?? 1024 },
    priority: o.priority ?? 50,
    retries: 0,
    preemptible: false,
    gang: o.gang ?? 1,
    tenant: 'default',
  };
  if (o.timeLimitMs !== undefined) spec.timeLimitMs = o.timeLimitMs;
  if (o.vgpuId !== undefined) spec.vgpuId = o.vgpuId;
  const placement = o.placement ?? null;
  return {
    id,
    spec,
    state: o.state ?? (placement ? 'RUNNING' : 'PENDING'),
    reason: null,
    reasonMessage: null,
    attempts: placement ? 1 : 0,
    exitCode: null,
    createdAt: o.createdAt ?? 0,
    scheduledAt: placement ? (o.startedAt ?? 0) : null,
    startedAt: placement ? (o.startedAt ?? 0) : null,
    finishedAt: null,
    placement,
    gangId: o.gangId ?? null,
    gangIndex: o.gangIndex ?? 0,
    version: 1,
  };
}

/** A placement on `node` (a NodeRecord) of GPUs `gpus`, `milli` and `memoryMiB` on each. */
export function makePlacement(node: NodeRecord, gpus: number[], milli: number, memoryMiB = 0, cpuMilli = 1000, hostMemoryMiB = 1024): Placement {
  return {
    nodeId: node.id,
    node: node.name,
    gpus,
    gpuUuids: gpus.map((i) => node.gpus[i]?.uuid ?? `GPU-${i}`),
    gpuMilli: milli,
    memoryMiB,
    cpuMilli,
    hostMemoryMiB,
    sharing: node.gpus[0]?.sharing ?? 'simulated',
  };
}

/** A seeded generator of [0, 1), for deterministic policies in tests and benchmarks. */
export const seededRng = mulberry32;
