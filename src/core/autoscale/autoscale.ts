// The autoscaler: (lent nodes, unmet demand, provider offers, price book, now, policy) → scale
// decisions. Pure: the server and the simulator call it with what they know, and carry out (or
// simulate) what it decides. It asks for nodes only for demand that waited for lack of room and
// that an offered shape can hold, picks the fewest and cheapest nodes for it, and gives back a
// node only after it was drained and found empty.
import { amountForModel } from '../resolve.js';
import type { PriceBook } from '../pricing/types.js';
import { unitPriceOf } from '../pricing/price.js';
import { formatMoney, type Micros } from '../pricing/money.js';
import { MILLI_PER_GPU, type ResourceRequest } from '../types.js';
import type {
  AutoscaleMemory,
  AutoscalePolicy,
  AutoscaleResult,
  ManagedNode,
  PendingDemand,
  ProviderOffer,
  ScaleDecision,
} from './types.js';

export interface AutoscaleInput {
  /** Every node a provider lent (released ones are ignored). */
  nodes: readonly ManagedNode[];
  demand: readonly PendingDemand[];
  offers: readonly ProviderOffer[];
  priceBook: PriceBook;
  now: number;
  policy: AutoscalePolicy;
  memory: AutoscaleMemory;
}

/** Reasons that say "no room": only these make the autoscaler ask for nodes. */
const ROOM_REASONS: readonly string[] = ['Resources', 'Fragmentation', 'ScalingUp'];

/** What one node of an offer costs per hour: its own price, else the book's GPU price × count. */
export function offerHourly(offer: ProviderOffer, book: PriceBook): Micros {
  if (offer.hourlyMicros !== undefined) return offer.hourlyMicros;
  if (offer.gpuModel === null || offer.gpuCount === 0) return 0n;
  return unitPriceOf(book, offer.gpuModel) * BigInt(offer.gpuCount);
}

const offerKey = (provider: string, shape: string): string => `${provider}\u0000${shape}`;

