// The autoscaler's loop in the server: every few seconds it reads what the provider lent and what
// waits, asks core's autoscale() what to do, and does it: starts nodes through the provider, drains
// idle ones, gives drained empty ones back, and marks LOST at once a node whose provider says it is
// gone (a Slurm job cancelled from outside). Every decision is an event with its reason.
import { randomBytes } from 'node:crypto';
import { autoscale } from '../core/autoscale/autoscale.js';
import { freeRoom } from '../core/autoscale/room.js';
import type { Arrival, AutoscaleMemory, AutoscalePolicy, FreeRoom, ManagedNode, NodeLifecycle, OtherRoom, PendingDemand, ProviderOffer } from '../core/autoscale/types.js';
import type { Micros } from '../core/pricing/money.js';
import type { PriceBook } from '../core/pricing/types.js';
import type { NodeRecord, PoolEvent, ResourceRequest, Task } from '../core/types.js';
import type { Timer } from '../util/clock.js';
import { PROVIDER_LABEL, type LentNodeAccess } from './autoscale-join.js';
import type { ControlPlane } from './control.js';
import type { AgentLaunch, NodeProvider, ProvidedNode } from './providers/types.js';

/** Labels the autoscaler puts on the nodes it lent, so `fastgpu nodes` and the dashboard show them. */
export { PROVIDER_LABEL };
export const LIFECYCLE_LABEL = 'fastgpu.io/lifecycle';

export interface AutoscalerOptions {
  control: ControlPlane;
  provider: NodeProvider;
  policy: AutoscalePolicy;
  /**
   * How an agent on a new node is started: its argv after `fastgpu`, and its environment. The
   * autoscaler adds the node's own join token (FASTGPU_JOIN_TOKEN) to that environment.
   */
  launch: (nodeName: string) => AgentLaunch;
  /** Mints each lent node's join token and revokes what it held once it is gone. */
  access: LentNodeAccess;
  priceBook: () => PriceBook;
  /** How often it looks. Default 5 s. */
  intervalMs?: number;
  /** How often the offers are read again. Default 60 s. */
  offersEveryMs?: number;
  log?: (line: string) => void;
}

/** What the autoscaler knows of one node it lent. */
interface Lent {
  provided: ProvidedNode;
  requestedAt: number;
  drained: boolean;
  idleSince: number | null;
  ended: boolean;
  /** The join token minted for it (null: found in the provider's list, not asked for by this server). */
  tokenId: string | null;
  /** Its price per hour (the offer's), for node-hours by provider; null when unknown. */
  hourlyMicros: Micros | null;
  /** Its join is in the store (lent_nodes), so a pass does not write it again. */
  joinSaved: boolean;
}

export interface AutoscalerStatus {
  provider: string;
  nodes: { id: string; nodeName: string; shape: string; lifecycle: NodeLifecycle; detail: string; idleSince: number | null }[];
  scalingUp: string[];
  heldBack: string[];
  lastError: string | null;
}

