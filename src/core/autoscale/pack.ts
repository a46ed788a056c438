// Packing demand onto nodes while planning: empty nodes of an offer, or the room left on nodes the
// pool already has. First fit decreasing, whole gangs or nothing. Pure; shared by the scale-out
// planner and the warm headroom (src/core/autoscale/headroom.ts).
import { amountForModel } from '../resolve.js';
import type { Micros } from '../pricing/money.js';
import { MILLI_PER_GPU, type ResourceRequest } from '../types.js';
import type { FreeRoom, PendingDemand, ProviderOffer } from './types.js';

/** A node being filled while planning: a new one of an offer, or what is left on one that is there. */
export class PlannedNode {
  readonly gpuMilli: number[];
  readonly gpuMem: number[];
  cpu: number;
  mem: number;
  readonly taskIds: string[] = [];
  constructor(
    readonly offer: ProviderOffer,
    free?: FreeRoom,
  ) {
    this.gpuMilli = free ? [...free.gpuMilli] : Array.from({ length: offer.gpuCount }, () => MILLI_PER_GPU);
    this.gpuMem = free ? [...free.gpuMemoryMiB] : Array.from({ length: offer.gpuCount }, () => offer.gpuMemoryMiB);
    this.cpu = free ? free.cpuMilli : offer.cpuMilli;
    this.mem = free ? free.memoryMiB : offer.memoryMiB;
  }

  /** Takes one replica of `r` if it fits, choosing the fullest GPUs that still hold it. */
  take(r: ResourceRequest, taskId: string): boolean {
    if (r.cpuMilli > this.cpu || r.memoryMiB > this.mem) return false;
    let picks: number[] = [];
    let milli = 0;
    let memory = 0;
    if (r.gpu !== null) {
      if (this.offer.gpuModel === null) return false;
      const amount = amountForModel(r.gpu, { model: this.offer.gpuModel, memoryMiB: this.offer.gpuMemoryMiB, tflops: this.offer.gpuTflops });
      if (amount === null) return false;
      milli = amount.gpuMilli;
      memory = amount.gpuMemoryMiB;
      const fitting = this.gpuMilli
        .map((free, i) => ({ i, free }))
        .filter(({ i, free }) => free >= milli && (this.gpuMem[i] ?? 0) >= memory)
        .sort((a, b) => a.free - b.free || a.i - b.i);
      if (fitting.length < r.gpu.count) return false;
      picks = fitting.slice(0, r.gpu.count).map((f) => f.i);
    }
    for (const i of picks) {
      this.gpuMilli[i] = (this.gpuMilli[i] ?? 0) - milli;
      this.gpuMem[i] = (this.gpuMem[i] ?? 0) - memory;
    }
    this.cpu -= r.cpuMilli;
    this.mem -= r.memoryMiB;
    if (!this.taskIds.includes(taskId)) this.taskIds.push(taskId);
    return true;
  }
}

/** How much a demand weighs when packing: GPU milli first, then CPU and RAM as tie-breaks. */
export function weight(d: PendingDemand): number {
  const g = d.resources.gpu;
  // Memory and TFLOPS shares have no fixed milli until a model is chosen: half a GPU orders them.
  const gpu = g === null ? 0 : g.count * (g.share.kind === 'milli' ? g.share.milli : MILLI_PER_GPU / 2);
  return d.replicas * (gpu * 1e6 + d.resources.cpuMilli + d.resources.memoryMiB / 1024);
}

const heaviestFirst = (demand: readonly PendingDemand[]): PendingDemand[] => [...demand].sort((a, b) => weight(b) - weight(a) || a.taskId.localeCompare(b.taskId));

/**
 * Packs whole demands (every replica of a gang, or none) into `nodes`, first fit decreasing, in
 * the nodes' order. Returns the demands that did not fit. Mutates the nodes.
 */
export function pack(demand: readonly PendingDemand[], nodes: readonly PlannedNode[]): PendingDemand[] {
  const left: PendingDemand[] = [];
  for (const d of heaviestFirst(demand)) {
    if (d.replicas === 1) {
      // take() changes a node only when the replica fits: no copy needed.
      if (!nodes.some((n) => n.take(d.resources, d.taskId))) left.push(d);
      continue;
    }
    // A gang is tried on copies first, so one that fits only partly leaves no trace.
    const trial = nodes.map((n) => clone(n));
    let placed = 0;
    for (let r = 0; r < d.replicas; r++) {
      if (trial.some((n) => n.take(d.resources, d.taskId))) placed++;
      else break;
    }
    if (placed === d.replicas) nodes.forEach((n, i) => Object.assign(n, trial[i]));
    else left.push(d);
  }
  return left;
}

export function clone(n: PlannedNode): PlannedNode {
  const c = new PlannedNode(n.offer);
  c.gpuMilli.splice(0, c.gpuMilli.length, ...n.gpuMilli);
  c.gpuMem.splice(0, c.gpuMem.length, ...n.gpuMem);
  c.cpu = n.cpu;
  c.mem = n.mem;
  c.taskIds.push(...n.taskIds);
  return c;
}

/** New nodes of one offer for the demand: the fewest that hold as much of it as `room` allows. */
export interface OfferPlan {
  offer: ProviderOffer;
  nodes: PlannedNode[];
  left: PendingDemand[];
  served: number;
  nodeCost: Micros;
  /** Some demand would have fit had more nodes been allowed. */
  roomRanOut: boolean;
}

/** First fit decreasing over new nodes of `offer`, opening a node only when nothing open holds a replica. */
export function planOffer(offer: ProviderOffer, demand: readonly PendingDemand[], room: number, nodeCost: Micros): OfferPlan {
  let nodes: PlannedNode[] = [];
  const left: PendingDemand[] = [];
  let served = 0;
  let roomRanOut = false;
  for (const d of heaviestFirst(demand)) {
    // One replica changes nothing unless it fits, so only a gang needs copies to try on.
    const trial = d.replicas === 1 ? nodes : nodes.map(clone);
    let ok = true;
    for (let r = 0; r < d.replicas && ok; r++) {
      if (trial.some((n) => n.take(d.resources, d.taskId))) continue;
      const fresh = new PlannedNode(offer);
      ok = fresh.take(d.resources, d.taskId);
      if (ok && trial.length >= room) {
        roomRanOut = true;
        ok = false;
      }
      if (ok) trial.push(fresh);
    }
    if (ok) {
      nodes = trial;
      served += weight(d);
    } else left.push(d);
  }
  return { offer, nodes, left, served, nodeCost, roomRanOut };
}

/** The plan that serves the most demand; at equal service the cheaper, then the one with fewer nodes. */
export function betterPlan(a: OfferPlan, b: OfferPlan): boolean {
  if (a.served !== b.served) return a.served > b.served;
  const ca = a.nodeCost * BigInt(a.nodes.length);
  const cb = b.nodeCost * BigInt(b.nodes.length);
  if (ca !== cb) return ca < cb;
  return a.nodes.length < b.nodes.length;
}