/** An empty node of an offer being filled while planning. */
class PlannedNode {
  readonly gpuMilli: number[];
  readonly gpuMem: number[];
  cpu: number;
  mem: number;
  readonly taskIds: string[] = [];
  constructor(readonly offer: ProviderOffer) {
    this.gpuMilli = Array.from({ length: offer.gpuCount }, () => MILLI_PER_GPU);
    this.gpuMem = Array.from({ length: offer.gpuCount }, () => offer.gpuMemoryMiB);
    this.cpu = offer.cpuMilli;
    this.mem = offer.memoryMiB;
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
function weight(d: PendingDemand): number {
  const g = d.resources.gpu;
  // Memory and TFLOPS shares have no fixed milli until a model is chosen: half a GPU orders them.
  const gpu = g === null ? 0 : g.count * (g.share.kind === 'milli' ? g.share.milli : MILLI_PER_GPU / 2);
  return d.replicas * (gpu * 1e6 + d.resources.cpuMilli + d.resources.memoryMiB / 1024);
}

/**
 * Packs whole demands (every replica of a gang, or none) into `nodes`, first fit decreasing.
 * Returns the demands that did not fit. Mutates the nodes.
 */
function pack(demand: readonly PendingDemand[], nodes: readonly PlannedNode[]): PendingDemand[] {
  const left: PendingDemand[] = [];
  for (const d of [...demand].sort((a, b) => weight(b) - weight(a) || a.taskId.localeCompare(b.taskId))) {
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

function clone(n: PlannedNode): PlannedNode {
  const c = new PlannedNode(n.offer);
  c.gpuMilli.splice(0, c.gpuMilli.length, ...n.gpuMilli);
  c.gpuMem.splice(0, c.gpuMem.length, ...n.gpuMem);
  c.cpu = n.cpu;
  c.mem = n.mem;
  c.taskIds.push(...n.taskIds);
  return c;
}

/** Whether one empty node of `offer` holds one replica of `r` (a submit-time check while autoscaling). */
export function offerHolds(offer: ProviderOffer, r: ResourceRequest): boolean {
  return new PlannedNode(offer).take(r, '');
}

/** Why no offer can hold one replica of `d` even on an empty node, or null when one can. */
function whyUnservable(d: PendingDemand, offers: readonly ProviderOffer[]): string | null {
  if (offers.length === 0) return 'no provider offers any node shape';
  if (offers.some((o) => new PlannedNode(o).take(d.resources, d.taskId))) return null;
  return `no offered node shape can hold it (${offers.map((o) => `${o.provider}:${o.shape}`).join(', ')})`;
}

/**
 * Decide what to ask providers for and what to give back.
 * @example autoscale({nodes: [], demand: [oneWaitingTask], offers: [slurmA100x4], priceBook, now,
 *   policy, memory: {lastScaleOutAt: null, lastScaleInAt: null}}).decisions
 *   // [{kind: 'request', provider: 'slurm', shape: 'a100x4', taskIds: ['t1'], …}]
 */
export function autoscale(input: AutoscaleInput): AutoscaleResult {
  const { now, policy, priceBook } = input;
  const decisions: ScaleDecision[] = [];
  const heldBack: string[] = [];
  const memory: AutoscaleMemory = { ...input.memory };
  const offerByKey = new Map(input.offers.map((o) => [offerKey(o.provider, o.shape), o]));
  const hourlyCache = new Map<ProviderOffer, Micros>();
  const hourlyOf = (o: ProviderOffer): Micros => {
    let h = hourlyCache.get(o);
    if (h === undefined) hourlyCache.set(o, (h = offerHourly(o, priceBook)));
    return h;
  };
  // A node that never joined is given back first, and plans nothing: demand waits for others.
  const joinTimeout = policy.joinTimeoutMs;
  const stuck = (n: ManagedNode): boolean =>
    (n.lifecycle === 'requested' || n.lifecycle === 'joining') && joinTimeout !== undefined && now - n.requestedAt >= joinTimeout;
  for (const n of input.nodes.filter(stuck)) {
    decisions.push({ kind: 'release', nodeId: n.id, provider: n.provider, reason: `did not join within ${Math.round((joinTimeout ?? 0) / 1000)} s` });
  }
  const live = input.nodes.filter((n) => n.lifecycle !== 'released' && !stuck(n));

  const lentCount = new Map<string, number>();
  let hourly = 0n;
  for (const n of live) {
    lentCount.set(n.provider, (lentCount.get(n.provider) ?? 0) + 1);
    const o = offerByKey.get(offerKey(n.provider, n.shape));
    if (o) hourly += hourlyOf(o);
  }
  const maxOf = (provider: string): number => policy.maxNodes[provider] ?? 0;
  const canAfford = (extra: Micros): boolean => policy.maxHourlyMicros === undefined || hourly + extra <= policy.maxHourlyMicros;

  // Demand that waited long enough for lack of room (already covered demand counts at once).
  const eligible = input.demand.filter(
    (d) => d.reason !== null && ROOM_REASONS.includes(d.reason) && (d.reason === 'ScalingUp' || now - d.pendingSince >= policy.pendingThresholdMs),
  );
  const unservable: AutoscaleResult['unservable'] = [];
  const servable: PendingDemand[] = [];
  const whyByRequest = new Map<string, string | null>();
  for (const d of eligible) {
    const key = JSON.stringify(d.resources);
    let why = whyByRequest.get(key);
    if (why === undefined) {
      why = whyUnservable(d, input.offers);
      whyByRequest.set(key, why);
    }
    if (why === null) servable.push(d);
    else unservable.push({ taskId: d.taskId, why });
  }

  // Nodes on their way absorb demand first: what fits them is already being scaled up for. So do
  // lent nodes that are ready and empty: the scheduler's next cycle places there (a node that has
  // just joined is empty until then), and asking for another node would be one too many.
  const coming = live
    .filter((n) => n.lifecycle === 'requested' || n.lifecycle === 'joining' || (n.lifecycle === 'ready' && n.activeTasks === 0 && n.reservations === 0))
    .flatMap((n) => {
      const o = offerByKey.get(offerKey(n.provider, n.shape));
      return o ? [{ id: n.id, plan: new PlannedNode(o) }] : [];
    });
  let remaining = pack(
    servable,
    coming.map((c) => c.plan),
  );
  const scalingUp = new Set(coming.flatMap((c) => c.plan.taskIds));
  /** Lent nodes some waiting demand is meant for: never drained for being idle. */
  const wanted = new Set(coming.filter((c) => c.plan.taskIds.length > 0).map((c) => c.id));

  // Scale out: one node at a time, the offer that serves the remaining demand best for its price.
  const inCooldown = (last: number | null): boolean => last !== null && now - last < policy.cooldownMs;
  if (remaining.length > 0 && inCooldown(memory.lastScaleOutAt)) {
    heldBack.push(`cool-down: the last scale-out was ${Math.round((now - (memory.lastScaleOutAt ?? now)) / 1000)} s ago (cool-down ${Math.round(policy.cooldownMs / 1000)} s)`);
  } else {
    let scaledOut = false;
    while (remaining.length > 0) {
      let best: OfferPlan | null = null;
      const limits: string[] = [];
      for (const o of input.offers) {
        const cost = hourlyOf(o);
        let room = maxOf(o.provider) - (lentCount.get(o.provider) ?? 0);
        if (room <= 0) {
          limits.push(`${o.provider} is at its limit of ${maxOf(o.provider)} nodes`);
          continue;
        }
        if (policy.maxHourlyMicros !== undefined && cost > 0n) {
          const affordable = Number((policy.maxHourlyMicros - hourly) / cost);
          if (affordable < room) limits.push(`${o.provider}:${o.shape} nodes would take the pool past its cost cap of ${formatMoney(policy.maxHourlyMicros)}/h`);
          room = Math.min(room, affordable);
        }
        if (room <= 0) continue;
        const plan = planOffer(o, remaining, room, cost);
        if (plan.roomRanOut) limits.push(`${o.provider} is at its limit of ${maxOf(o.provider)} nodes (or the cost cap) for the rest of the demand`);
        if (plan.nodes.length > 0 && (best === null || betterPlan(plan, best))) best = plan;
      }
      if (best === null) {
        heldBack.push(...new Set(limits));
        break;
      }
      for (const node of best.nodes) {
        decisions.push({
          kind: 'request',
          provider: node.offer.provider,
          shape: node.offer.shape,
          taskIds: node.taskIds,
          hourlyMicros: best.nodeCost,
          reason: `${node.taskIds.length} task(s) waited over ${Math.round(policy.pendingThresholdMs / 1000)} s for room (${node.taskIds.join(', ')})`,
        });
        node.taskIds.forEach((id) => scalingUp.add(id));
      }
      lentCount.set(best.offer.provider, (lentCount.get(best.offer.provider) ?? 0) + best.nodes.length);
      hourly += best.nodeCost * BigInt(best.nodes.length);
      remaining = best.left;
      scaledOut = true;
      // What limits held back after this plan is reported by the next round, if demand is left.
    }
    if (scaledOut) memory.lastScaleOutAt = now;
  }

  // Warm nodes: each provider keeps at least its minimum, on its cheapest shape.
  for (const [provider, min] of Object.entries(policy.minNodes)) {
    const cheapest = input.offers
      .filter((o) => o.provider === provider)
      .sort((a, b) => cmpBig(hourlyOf(a), hourlyOf(b)))[0];
    while (cheapest && (lentCount.get(provider) ?? 0) < Math.min(min, maxOf(provider))) {
      const cost = hourlyOf(cheapest);
      if (!canAfford(cost)) {
        heldBack.push(`${provider}: keeping ${min} warm would pass the cost cap`);
        break;
      }
      decisions.push({ kind: 'request', provider, shape: cheapest.shape, taskIds: [], hourlyMicros: cost, reason: `${provider} keeps at least ${min} node(s) warm` });
      lentCount.set(provider, (lentCount.get(provider) ?? 0) + 1);
      hourly += cost;
    }
  }

  // Scale in: an empty draining node is given back; an idle ready node is drained first.
  const keep = new Map<string, number>();
  for (const n of live) if (n.lifecycle !== 'draining') keep.set(n.provider, (keep.get(n.provider) ?? 0) + 1);
  const scaleInBlocked = inCooldown(memory.lastScaleInAt);
  let drained = false;
  for (const n of [...live].sort((a, b) => (a.idleSince ?? now) - (b.idleSince ?? now) || a.id.localeCompare(b.id))) {
    const empty = n.activeTasks === 0 && n.reservations === 0;
    if (n.lifecycle === 'draining') {
      if (empty) decisions.push({ kind: 'release', nodeId: n.id, provider: n.provider, reason: 'drained and empty' });
      continue;
    }
    if (n.lifecycle !== 'ready' || !empty || n.idleSince === null || now - n.idleSince < policy.idleTimeoutMs || wanted.has(n.id)) continue;
    if ((keep.get(n.provider) ?? 0) <= (policy.minNodes[n.provider] ?? 0)) continue;
    if (scaleInBlocked) {
      heldBack.push(`cool-down: node ${n.id} is idle but the last scale-in was under ${Math.round(policy.cooldownMs / 1000)} s ago`);
      continue;
    }
    decisions.push({ kind: 'drain', nodeId: n.id, provider: n.provider, reason: `idle for ${Math.round((now - n.idleSince) / 1000)} s (idle timeout ${Math.round(policy.idleTimeoutMs / 1000)} s)` });
    keep.set(n.provider, (keep.get(n.provider) ?? 0) - 1);
    drained = true;
  }
  if (drained) memory.lastScaleInAt = now;

  return { decisions, scalingUp: [...scalingUp].sort(), unservable, heldBack, memory };
}

/** New nodes of one offer for the demand: the fewest that hold as much of it as `room` allows. */
interface OfferPlan {
  offer: ProviderOffer;
  nodes: PlannedNode[];
  left: PendingDemand[];
  served: number;
  nodeCost: Micros;
  /** Some demand would have fit had more nodes been allowed. */
  roomRanOut: boolean;
}

/** First fit decreasing over new nodes of `offer`, opening a node only when nothing open holds a replica. */
function planOffer(offer: ProviderOffer, demand: readonly PendingDemand[], room: number, nodeCost: Micros): OfferPlan {
  let nodes: PlannedNode[] = [];
  const left: PendingDemand[] = [];
  let served = 0;
  let roomRanOut = false;
  for (const d of [...demand].sort((a, b) => weight(b) - weight(a) || a.taskId.localeCompare(b.taskId))) {
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
function betterPlan(a: OfferPlan, b: OfferPlan): boolean {
  if (a.served !== b.served) return a.served > b.served;
  const ca = a.nodeCost * BigInt(a.nodes.length);
  const cb = b.nodeCost * BigInt(b.nodes.length);
  if (ca !== cb) return ca < cb;
  return a.nodes.length < b.nodes.length;
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