export class Autoscaler {
  private readonly lent = new Map<string, Lent>();
  private memory: AutoscaleMemory = { lastScaleOutAt: null, lastScaleInAt: null };
  private offers: ProviderOffer[] = [];
  private offersAt = -Infinity;
  /** Since when each pending task has waited with its current reason. */
  private readonly waitingSince = new Map<string, { reason: string; since: number }>();
  private timer: Timer | null = null;
  /** The pass set for the moment the oldest waiting task crosses the threshold. */
  private wake: { at: number; timer: Timer } | null = null;
  private unsubscribe: (() => void) | null = null;
  private running: Promise<void> | null = null;
  /** A pass was asked for while one ran: run another when it ends. */
  private again = false;
  /** Tasks that arrived (submitted or requeued) within the scale-ahead forecast's window, oldest first. */
  private readonly arrivals: { at: number; taskId: string; resources: ResourceRequest | null }[] = [];
  private status: AutoscalerStatus;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: AutoscalerOptions) {
    this.log = opts.log ?? (() => undefined);
    this.status = { provider: opts.provider.name, nodes: [], scalingUp: [], heldBack: [], lastError: null };
  }

  start(): void {
    const every = this.opts.intervalMs ?? 5_000;
    this.timer = this.opts.control.timers.interval(() => void this.tick(), every).unref();
    this.unsubscribe = this.opts.control.subscribe((e) => this.onEvent(e));
  }

  /** Stops the loop and waits for a pass under way; nodes stay lent (the next server finds them). */
  async stop(): Promise<void> {
    this.timer?.clear();
    this.timer = null;
    this.wake?.timer.clear();
    this.wake = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.again = false;
    await this.running;
  }

  /** One pass; passes never overlap. Errors are logged and kept for the status, never thrown. */
  tick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.pass()
      .then(() => {
        this.status.lastError = null;
      })
      .catch((e: unknown) => {
        const msg = e instanceof Error ? e.message : String(e);
        this.status.lastError = msg;
        this.log(`autoscaler: ${msg}`);
      })
      .finally(() => {
        this.running = null;
        if (this.again && this.timer !== null) {
          this.again = false;
          void this.tick();
        }
      });
    return this.running;
  }

  /**
   * A task that starts waiting for room wakes the loop the moment it has waited `pendingThresholdMs`
   * (from its own `task.pending` event), not at the next interval: the interval alone would add up
   * to a whole period to every scale-out.
   */
  private onEvent(e: PoolEvent): void {
    if (e.type === 'task.submitted' || e.type === 'task.requeued') this.noteArrival(e);
    if (e.type !== 'task.pending' || e.taskId === undefined || this.timer === null) return;
    const reason = e.data.reason;
    if (reason !== 'Resources' && reason !== 'Fragmentation') return;
    const since = this.noteWait(e.taskId, reason, e.at);
    this.wakeAt(since + this.opts.policy.pendingThresholdMs);
  }

  /** Remembers an arrival for the scale-ahead forecast, and looks soon: the headroom may be short now. */
  private noteArrival(e: PoolEvent): void {
    const h = this.opts.policy.headroom;
    if (h === undefined || e.taskId === undefined || this.timer === null) return;
    if (h.forecastFactor > 0) {
      // The task's request is read at the next pass: the event comes before the task is in memory.
      this.arrivals.push({ at: e.at, taskId: e.taskId, resources: null });
      while (this.arrivals.length > 0 && this.arrivals[0]!.at < e.at - h.forecastWindowMs) this.arrivals.shift();
    }
    // A second's grace gathers a burst of submissions into one pass (each pass lists the provider's nodes).
    this.wakeAt(this.opts.control.clock.now() + 1_000);
  }

  /** The arrivals with their requests (a task that already ended is read no more and left out). */
  private knownArrivals(): Arrival[] {
    const out: Arrival[] = [];
    for (const a of this.arrivals) {
      a.resources ??= this.opts.control.tasks.get(a.taskId)?.spec.resources ?? null;
      if (a.resources !== null) out.push({ at: a.at, resources: a.resources, replicas: 1 });
    }
    return out;
  }

  private wakeAt(at: number): void {
    if (this.wake !== null && this.wake.at <= at) return;
    this.wake?.timer.clear();
    const { timers, clock } = this.opts.control;
    const timer = timers
      .timeout(() => {
        this.wake = null;
        void this.tick();
      }, Math.max(0, at - clock.now()))
      .unref();
    this.wake = { at, timer };
  }

  /** Since when `taskId` has waited for room, given that it waits with `reason` at `at`. */
  private noteWait(taskId: string, reason: string, at: number): number {
    const w = this.waitingSince.get(taskId);
    // ScalingUp is Resources or Fragmentation with a node coming: the wait goes on.
    if (w === undefined || (w.reason !== reason && !(reason === 'ScalingUp' || w.reason === 'ScalingUp'))) {
      this.waitingSince.set(taskId, { reason, since: at });
      return at;
    }
    return w.since;
  }

  getStatus(): AutoscalerStatus {
    return this.status;
  }

  private async pass(): Promise<void> {
    const { control, provider, policy } = this.opts;
    const now = control.clock.now();
    if (now - this.offersAt >= (this.opts.offersEveryMs ?? 60_000)) {
      this.offers = await provider.offers();
      this.offersAt = now;
      control.setOffered(this.offers);
    }

    // What the provider says of its nodes, beside what registered.
    for (const p of await provider.list()) {
      const l = this.lent.get(p.id);
      if (l) {
        l.provided = p;
        continue;
      }
      // Lent before this server started (or by one before it): known from now on.
      const found: Lent = { provided: p, requestedAt: now, drained: false, idleSince: null, ended: false, tokenId: null, hourlyMicros: this.offers.find((o) => o.shape === p.shape)?.hourlyMicros ?? null, joinSaved: false };
      this.lent.set(p.id, found);
      await this.save(p.id, found, {});
    }
    const managed: ManagedNode[] = [];
    for (const [id, l] of this.lent) {
      const node = control.findNode(l.provided.nodeName);
      if (l.provided.state === 'ended') {
        if (!l.ended) {
          l.ended = true;
          await this.opts.access.revoke(l.provided.nodeName, l.tokenId);
          await this.save(id, l, { ...this.joined(l, node), releasedAt: now, releaseReason: `ended: ${l.provided.detail}` });
          if (node && node.state !== 'LOST') await control.nodeGone(node.id, `its ${provider.name} node ${id} ended: ${l.provided.detail}`);
          await control.recordEvent('autoscale.ended', node ? { nodeId: node.id } : {}, { provider: provider.name, providerId: id, name: l.provided.nodeName, detail: l.provided.detail });
          if (node) await control.labelNode(node.id, { [LIFECYCLE_LABEL]: 'released' });
        }
        continue;
      }
      const lifecycle = this.lifecycleOf(l, node);
      if (!l.joinSaved && node && (lifecycle === 'ready' || lifecycle === 'draining')) {
        await this.save(id, l, this.joined(l, node));
        l.joinSaved = true;
      }
      const active = node ? control.activeOn(node.id).length : 0;
      const reservations = node ? [...control.reservations.values()].filter((r) => r.state === 'ACTIVE' && r.placement?.nodeId === node.id).length : 0;
      if (lifecycle === 'ready' || lifecycle === 'draining') {
        if (active === 0 && reservations === 0) l.idleSince ??= now;
        else l.idleSince = null;
      }
      if (node) await control.labelNode(node.id, { [PROVIDER_LABEL]: provider.name, [LIFECYCLE_LABEL]: lifecycle });
      const free = policy.headroom !== undefined && node && lifecycle === 'ready' && active + reservations > 0 ? { free: this.roomOn(node) } : {};
      managed.push({ id, provider: provider.name, shape: l.provided.shape, lifecycle, requestedAt: l.requestedAt, activeTasks: active, reservations, idleSince: l.idleSince, ...free });
    }

    const demand = this.demand(now);
    const headroom = policy.headroom === undefined ? {} : { arrivals: this.knownArrivals(), otherRooms: this.otherRooms() };
    const r = autoscale({ nodes: managed, demand, offers: this.offers, priceBook: this.opts.priceBook(), now, policy, memory: this.memory, ...headroom });
    this.memory = r.memory;

    for (const d of r.decisions) {
      if (d.kind === 'request') {
        const nodeName = `${provider.name}-${randomBytes(3).toString('hex')}`;
        const asked = control.clock.now();
        const p = await this.request(d.shape, nodeName);
        const requestMs = control.clock.now() - asked;
        const l: Lent = { provided: p, requestedAt: now, drained: false, idleSince: null, ended: false, tokenId: p.tokenId, hourlyMicros: d.hourlyMicros, joinSaved: false };
        this.lent.set(p.id, l);
        await this.save(p.id, l, {});
        this.log(`autoscaler: asked ${provider.name} for a ${d.shape} node (${p.id}, ${nodeName}): ${d.reason}`);
        await control.recordEvent('autoscale.requested', {}, { provider: provider.name, providerId: p.id, name: nodeName, shape: d.shape, tasks: d.taskIds, reason: d.reason, requestMs });
      } else if (d.kind === 'drain') {
        const l = this.lent.get(d.nodeId);
        const node = l ? control.findNode(l.provided.nodeName) : undefined;
        if (!l || !node) continue;
        l.drained = true;
        await control.drainNode(node.id);
        await this.save(d.nodeId, l, { drainingAt: control.clock.now() });
        this.log(`autoscaler: draining ${node.name}: ${d.reason}`);
        await control.recordEvent('autoscale.drained', { nodeId: node.id }, { provider: provider.name, providerId: d.nodeId, name: node.name, reason: d.reason });
      } else {
        const l = this.lent.get(d.nodeId);
        await provider.release(d.nodeId);
        const node = l ? control.findNode(l.provided.nodeName) : undefined;
        if (l) {
          l.ended = true;
          await this.opts.access.revoke(l.provided.nodeName, l.tokenId);
          await this.save(d.nodeId, l, { ...this.joined(l, node), releasedAt: control.clock.now(), releaseReason: d.reason });
        }
        if (node) {
          await control.nodeGone(node.id, `given back to ${provider.name}: ${d.reason}`);
          await control.labelNode(node.id, { [LIFECYCLE_LABEL]: 'released' });
        }
        this.log(`autoscaler: gave ${l?.provided.nodeName ?? d.nodeId} back to ${provider.name}: ${d.reason}`);
        await control.recordEvent('autoscale.released', node ? { nodeId: node.id } : {}, { provider: provider.name, providerId: d.nodeId, name: l?.provided.nodeName, reason: d.reason });
      }
    }

    const coming = new Map(r.scalingUp.map((id) => [id, `a ${provider.name} node is being started for it`]));
    control.setScalingUp(coming);
    this.status = {
      provider: provider.name,
      nodes: [...this.lent.entries()]
        .filter(([, l]) => !l.ended)
        .map(([id, l]) => ({ id, nodeName: l.provided.nodeName, shape: l.provided.shape, lifecycle: this.lifecycleOf(l, control.findNode(l.provided.nodeName)), detail: l.provided.detail, idleSince: l.idleSince })),
      scalingUp: r.scalingUp,
      heldBack: [...r.heldBack, ...r.unservable.map((u) => `${u.taskId}: ${u.why}`)],
      lastError: null,
    };
    // Forget what ended long ago (providers forget too).
    for (const [id, l] of this.lent) if (l.ended && now - l.requestedAt > 86_400_000) this.lent.delete(id);
  }

  /** What the tasks and vGPU reservations on `node` leave free (a task inside a reservation takes nothing more). */
  private roomOn(node: NodeRecord): FreeRoom {
    const { control } = this.opts;
    const taken = [
      ...control.activeOn(node.id).flatMap((t) => (t.placement && t.placement.vgpuId === undefined ? [t.placement] : [])),
      ...[...control.reservations.values()].flatMap((r) => (r.state === 'ACTIVE' && r.placement?.nodeId === node.id ? [r.placement] : [])),
    ];
    return freeRoom(node, taken);
  }

  /** The room on the pool's own nodes (not lent, ready, not drained): it counts toward the headroom. */
  private otherRooms(): OtherRoom[] {
    const lentNames = new Set([...this.lent.values()].map((l) => l.provided.nodeName));
    const out: OtherRoom[] = [];
    for (const node of this.opts.control.nodes.values()) {
      if (node.state !== 'READY' || node.drained === true || lentNames.has(node.name)) continue;
      const g = node.gpus[0];
      out.push({ name: node.name, gpuModel: g?.model ?? null, gpuMemoryMiB: g?.memoryMiB ?? 0, gpuTflops: g?.tflops ?? 0, free: this.roomOn(node) });
    }
    return out;
  }

  /** When the node joined, as far as the pool knows (its agent's registration). */
  private joined(l: Lent, node: NodeRecord | undefined): { joinedAt?: number } {
    return node && !l.joinSaved ? { joinedAt: node.registeredAt } : {};
  }

  /** Writes what is known of a lent node; the store fills in only what it does not have yet. */
  private async save(id: string, l: Lent, times: { joinedAt?: number; drainingAt?: number; releasedAt?: number; releaseReason?: string }): Promise<void> {
    await this.opts.control.store.saveLentNode({
      provider: this.opts.provider.name,
      providerId: id,
      nodeName: l.provided.nodeName,
      shape: l.provided.shape,
      hourlyMicros: l.hourlyMicros,
      requestedAt: l.requestedAt,
      joinedAt: times.joinedAt ?? null,
      drainingAt: times.drainingAt ?? null,
      releasedAt: times.releasedAt ?? null,
      releaseReason: times.releaseReason ?? null,
    });
  }

  /** Asks the provider for a node whose agent joins with a join token of its own. */
  private async request(shape: string, nodeName: string): Promise<ProvidedNode & { tokenId: string }> {
    const { provider, access } = this.opts;
    const { tokenId, token } = await access.mint(nodeName, provider.name);
    const launch = this.opts.launch(nodeName);
    try {
      const p = await provider.request(shape, { ...launch, env: { ...launch.env, FASTGPU_JOIN_TOKEN: token } });
      return { ...p, tokenId };
    } catch (e) {
      // No node will use it: a token for a request that failed must not stay valid.
      await access.revoke(nodeName, tokenId);
      throw e;
    }
  }

  private lifecycleOf(l: Lent, node: NodeRecord | undefined): NodeLifecycle {
    if (l.ended) return 'released';
    if (l.drained) return 'draining';
    if (l.provided.state === 'pending') return 'requested';
    return node && node.state !== 'LOST' ? 'ready' : 'joining';
  }

  /**
   * Pending tasks with how long they have waited with their current reason. A gang's pending
   * members are one demand of that many replicas, placed all or nothing: nodes for part of a gang
   * would run none of it.
   */
  private demand(now: number): PendingDemand[] {
    const out: PendingDemand[] = [];
    const seen = new Set<string>();
    const gangs = new Map<string, PendingDemand>();
    for (const t of this.opts.control.tasks.values()) {
      if (t.state !== 'PENDING' || t.reason === null) continue;
      seen.add(t.id);
      const since = this.noteWait(t.id, t.reason, now);
      const gang = t.gangId !== null && t.spec.gang > 1 ? gangs.get(t.gangId) : undefined;
      if (gang) {
        gang.replicas++;
        gang.pendingSince = Math.min(gang.pendingSince, since);
        continue;
      }
      const d = demandOf(t, since);
      if (t.gangId !== null && t.spec.gang > 1) gangs.set(t.gangId, d);
      out.push(d);
    }
    for (const id of this.waitingSince.keys()) if (!seen.has(id)) this.waitingSince.delete(id);
    return out;
  }
}

function demandOf(t: Task, since: number): PendingDemand {
  return { taskId: t.id, resources: t.spec.resources, replicas: 1, reason: t.reason, pendingSince: since };
}
