// Tenancy in the live cycle: quotas (a tenant's limit is never exceeded; an exhausted budget
// starts nothing), borrowing (capacity above a tenant's guarantee is lent, and the task holding
// it can be taken back), the fair-share queue order, and preemption.
//
// Borrowing is derived, not stored: a tenant's running tasks, oldest start first, use up its
// guarantee; those past it are borrowed. So the newest work is the first given back, the answer
// survives restarts without a stored flag, and a borrowed task whose older siblings ended is
// covered by the guarantee again. A pool where no tenant has a guarantee lends nothing (there is
// no one to give back to), so only tasks submitted `preemptible` can be preempted there.
//
// Preemption never lets the waiting task overlap its victims: the cycle only emits `preempt`
// decisions and leaves the waiting task PENDING; it starts in a later cycle, once the victims'
// exits are recorded and their resources are free (it goes first in the queue until then).
import { nodeFits, type ResolvedPodRequest } from '../placement/cluster.js';
import type { NodeSlot } from '../placement/types.js';
import { orderByFairShare, type FairShareOptions } from '../tenancy/fairshare.js';
import { selectVictims, type RunningTaskInfo } from '../tenancy/preemption.js';
import { quotaVerdict } from '../tenancy/quota.js';
import { DEFAULT_TENANT, type Tenant } from '../tenancy/types.js';
import { fairShareTaskOf, poolCapacity, runningInfoOf, tenantUsage } from '../tenancy/usage.js';
import type { PendingReason, Task } from '../types.js';
import { gpuPositions, type Hold } from './capacity.js';
import type { Cycle } from './cycle.js';
import type { QueueOrder, SchedulerSnapshot, TenancySnapshot } from './types.js';

export type { TenancySnapshot } from './types.js';

/** At most this many waiting tasks try preemption in one cycle (each try clones the cluster). */
export const MAX_PREEMPTION_TRIES = 16;

const gpus = (milli: number): string => `${Number((milli / 1000).toFixed(3))} GPU`;

/**
 * Ids of the running tasks that hold borrowed capacity: per tenant, by start (oldest first), the
 * tasks past its guarantee. Nothing is borrowed when no tenant has a guarantee.
 * @example borrowedTasks(active, [{name: 'a', guaranteeMilli: 1000, ...}, {name: 'b', guaranteeMilli: 0, ...}])
 */
