// The pool's free capacity at the start of a cycle: a ClusterState over the READY nodes with
// every active task and reservation charged, plus when each charge is expected to go away
// (what the backfill reservation walks through).
import { ClusterState, type NodeInit } from '../placement/cluster.js';
import type { PlacementChoice } from '../placement/types.js';
import type { NodeRecord, Placement, SharingMode, Task } from '../types.js';
import type { ModelInfo } from './resolve.js';
import type { SchedulerSnapshot } from './types.js';

/** Resources held until `end`; released in that order when computing a reserved start. */
export interface Hold {
  end: number;
  nodePos: number;
  gpuIdx: number[];
  gpuMilli: number;
  gpuMemoryMiB: number;
  cpuMilli: number;
  memoryMiB: number;
}

export interface Capacity {
  cluster: ClusterState;
  /** The READY node records, by position in `cluster.nodes`. */
  records: NodeRecord[];
  /** Every charge that ends (active tasks); reservations hold theirs until deleted. */
  holds: Hold[];
  /** Distinct GPU models of the READY nodes, for resolving requests. */
  models: ModelInfo[];
}

export function nodeInit(n: NodeRecord): NodeInit {
  return {
    id: n.id,
    name: n.name,
    cpuMilli: n.cpuMilli,
    memoryMiB: n.memoryMiB,
    gpus: n.gpus.map((g) => ({ index: g.index, model: g.model, memoryMiB: g.memoryMiB, tflops: g.tflops, exclusive: g.sharing === 'exclusive' })),
  };
}

/** Distinct GPU models of `nodes` (first seen wins), as the request resolver wants them. */
export function poolModels(nodes: readonly NodeRecord[]): ModelInfo[] {
  const seen = new Map<string, ModelInfo>();
  for (const n of nodes) for (const g of n.gpus) if (!seen.has(g.model)) seen.set(g.model, { model: g.model, memoryMiB: g.memoryMiB, tflops: g.tflops });
  return [...seen.values()];
}

/** Positions in `rec.gpus` of the GPU indices of a placement; unknown indices are dropped. */
export function gpuPositions(rec: NodeRecord, indices: readonly number[]): number[] {
  const out: number[] = [];
  for (const idx of indices) {
    if (rec.gpus[idx]?.index === idx) out.push(idx);
    else {
      const p = rec.gpus.findIndex((g) => g.index === idx);
      if (p >= 0) out.push(p);
    }
  }
  return out;
}

/** When a task holding resources is expected to end: start + time limit (or the default), never before now. */
export function expectedEnd(t: Task, now: number, defaultRuntimeMs: number): number {
  const start = t.startedAt ?? t.scheduledAt ?? now;
  return Math.max(now, start + (t.spec.timeLimitMs ?? defaultRuntimeMs));
}

/**
 * Builds the cycle's capacity. Tasks inside a vGPU reservation are charged their CPU and RAM
 * only: the reservation's own charge holds the GPU slice.
 */
export function buildCapacity(snapshot: SchedulerSnapshot, now: number, defaultRuntimeMs: number): Capacity {
  const records = snapshot.nodes.filter((n) => n.state === 'READY');
  const cluster = new ClusterState(records.map(nodeInit));
  const holds: Hold[] = [];
  for (const t of snapshot.active) {
    const p = t.placement;
    if (!p) continue;
    const pos = cluster.nodePos(p.nodeId);
    if (pos === undefined) continue;
    const inSlice = p.vgpuId !== undefined;
    const gpuIdx = inSlice ? [] : gpuPositions(records[pos]!, p.gpus);
    const milli = inSlice ? 0 : p.gpuMilli;
    const mem = inSlice ? 0 : p.memoryMiB;
    cluster.charge(pos, gpuIdx, milli, mem, p.cpuMilli, p.hostMemoryMiB);
    holds.push({ end: expectedEnd(t, now, defaultRuntimeMs), nodePos: pos, gpuIdx, gpuMilli: milli, gpuMemoryMiB: mem, cpuMilli: p.cpuMilli, memoryMiB: p.hostMemoryMiB });
  }
  for (const r of snapshot.reservations) {
    const p = r.placement;
    if (r.state !== 'ACTIVE' || !p) continue;
    const pos = cluster.nodePos(p.nodeId);
    if (pos === undefined) continue;
    cluster.charge(pos, gpuPositions(records[pos]!, p.gpus), p.gpuMilli, p.memoryMiB, p.cpuMilli, p.hostMemoryMiB);
  }
  return { cluster, records, holds, models: poolModels(records) };
}

function sharingOf(rec: NodeRecord, gpuPos: number | undefined): SharingMode {
  const g = (gpuPos === undefined ? undefined : rec.gpus[gpuPos]) ?? rec.gpus[0];
  return g ? g.sharing : rec.simulated ? 'simulated' : 'exclusive';
}

/** The Placement for a policy's choice on the node at `choice.nodePos`. */
export function toPlacement(records: readonly NodeRecord[], choice: PlacementChoice, cpuMilli: number, hostMemoryMiB: number): Placement {
  const rec = records[choice.nodePos];
  if (!rec) throw new Error(`toPlacement: no node at ${choice.nodePos}`);
  const gpus: number[] = [];
  const gpuUuids: string[] = [];
  for (const i of choice.gpuIdx) {
    const g = rec.gpus[i];
    if (!g) throw new Error(`toPlacement: no GPU ${i} on ${rec.name}`);
    gpus.push(g.index);
    gpuUuids.push(g.uuid);
  }
  return {
    nodeId: rec.id,
    node: rec.name,
    gpus,
    gpuUuids,
    gpuMilli: choice.gpuIdx.length > 0 ? choice.gpuMilli : 0,
    memoryMiB: choice.gpuIdx.length > 0 ? choice.gpuMemoryMiB : 0,
    cpuMilli,
    hostMemoryMiB,
    sharing: sharingOf(rec, choice.gpuIdx[0]),
  };
}
