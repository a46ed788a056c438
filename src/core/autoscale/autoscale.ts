// The autoscaler: (lent nodes, unmet demand, provider offers, price book, now, policy) → scale
// decisions. Pure: the server and the simulator call it with what they know, and carry out (or
// simulate) what it decides. It asks for nodes only for demand that waited for lack of room and
// that an offered shape can hold, picks the fewest and cheapest nodes for it, and gives back a
// node only after it was drained and found empty.
import type { PriceBook } from '../pricing/types.js';
import { unitPriceOf } from '../pricing/price.js';
import { formatMoney, type Micros } from '../pricing/money.js';
import type { ResourceRequest } from '../types.js';
import { headroomTarget, isPlaceholder, otherRoomNode, type HeadroomTarget } from './headroom.js';
import { betterPlan, clone, pack, planOffer, PlannedNode, type OfferPlan } from './pack.js';
import type {
  Arrival,
  AutoscaleMemory,
  AutoscalePolicy,
  AutoscaleResult,
  HeadroomPolicy,
  ManagedNode,
  OtherRoom,
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
  /** Tasks that arrived lately (at least the forecast window's), for the headroom's scale-ahead. */
  arrivals?: readonly Arrival[];
  /** Room on the pool's nodes that no provider lent: it counts toward the headroom. */
  otherRooms?: readonly OtherRoom[];
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
  const whyByRequest = new Map<string, string | null>();
  const whyNot = (d: PendingDemand): string | null => {
    const key = JSON.stringify(d.resources);
    let why = whyByRequest.get(key);
    if (why === undefined) whyByRequest.set(key, (why = whyUnservable(d, input.offers)));
    return why;
  };

  // The room the pool has. Nodes on their way absorb demand first: what fits them is already being
  // scaled up for. So do lent nodes that are ready and empty: the scheduler's next cycle places
  // there (a node that has just joined is empty until then), and asking for another node would be
  // one too many. The most recently busy of those come first, so the longest idle are the ones the
  // headroom leaves free to go.
  const planOf = (n: ManagedNode): PlannedNode[] => {
    const o = offerByKey.get(offerKey(n.provider, n.shape));
    return o ? [new PlannedNode(o, n.free)] : [];
  };
  const empty = (n: ManagedNode): boolean => n.activeTasks === 0 && n.reservations === 0;
  const emptyReady = live
    .filter((n) => n.lifecycle === 'ready' && empty(n))
    .sort((a, b) => (b.idleSince ?? now) - (a.idleSince ?? now) || a.id.localeCompare(b.id));
  const onTheWay = live.filter((n) => n.lifecycle === 'requested' || n.lifecycle === 'joining');
  const coming = [...emptyReady, ...onTheWay].flatMap((n) => planOf(n).map((plan) => ({ id: n.id, plan })));
  // What is left on busy nodes (lent ones that say, and the pool's own) holds headroom, not demand:
  // the scheduler already found no room there for what waits.
  const busyRooms = [
    ...live.filter((n) => n.lifecycle === 'ready' && !empty(n) && n.free !== undefined).flatMap(planOf),
    ...(input.otherRooms ?? []).map(otherRoomNode),
  ];

  // The warm headroom, and whether the pool is short of it now: then waiting demand skips the threshold.
  const target = headroomTarget(policy.headroom, input.arrivals ?? [], now, Math.max(0, ...input.offers.map((o) => o.gpuCount)));
  const placeholders = target.placeholders.filter((d) => whyNot(d) === null);
  const short = placeholders.length > 0 && pack(placeholders, [...busyRooms, ...coming.map((c) => c.plan)].map(clone)).length > 0;
  const thresholdMs = short ? 0 : policy.pendingThresholdMs;

  // Demand that waited long enough for lack of room (already covered demand counts at once).
  const eligible = input.demand.filter(
    (d) => d.reason !== null && ROOM_REASONS.includes(d.reason) && (d.reason === 'ScalingUp' || now - d.pendingSince >= thresholdMs),
  );
  const unservable: AutoscaleResult['unservable'] = [];
  const servable: PendingDemand[] = [];
  for (const d of eligible) {
    const why = whyNot(d);
    if (why === null) servable.push(d);
    else unservable.push({ taskId: d.taskId, why });
  }
  const remaining = pack(
    servable,
    coming.map((c) => c.plan),
  );
  const scalingUp = new Set(coming.flatMap((c) => c.plan.taskIds));

  // Scale out: one offer at a time, the one that serves the remaining demand best for its price.
  const inCooldown = (last: number | null): boolean => last !== null && now - last < policy.cooldownMs;
  const outBlocked = inCooldown(memory.lastScaleOutAt);
  const cooldownNote = `cool-down: the last scale-out was ${Math.round((now - (memory.lastScaleOutAt ?? now)) / 1000)} s ago (cool-down ${Math.round(policy.cooldownMs / 1000)} s)`;
  /** New nodes asked for in this pass, with the room they have left. */
  const planned: PlannedNode[] = [];
  /** Nodes of each offer asked for in this pass (against its `available`). */
  const askedOf = new Map<ProviderOffer, number>();
  const scaleOut = (demand: PendingDemand[], reasonOf: (node: PlannedNode) => string): void => {
    while (demand.length > 0) {
      let best: OfferPlan | null = null;
      const limits: string[] = [];
      for (const o of input.offers) {
        const cost = hourlyOf(o);
        let room = maxOf(o.provider) - (lentCount.get(o.provider) ?? 0);
        if (room <= 0) {
          limits.push(`${o.provider} is at its limit of ${maxOf(o.provider)} nodes`);
          continue;
        }
        if (o.available !== undefined) {
          const left = o.available - (askedOf.get(o) ?? 0);
          if (left < room) limits.push(`${o.provider} has ${Math.max(0, left)} more ${o.shape} node(s) to start`);
          room = Math.min(room, left);
          if (room <= 0) continue;
        }
        if (policy.maxHourlyMicros !== undefined && cost > 0n) {
          const affordable = Number((policy.maxHourlyMicros - hourly) / cost);
          if (affordable < room) limits.push(`${o.provider}:${o.shape} nodes would take the pool past its cost cap of ${formatMoney(policy.maxHourlyMicros)}/h`);
          room = Math.min(room, affordable);
        }
        if (room <= 0) continue;
        const plan = planOffer(o, demand, room, cost);
        if (plan.roomRanOut) limits.push(`${o.provider} is at its limit of ${maxOf(o.provider)} nodes (or the cost cap) for the rest of the demand`);
        if (plan.nodes.length > 0 && (best === null || betterPlan(plan, best))) best = plan;
      }
      if (best === null) {
        heldBack.push(...new Set(limits));
        return;
      }
      for (const node of best.nodes) {
        const taskIds = node.taskIds.filter((id) => !isPlaceholder(id));
        decisions.push({ kind: 'request', provider: node.offer.provider, shape: node.offer.shape, taskIds, hourlyMicros: best.nodeCost, reason: reasonOf(node) });
        taskIds.forEach((id) => scalingUp.add(id));
      }
      planned.push(...best.nodes);
      askedOf.set(best.offer, (askedOf.get(best.offer) ?? 0) + best.nodes.length);
      lentCount.set(best.offer.provider, (lentCount.get(best.offer.provider) ?? 0) + best.nodes.length);
      hourly += best.nodeCost * BigInt(best.nodes.length);
      demand = best.left;
      memory.lastScaleOutAt = now;
      // What limits held back after this plan is reported by the next round, if demand is left.
    }
  };
  if (remaining.length > 0) {
    if (outBlocked) heldBack.push(cooldownNote);
    else scaleOut(remaining, (node) => `${node.taskIds.length} task(s) waited over ${Math.round(thresholdMs / 1000)} s for room${short ? ' (the warm headroom is short)' : ''} (${node.taskIds.join(', ')})`);
  }

  // The headroom takes what room is left (on busy nodes, empty ones, coming ones, the ones just
  // asked for), and new nodes for the rest.
  if (placeholders.length > 0) {
    const left = pack(placeholders, [...busyRooms, ...coming.map((c) => c.plan), ...planned]);
    if (left.length > 0 && outBlocked) {
      if (remaining.length === 0) heldBack.push(cooldownNote);
    } else if (left.length > 0) scaleOut(left, () => headroomReason(policy.headroom, target));
  }
  /** Lent nodes some waiting demand or the headroom is meant for: never drained for being idle. */
  const wanted = new Set(coming.filter((c) => c.plan.taskIds.length > 0).map((c) => c.id));

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
    if (n.lifecycle === 'draining') {
      if (empty(n)) decisions.push({ kind: 'release', nodeId: n.id, provider: n.provider, reason: 'drained and empty' });
      continue;
    }
    if (n.lifecycle !== 'ready' || !empty(n) || n.idleSince === null || now - n.idleSince < policy.idleTimeoutMs || wanted.has(n.id)) continue;
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

/** Why a node is asked for the headroom, in words. */
function headroomReason(h: HeadroomPolicy | undefined, target: HeadroomTarget): string {
  const parts: string[] = [];
  if (h !== undefined && (h.spareNodes ?? 0) > 0) parts.push(`${h.spareNodes} spare whole node(s)`);
  if (h !== undefined && h.spareGpus > 0) parts.push(`${h.spareGpus} spare GPU(s)`);
  if (h !== undefined && h.forecastFactor > 0 && target.recent > 0) {
    const gpus = Math.round(target.recentGpus * 100) / 100;
    parts.push(`${h.forecastFactor} × the ${target.recent} task(s) (${gpus} GPU(s)) that arrived in the last ${Math.round(h.forecastWindowMs / 1000)} s`);
  }
  return `warm headroom: room kept ready for ${parts.join(' and ')}`;
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