export function borrowedTasks(active: readonly Task[], tenants: readonly Tenant[]): Set<string> {
  const out = new Set<string>();
  const guarantee = new Map(tenants.map((t) => [t.name, t.guaranteeMilli]));
  const guaranteed = tenants.reduce((s, t) => s + t.guaranteeMilli, 0);
  if (guaranteed <= 0) return out;
  const byTenant = new Map<string, Task[]>();
  for (const t of active) {
    const p = t.placement;
    if (!p || p.vgpuId !== undefined || p.gpus.length === 0) continue;
    let l = byTenant.get(t.spec.tenant);
    if (!l) byTenant.set(t.spec.tenant, (l = []));
    l.push(t);
  }
  const startOf = (t: Task): number => t.startedAt ?? t.scheduledAt ?? t.createdAt;
  for (const [tenant, list] of byTenant) {
    const g = guarantee.get(tenant) ?? 0;
    // Only capacity someone else is guaranteed can be reclaimed.
    if (guaranteed - g <= 0) continue;
    list.sort((a, b) => startOf(a) - startOf(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    let used = 0;
    for (const t of list) {
      used += t.placement!.gpuMilli * t.placement!.gpus.length;
      if (used > g) out.add(t.id);
    }
  }
  return out;
}

/**
 * The fair-share queue order as a `SchedulerPolicy.order`: priority within a tenant, weighted
 * dominant share (GPU milli and memory) across tenants, from the snapshot's tenants and what
 * each holds. Tasks with a preemption claim go first.
 */
export function fairShareOrder(opts: FairShareOptions = {}): QueueOrder {
  return (pending, snapshot) => {
    const tenants = snapshot.tenancy?.tenants ?? [];
    const claims = snapshot.tenancy?.claims;
    const usage = tenantUsage(snapshot.active, snapshot.reservations);
    const ordered = orderByFairShare(pending.map((t) => fairShareTaskOf(t)), usage, poolCapacity(snapshot.nodes), tenants, opts).map((f) => f.task);
    if (!claims || claims.size === 0) return ordered;
    const first = ordered.filter((t) => claims.has(t.id));
    return first.length === 0 ? ordered : [...first, ...ordered.filter((t) => !claims.has(t.id))];
  };
}

/** What a running task holds in this cycle's cluster (per-GPU amounts on each of `gpuIdx`). */
type Charge = Omit<Hold, 'end'>;

/** A running task that may be preempted, with what it holds. */
interface Candidate extends RunningTaskInfo {
  charge: Charge;
}

/**
 * The nodes that `released` touch, cloned with those charges given back: a what-if view for a
 * placement policy (positions renumbered from 0; `realPos` maps them back).
 */
function whatIf(nodes: readonly NodeSlot[], released: readonly Charge[]): { nodes: NodeSlot[]; realPos: number[] } {
  const touched = new Map<number, NodeSlot>();
  for (const h of released) {
    let n = touched.get(h.nodePos);
    if (!n) {
      const orig = nodes[h.nodePos]!;
      n = { ...orig, gpus: orig.gpus.map((g) => ({ ...g })), gpuTaskKinds: new Map(orig.gpuTaskKinds) };
      touched.set(h.nodePos, n);
    }
    n.cpuMilliFree += h.cpuMilli;
    n.memoryMiBFree += h.memoryMiB;
    for (const i of h.gpuIdx) {
      n.gpus[i]!.freeMilli += h.gpuMilli;
      n.gpus[i]!.freeMemoryMiB += h.gpuMemoryMiB;
    }
  }
  // Policies index nodes by `pos`: the view has its own positions.
  const realPos = [...touched.keys()];
  return { nodes: [...touched.values()].map((n, i) => ({ ...n, pos: i })), realPos };
}

/** The cycle's tenancy state: usage per tenant as the queue is walked, and preemption. */
export class CycleTenancy {
  private readonly tenants: Map<string, Tenant>;
  /** GPU milli held per tenant, placements of this cycle included. */
  private readonly held: Map<string, number>;
  private readonly stopping: Set<string>;
  private candidates: Candidate[] | null = null;
  private tries = 0;
  private readonly failed = new Set<string>();
  private activeById: Map<string, Task> | null = null;
  private readonly anyGuarantee: boolean;

  constructor(
    private readonly snap: TenancySnapshot,
    private readonly active: readonly Task[],
    reservations: SchedulerSnapshot['reservations'],
  ) {
    this.tenants = new Map(snap.tenants.map((t) => [t.name, t]));
    this.held = new Map([...tenantUsage(active, reservations)].map(([k, v]) => [k, v.gpuMilli]));
    this.stopping = new Set(snap.stopping ?? []);
    this.anyGuarantee = snap.tenants.some((t) => t.guaranteeMilli > 0);
  }

  tenant(name: string): Tenant {
    let t = this.tenants.get(name);
    // A tenant with no settings of its own gets the defaults, made once a cycle (asked per task).
    if (t === undefined) this.tenants.set(name, (t = { ...DEFAULT_TENANT, name }));
    return t;
  }

  heldBy(name: string): number {
    return this.held.get(name) ?? 0;
  }

  /** Why tasks of `tenant` asking `milli` in all may not start now (a blocked tenant, its limit), or null. */
  gate(name: string, milli: number): { reason: PendingReason; message: string } | null {
    const blocked = this.snap.blocked?.get(name);
    if (blocked) return blocked;
    const tenant = this.tenant(name);
    // No limit: nothing to refuse (asked for every task of a long queue, kept cheap).
    if (tenant.limitMilli === null) return null;
    const v = quotaVerdict(tenant, this.heldBy(name), milli);
    if (v.verdict === 'over-limit') return { reason: v.reason, message: v.message };
    return null;
  }

  /** Record a placement; true when it runs on borrowed capacity. */
  admit(task: Task, milli: number): boolean {
    const name = task.spec.tenant;
    const after = this.heldBy(name) + milli;
    this.held.set(name, after);
    return this.anyGuarantee && milli > 0 && after > this.tenant(name).guaranteeMilli && this.othersGuaranteed(name);
  }

  private othersGuaranteed(name: string): boolean {
    for (const t of this.tenants.values()) if (t.name !== name && t.guaranteeMilli > 0) return true;
    return false;
  }

  /**
   * Try to make room for `task` (which does not fit now) by preempting. On success pushes one
   * `preempt` decision per victim and a pending reason for the task, and returns true.
   */
  preempt(cy: Cycle, task: Task, req: ResolvedPodRequest, milli: number): boolean {
    const stopping = this.snap.claims?.get(task.id);
    if (stopping && stopping.length > 0) return this.holdForClaim(cy, task, req, stopping);
    if (this.snap.preemption === false || this.tries >= MAX_PREEMPTION_TRIES || req.gpuCount === 0) return false;
    const candidates = this.eligible(cy, task, milli);
    if (candidates.length === 0) return false;
    const memoKey = `${task.spec.tenant}|${task.spec.priority}|${milli}|${req.cpuMilli}|${req.memoryMiB}|${req.gpuCount}|${req.gpuMilli}|${req.models.join(',')}`;
    if (this.failed.has(memoKey)) return false;
    this.tries++;
    const { cluster } = cy.cap;
    // The task did not fit as things are, so it can only fit on a node where a victim frees
    // room: the what-if clones and offers just those nodes.
    const fits = (released: readonly Candidate[]): boolean => {
      const view = whatIf(cluster.nodes, released.map((v) => v.charge));
      if (!view.nodes.some((n) => nodeFits(n, req))) return false;
      return cy.placer.choose(view, req, cy.pctx) !== null;
    };
    const waiting = { id: task.id, tenant: task.spec.tenant, priority: task.spec.priority, gpuMilli: milli };
    const victims = selectVictims(waiting, candidates, fits, [...this.tenants.values()], this.held);
    if (!victims || victims.length === 0) {
      // The same request of the same tenant and priority would fail the same way this cycle.
      this.failed.add(memoKey);
      return false;
    }
    const message = `preempting ${victims.map((v) => v.id).join(', ')} to make room; starts once ${victims.length === 1 ? 'it stops' : 'they stop'}`;
    for (const v of victims) {
      this.stopping.add(v.id);
      const why =
        v.tenant !== task.spec.tenant && this.heldBy(task.spec.tenant) + milli <= this.tenant(task.spec.tenant).guaranteeMilli
          ? `tenant ${task.spec.tenant} reclaims its guarantee (${gpus(this.tenant(task.spec.tenant).guaranteeMilli)})`
          : `task ${task.id} has priority ${task.spec.priority} > ${v.priority}`;
      cy.decisions.push({ kind: 'preempt', taskId: v.id, forTaskId: task.id, message: `preempted: ${why}` });
    }
    cy.stats.preempted = (cy.stats.preempted ?? 0) + victims.length;
    cy.decisions.push({ kind: 'pending', taskId: task.id, reason: 'Resources', message });
    cy.stats.pending++;
    return true;
  }

  /**
   * A task whose victims are still stopping: it may not use their room yet (no overlap), and no
   * one else may take the room they have already freed. So the part of its future placement
   * (victims released) that is free now is blocked in this cycle's cluster, and it waits.
   */
  private holdForClaim(cy: Cycle, task: Task, req: ResolvedPodRequest, victimIds: readonly string[]): boolean {
    const { cluster, records } = cy.cap;
    this.activeById ??= new Map(this.active.map((t) => [t.id, t]));
    const charges: Charge[] = [];
    for (const id of victimIds) {
      const p = this.activeById.get(id)?.placement;
      const nodePos = p ? cluster.nodePos(p.nodeId) : undefined;
      if (!p || nodePos === undefined) continue;
      charges.push({ nodePos, gpuIdx: gpuPositions(records[nodePos]!, p.gpus), gpuMilli: p.gpuMilli, gpuMemoryMiB: p.memoryMiB, cpuMilli: p.cpuMilli, memoryMiB: p.hostMemoryMiB });
    }
    const view = whatIf(cluster.nodes, charges);
    const c = view.nodes.length > 0 ? cy.placer.choose(view, req, cy.pctx) : null;
    if (c) {
      const node = cluster.nodes[view.realPos[c.nodePos]!]!;
      for (const i of c.gpuIdx) {
        const g = node.gpus[i]!;
        const milli = Math.max(0, Math.min(g.freeMilli, c.gpuMilli));
        const mem = Math.max(0, Math.min(g.freeMemoryMiB, c.gpuMemoryMiB));
        if (milli > 0 || mem > 0) cluster.charge(node.pos, [i], milli, mem, 0, 0);
      }
      const cpu = Math.max(0, Math.min(node.cpuMilliFree, req.cpuMilli));
      const ram = Math.max(0, Math.min(node.memoryMiBFree, req.memoryMiB));
      if (cpu > 0 || ram > 0) cluster.charge(node.pos, [], 0, 0, cpu, ram);
    }
    const n = victimIds.length;
    cy.decisions.push({ kind: 'pending', taskId: task.id, reason: 'Resources', message: `waiting for ${n} preempted task${n === 1 ? '' : 's'} to stop (${victimIds.slice(0, 3).join(', ')}${n > 3 ? ', …' : ''})` });
    cy.stats.pending++;
    return true;
  }

  /** Running tasks `task` could preempt by either ground (selectVictims checks the details). */
  private eligible(cy: Cycle, task: Task, milli: number): Candidate[] {
    const all = this.allCandidates(cy);
    if (all.length === 0) return all;
    const name = task.spec.tenant;
    const reclaiming = this.heldBy(name) + milli <= this.tenant(name).guaranteeMilli;
    const borrowing = (t: string): boolean => this.heldBy(t) > this.tenant(t).guaranteeMilli;
    return all.filter(
      (v) =>
        !this.stopping.has(v.id) &&
        ((v.priority < task.spec.priority && (v.tenant === name || borrowing(v.tenant))) || (reclaiming && v.tenant !== name && borrowing(v.tenant))),
    );
  }

  private allCandidates(cy: Cycle): Candidate[] {
    if (this.candidates) return this.candidates;
    const borrowed = borrowedTasks(this.active, this.snap.tenants);
    const out: Candidate[] = [];
    // Built lazily: a cycle where nothing needs preemption never pays for it.
    for (const t of this.active) {
      const p = t.placement;
      if (!p || p.vgpuId !== undefined || (!t.spec.preemptible && !borrowed.has(t.id))) continue;
      const nodePos = cy.cap.cluster.nodePos(p.nodeId);
      if (nodePos === undefined) continue; // on a node that is not READY: its capacity is not offered anyway
      const charge = { nodePos, gpuIdx: gpuPositions(cy.cap.records[nodePos]!, p.gpus), gpuMilli: p.gpuMilli, gpuMemoryMiB: p.memoryMiB, cpuMilli: p.cpuMilli, memoryMiB: p.hostMemoryMiB };
      out.push({ ...runningInfoOf(t, borrowed.has(t.id)), charge });
    }
    this.candidates = out;
    return out;
  }
}
