// The control plane: the live state of the pool (non-terminal tasks, nodes, reservations) in
// memory, written through to the store; the scheduling loop (on events, coalesced, and on a
// tick); and the server side of the agent protocol (register, heartbeat, assignments, reports).
//
// Consistency: every change to the live state happens synchronously in memory (so concurrent
// requests never see half a change), then its store writes join one serial chain. Assignments
// are handed to agents only after the placement is durable, so a server crash can never make an
// agent launch an attempt the store does not know about.
import { assignmentInputs, localityNote, stagingUpdate } from './datasets-inputs.js';
import { assignmentOutputs, uploadingUpdate } from './datasets-uploading.js';
import { conflict, FastGpuError, notFound } from '../core/errors.js';
import { FeasibilityMemo, PersistentScheduler } from '../core/scheduler/index.js';
import { fairShareOrder, type TenancySnapshot } from '../core/scheduler/tenancy.js';
import type { SchedulerPolicy } from '../core/scheduler/types.js';
import type { ProviderOffer } from '../core/autoscale/types.js';
import { DEFAULT_BUDGET_EXHAUSTED_POLICY, tasksToStopForBudget, type BudgetExhaustedPolicy } from '../core/tenancy/quota.js';
import { requeueAfter, requeueUnstarted } from '../core/state.js';
import {
  TERMINAL_STATES,
  type Attempt,
  type Clock,
  type NodeRecord,
  type Placement,
  type PoolEvent,
  type Task,
  type TaskState,
  type VgpuReservation,
} from '../core/types.js';
import type {
  Assignment,
  AssignmentsResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  RegisterRequest,
  RegisterResponse,
  ReportsRequest,
  RunningReport,
  StopOrder,
} from '../protocol/agent.js';
import { leaseTimings, type LeaseTimings } from '../protocol/lease.js';
import type { IdempotencyRecord, Store, TaskWrite, TenantRecord, UtilisationSample } from '../store/port.js';
import { sleepOn, timerClock, type Timer, type TimerClock } from '../util/clock.js';
import { checkAgentTime, checkAgentTimes } from './agent-input.js';
import { DependencyGate, liveArrayIds, resultsEnv } from './arrays-gate.js';
import { resultOfReport } from './arrays-result.js';
import { Billing, type MeteredAttempt } from './billing.js';
import { newId } from './ids.js';
import { holdAfterLease, LostAttempts, lostWrites, type LostWrites } from './lost-attempts.js';
import { NodeIdentities } from './node-identity.js';
import { gpuViews, placementView } from './views.js';
import { Waiters } from './waiters.js';
import { settlesWithin } from './settles-within.js';
import { PoolWorkload } from './workload.js';
import { TenantCache } from './tenant-cache.js';
import { GroupCommit } from './group-commit.js';

export type NewEvent = Omit<PoolEvent, 'seq'>;

export interface ControlOptions {
  store: Store;
  clock: Clock;
  policy?: Partial<SchedulerPolicy>;
  /** Control-loop tick in clock ms (on the clock's timers); 0 = no timer (tests call `tick()` themselves). */
  tickMs?: number;
  /**
   * The node lease (clock ms): no renewal for this long, counted after the server caught up
   * with its input → node LOST. The agents' fencing follows from it (src/protocol/lease.ts).
   */
  nodeLostAfterMs?: number;
  /** SIGTERM → SIGKILL grace sent with assignments and stop orders. */
  graceMs?: number;
  /**
   * How long a task whose node's lease ran out waits for that node's late exit report before it
   * is placed again (clock ms; default one lease, at least 15 s). See src/server/lost-attempts.ts.
   */
  lostHoldMs?: number;
  /** Running tasks of a tenant whose budget is exhausted: `continue` (default) or `stop`. */
  budgetPolicy?: BudgetExhaustedPolicy;
  /** Let waiting tasks preempt (default true). */
  preemption?: boolean;
  /** Clock ms between ledger settlements of running attempts (default 30 s). */
  settleEveryMs?: number;
  /** The pool's request-mix estimate (src/server/workload.ts); default: loaded from the store. */
  workload?: PoolWorkload;
  log?: (line: string) => void;
}

/** Hooks for metrics. */
export interface ControlHooks {
  cycle?(seconds: number, stats: { pending: number; placed: number }): void;
  submitted?(n: number): void;
  /** A running task was ordered to stop for a preemption. */
  preempted?(tenant: string): void;
}

/** What the server knows about one node's agent, beyond the NodeRecord. */
interface NodeRuntime {
  /** Clock time of the last register/heartbeat. */
  lastSeen: number;
  /** Assignments handed out (key → clock time), so a long-poll waits for something new. */
  delivered: Map<string, number>;
  /** Stop orders the agent must carry out, by key. */
  stops: Map<string, StopOrder>;
  /** Stop orders already answered in a poll (so a poll does not return at once for them again). */
  stopsDelivered: Set<string>;
  /** Consecutive heartbeats that did not list a key the server expects the agent to know. */
  misses: Map<string, number>;
  /** Latest utilisation per GPU index. */
  util: Map<number, number>;
}

/** Marks a task whose cancel waits for its agent's exit report (survives restarts in the store). */
export const CANCELLING_MESSAGE = 'Cancelling: waiting for the agent to stop it';
/** Starts the reason message of a task being preempted (survives restarts in the store). */
export const PREEMPTING_PREFIX = 'Preempting: ';
/** A waiting task's claim on the room its victims free lapses after this long (clock ms). */
const CLAIM_TTL_MS = 10 * 60_000;
/** The store meta key of the budget policy (`continue` or `stop`). */
export const BUDGET_POLICY_META = 'budgetPolicy';
/** Tenants are read again from the store at most this often (real ms); `tenantsChanged()` forces it. */
const TENANTS_REFRESH_MS = 1_000;
const MISSES_BEFORE_GONE = 3;
/** A submit group stops growing at this many tasks (a single submit larger than this is one group). */
const SUBMIT_GROUP_MAX_TASKS = 2_000;
/** The workload estimate reaches the store at most this often under submits (clock ms). */
const WORKLOAD_SAVE_MS = 1_000;

/** A submit waiting for its group's transaction. */
interface QueuedSubmit {
  tasks: Task[];
  idempotency?: IdempotencyRecord;
}
/** Pending reasons reach the store at most this often (real ms). */
const REASON_FLUSH_MS = 1_000;
const DEFAULT_GRACE_MS = 10_000;
/** The store meta key of the server epoch. */
export const EPOCH_META = 'epoch';

const keyOf = (taskId: string, attempt: number): string => `${taskId}#${attempt}`;
const isTerminal = (s: TaskState): boolean => TERMINAL_STATES.includes(s);
const isActive = (s: TaskState): boolean => s === 'SCHEDULED' || s === 'RUNNING';

/** One change to the live state: the writes it needs and who to wake once durable. */
class Tx {
  /** Submitted tasks, stored with this Tx's other writes. */
  readonly inserts: Task[] = [];
  /** The Idempotency-Keys those submits answer, stored with them. */
  readonly idempotencyKeys: IdempotencyRecord[] = [];
  readonly writes = new Map<string, TaskWrite>();
  readonly attempts: Attempt[] = [];
  readonly reservations = new Map<string, { r: VgpuReservation; expected: number }>();
  readonly events: NewEvent[] = [];
  readonly wakeNodes = new Set<string>();
  readonly wakeTasks = new Set<string>();
  /** Tasks placed in this Tx: not handed to agents until the placement is durable. */
  readonly placed: string[] = [];
  nodes: NodeRecord[] = [];
  heartbeats: { id: string; at: number }[] = [];
  samples: UtilisationSample[] = [];
  /** LOST attempt records changed (lost-attempts.ts), stored with the rest. */
  readonly lost: LostWrites = new Map();
  dirty = false;

  empty(): boolean {
    return (
      this.inserts.length === 0 &&
      this.writes.size === 0 &&
      this.attempts.length === 0 &&
      this.reservations.size === 0 &&
      this.events.length === 0 &&
      this.nodes.length === 0 &&
      this.heartbeats.length === 0 &&
      this.samples.length === 0 &&
      this.lost.size === 0
    );
  }
}

export class ControlPlane {
  /** Live (non-terminal) tasks. */
  readonly tasks = new Map<string, Task>();
  readonly nodes = new Map<string, NodeRecord>();
  /** Reservations not released. */
  readonly reservations = new Map<string, VgpuReservation>();
  /** Long-polling agents, by node id. */
  readonly pollers: Waiters<string>;
  /** Waiters on a task's state, by task id. */
  readonly taskWaiters: Waiters<string>;
  /** Log followers, by task id. */
  readonly logWaiters: Waiters<string>;
  hooks: ControlHooks = {};

  readonly store: Store;
  readonly clock: Clock;
  /** The clock's timers (its own on a ManualClock, else Node's). */
  readonly timers: TimerClock;
  readonly graceMs: number;
  readonly nodeLostAfterMs: number;
  readonly heartbeatIntervalMs: number;
  /** The lease and the agents' fencing timings. */
  readonly lease: LeaseTimings;
  /** This server's epoch: stored, bumped at every start (with an attempt number, the fencing token). */
  epoch = 0;
  /** The metering ledger, pricing context and spend. */
  readonly billing: Billing;
  /** Tenants by name (quota, weight, budget), as last read from the store (tenant-cache.ts). */
  readonly tenantCache: TenantCache;
  get tenants(): ReadonlyMap<string, TenantRecord> {
    return this.tenantCache.all;
  }
  /** What happens to running tasks once their tenant's budget is exhausted (meta `budgetPolicy` when not set). */
  budgetPolicy: BudgetExhaustedPolicy;
  private readonly budgetPolicyFixed: boolean;
  private readonly preemption: boolean;
  /** Running tasks ordered to stop for a preemption → the waiting task they make room for. */
  private readonly preempting = new Map<string, string>();
  /** Waiting tasks that preempted others → their victims still running, and since when. */
  private readonly claims = new Map<string, { victims: Set<string>; since: number }>();
  private tenantsReadAt = -Infinity;
  private readonly policy: SchedulerPolicy;
  /** Keeps the pool's capacity and placement memos between cycles (a cycle costs what changed). */
  private readonly scheduler = new PersistentScheduler();
  /** Submit-time "can it ever run here" answers, kept until a node's resources change. */
  readonly feasibility = new FeasibilityMemo();
  /** What the placement policy plans for: every accepted submit, kept across restarts. */
  workload: PoolWorkload | null = null;
  private readonly tickMs: number;
  private readonly log: (line: string) => void;

  private readonly rt = new Map<string, NodeRuntime>();
  /** Dependencies and array caps, judged before each cycle (issue 14). */
  private readonly gate: DependencyGate;
  /** Active task ids per node id. */
  private readonly byNode = new Map<string, Set<string>>();
  private readonly cancelling = new Set<string>();
  /**
   * Tasks that ended in memory whose end is not yet in the store (its write waits, or is retried
   * while the disk is full): reads show them as memory knows them, not as the store's stale
   * RUNNING, nor leave them out of a listing. Dropped once the write is durable.
   */
  private readonly finishing = new Map<string, Task>();
  /** Placed in memory, placement not yet in the store: never handed out (see commit). */
  private readonly undurable = new Set<string>();
  private readonly eventSubs = new Set<(e: PoolEvent) => void>();
  /** Per-node credentials (who may speak for which node). */
  readonly identities: NodeIdentities;
  /**
   * Attempts ended LOST with their node, by task id: the task as it was left (requeued or
   * terminal). An exit the agent's supervisor recorded before the fence wins over that LOST as
   * long as nothing acted on it (no new attempt was placed); a requeued task waits a while for
   * that exit before it is placed again. Forgotten when a new attempt is placed.
   */
  private readonly lostAttempts: LostAttempts;

  private chain: Promise<void> = Promise.resolve();
  private chainDepth = 0;
  /** Submits waiting for, or in, the store transaction of their group (group commit). */
  private readonly submits = new GroupCommit<QueuedSubmit>({
    write: (subs) => this.storeSubmits(subs),
    size: (s) => s.tasks.length,
    maxSize: SUBMIT_GROUP_MAX_TASKS,
    onFailed: (s, e) => this.log(`error: submit of ${s.tasks[0]?.id ?? '?'} not stored: ${String(e)}`),
  });
  private workloadTimer: Timer | null = null;

  private dirty = false;
  private cycleTimer: Timer | NodeJS.Immediate | null = null;
  private cycleRunning = false;
  private lastCycleEnd = 0;
  private lastCycleMs = 0;
  private ticks = 0;
  private tickTimer: Timer | null = null;
  /** Clock time of the last tick, to notice the server itself stalled (paused, starved). */
  private lastTickAt: number | null = null;
  private closed = false;
  /** Pending tasks whose reason changed in memory but not yet in the store. */
  private readonly reasonDirty = new Set<string>();
  /** Tasks a node is being started for (the autoscaler): task id → what is coming. */
  private scalingUp: ReadonlyMap<string, string> = new Map();
  /** The node shapes an autoscaler can add (its provider's offers): a task only they hold is accepted. */
  offered: readonly ProviderOffer[] = [];
  private lastReasonFlush = 0;

  private constructor(opts: ControlOptions) {
    this.store = opts.store;
    this.identities = new NodeIdentities(opts.store);
    this.tenantCache = new TenantCache(opts.store);
    this.gate = new DependencyGate(opts.store);
    this.clock = opts.clock;
    this.timers = timerClock(opts.clock);
    // The agent long-poll's deadline is on this clock; task and log waits are timed by their
    // routes on the wall clock (src/server/routes/tasks.ts), so their timers stay real.
    this.pollers = new Waiters<string>(this.timers);
    this.taskWaiters = new Waiters<string>();
    this.logWaiters = new Waiters<string>();
    this.tickMs = opts.tickMs ?? 200;
    this.lease = leaseTimings(opts.nodeLostAfterMs);
    this.nodeLostAfterMs = this.lease.leaseMs;
    this.lostAttempts = new LostAttempts(opts.lostHoldMs ?? holdAfterLease(this.lease.leaseMs));
    this.graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
    this.heartbeatIntervalMs = this.lease.heartbeatMs;
    this.log = opts.log ?? (() => {});
    this.budgetPolicy = opts.budgetPolicy ?? DEFAULT_BUDGET_EXHAUSTED_POLICY;
    this.budgetPolicyFixed = opts.budgetPolicy !== undefined;
    this.preemption = opts.preemption ?? true;
    this.billing = new Billing({ store: opts.store, clock: opts.clock, log: this.log, ...(opts.settleEveryMs !== undefined ? { settleEveryMs: opts.settleEveryMs } : {}) });
    this.policy = {
      placement: 'default',
      backfill: true,
      defaultRuntimeMs: 3_600_000,
      rng: Math.random,
      order: fairShareOrder(),
      ...opts.policy,
    };
  }

  /** Load the live state from the store and start the tick (when tickMs > 0). */
  static async open(opts: ControlOptions): Promise<ControlPlane> {
    const cp = new ControlPlane(opts);
    cp.workload = opts.workload ?? (await PoolWorkload.load(opts.store, cp.policy.placement, cp.log));
    await cp.load();
    if (cp.tickMs > 0) {
      cp.tickTimer = cp.timers.interval(() => cp.tick(), cp.tickMs).unref();
    }
    cp.kick();
    return cp;
  }

  private async load(): Promise<void> {
    // A new epoch for every start: attempts placed from here on carry it (fencing tokens).
    const prevEpoch = Number(await this.store.getMeta(EPOCH_META));
    this.epoch = (Number.isSafeInteger(prevEpoch) && prevEpoch > 0 ? prevEpoch : 0) + 1;
    await this.store.setMeta(EPOCH_META, String(this.epoch));
    const now = this.clock.now();
    for (const n of await this.store.listNodes()) {
      this.nodes.set(n.id, n);
      // Agents get a full grace period after a server restart before they count as lost.
      this.rt.set(n.id, this.newRuntime(now));
    }
    for (const t of await this.store.listLiveTasks()) {
      this.tasks.set(t.id, t);
      if (isActive(t.state) && t.placement) this.indexAdd(t.placement.nodeId, t.id);
      if (isActive(t.state) && t.reasonMessage === CANCELLING_MESSAGE && t.placement) {
        this.cancelling.add(t.id);
        this.addStop(t.placement.nodeId, t.id, t.attempts, 'cancelled');
      }
      if (isActive(t.state) && t.reasonMessage?.startsWith(PREEMPTING_PREFIX) && t.placement) {
        // The waiting task's claim is not stored: it competes in the queue again once this ends.
        this.preempting.set(t.id, '');
        this.addStop(t.placement.nodeId, t.id, t.attempts, 'preempted');
      }
    }
    // Attempts LOST before the restart: their holds and the late-exit rule go on (lost-attempts.ts).
    this.lostAttempts.restore(await this.store.listLostAttempts());
    for (const r of await this.store.listReservations()) if (r.state !== 'RELEASED') this.reservations.set(r.id, r);
    await this.refreshTenants(true);
    const stored = await this.store.getMeta(BUDGET_POLICY_META);
    if (!this.budgetPolicyFixed && (stored === 'continue' || stored === 'stop')) this.budgetPolicy = stored;
    await this.billing.load();
    const live = [
      ...[...this.tasks.values()].filter((t) => t.state === 'RUNNING' && t.placement).map((t) => ({ m: this.metered(t), since: t.startedAt ?? t.scheduledAt ?? this.clock.now() })),
      ...[...this.reservations.values()].filter((r) => r.state === 'ACTIVE' && r.placement).map((r) => ({ m: this.meteredReservation(r), since: r.placedAt ?? r.createdAt })),
    ];
    await this.billing.reconcile(live, async (id, attempt) => {
      // A reservation's entry ends at its release when that was stored; else at its last settlement.
      const r = await this.store.getReservation(id);
      if (r) return r.releasedAt;
      return (await this.store.listAttempts(id)).find((x) => x.attempt === attempt)?.endedAt ?? null;
    });
  }

  /**
   * The ledger's view of a task's current attempt. A task inside a vGPU reservation uses the
   * reservation's slice, which the reservation pays for: its own entry meters CPU and RAM only.
   */
  private metered(t: Task): MeteredAttempt {
    return { task: t, attempt: { attempt: t.attempts, placement: t.placement! }, gpuModel: t.spec.vgpuId !== undefined ? null : this.modelOf(t) };
  }

  /** The ledger's view of a placed reservation: billed for its slice from placement to release. */
  private meteredReservation(r: VgpuReservation): MeteredAttempt {
    return { task: { id: r.id, spec: { tenant: r.tenant } }, attempt: { attempt: r.placements ?? 1, placement: r.placement! }, gpuModel: this.modelOf(r) };
  }

  /** Read the tenants again (quota, weight, budget): call after changing them. */
  async tenantsChanged(): Promise<void> {
    this.tenantsReadAt = this.timers.elapsed();
    await this.tenantCache.changed();
    this.kick();
  }

  private async refreshTenants(force = false): Promise<void> {
    if (!force && this.timers.elapsed() - this.tenantsReadAt < TENANTS_REFRESH_MS) return;
    this.tenantsReadAt = this.timers.elapsed();
    await this.tenantCache.refresh();
  }

  /** The GPU model of a placed task's first GPU (the node's), or null. */
  modelOf(t: Pick<Task, 'placement'>): string | null {
    const p = t.placement;
    if (!p || p.gpus.length === 0) return null;
    const node = this.nodes.get(p.nodeId);
    return node?.gpus.find((g) => g.index === p.gpus[0])?.model ?? node?.gpus[0]?.model ?? null;
  }

  /** What the scheduler needs to know of tenants this cycle. */
  private tenancySnapshot(now: number): TenancySnapshot {
    const blocked = new Map<string, { reason: 'Budget'; message: string }>();
    for (const t of this.tenants.values()) {
      if (t.budget === null) continue;
      const v = this.billing.budgetOf(t);
      if (v.verdict === 'exhausted') blocked.set(t.name, { reason: v.reason, message: v.message });
    }
    const claims = new Map<string, string[]>();
    for (const [id, c] of [...this.claims]) {
      for (const v of [...c.victims]) if (!this.preempting.has(v)) c.victims.delete(v);
      if (c.victims.size === 0 && now - c.since > CLAIM_TTL_MS) this.claims.delete(id);
      else claims.set(id, [...c.victims]);
    }
    return { tenants: [...this.tenants.values()], blocked, preemption: this.preemption, stopping: new Set(this.preempting.keys()), claims };
  }

  private newRuntime(now: number): NodeRuntime {
    return { lastSeen: now, delivered: new Map(), stops: new Map(), stopsDelivered: new Set(), misses: new Map(), util: new Map() };
  }

  /** Stop the loop and timers, wake every waiter, wait for pending writes. Does not close the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.tickTimer?.clear();
    this.clearCycleTimer();
    this.pollers.close();
    this.taskWaiters.close();
    this.logWaiters.close();
    this.eventSubs.clear();
    // Submits queued but not yet written still get written, and the estimate they fed.
    await this.submits.idle();
    await this.saveWorkload();
    // Pending reasons are a cache of the next cycle's verdict: a failed flush loses nothing that
    // the next start does not compute again, so it is logged and shutdown goes on.
    if (this.reasonDirty.size > 0) await this.flushReasons().catch((e: unknown) => this.log(`warn: pending reasons not flushed at shutdown: ${String(e)}`));
    await this.drainChain();
    await this.billing.idle();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---------------------------------------------------------------- persistence

  /**
   * Run `fn` after every earlier write; errors reach the caller (the chain continues). A store
   * failure that is not a typed error (disk full, database locked too long) becomes UNAVAILABLE.
   */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    this.chainDepth++;
    const p = this.chain.then(fn).catch((e: unknown) => {
      if (e instanceof FastGpuError) throw e;
      this.log(`error: store write failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      throw new FastGpuError('UNAVAILABLE', `the store could not be written: ${e instanceof Error ? e.message : String(e)}`);
    });
    this.chain = p.then(
      () => undefined,
      () => undefined,
    );
    return p.finally(() => {
      this.chainDepth--;
    });
  }

  private async drainChain(): Promise<void> {
    while (this.chainDepth > 0) await this.chain;
  }

  /**
   * Make a Tx durable, then broadcast its events and wake its waiters. Memory already holds the
   * change, so a failed write (disk full, I/O error) is retried until it succeeds: memory and
   * store never disagree, and the server says it is degraded meanwhile (`degraded`, /healthz,
   * its log). `retry: false` is for a Tx whose change is not in memory yet (a submit): it fails
   * with UNAVAILABLE instead, and nothing was changed.
   */
  private async commit(tx: Tx, opts: { retry?: boolean } = {}): Promise<void> {
    if (tx.dirty) this.kick();
    if (tx.empty()) {
      this.wake(tx);
      return;
    }
    let events: PoolEvent[];
    try {
      events = await this.serial(() => (opts.retry === false ? this.persist(tx) : this.persistRetrying(tx)));
    } finally {
      // Durable now (or failed): either way the placements may be handed out from here on.
      for (const id of tx.placed) this.undurable.delete(id);
    }
    for (const w of tx.writes.values()) if (this.finishing.get(w.task.id) === w.task) this.finishing.delete(w.task.id);
    this.broadcast(events);
    this.wake(tx);
  }

  /** Since when, and why, store writes fail (null: they work). */
  degraded: { since: number; error: string } | null = null;

  /** `persist`, again and again (backing off up to 5 s) while the store fails; typed errors pass. */
  private async persistRetrying(tx: Tx): Promise<PoolEvent[]> {
    let wait = 100;
    for (;;) {
      try {
        const events = await this.persist(tx);
        if (this.degraded) {
          this.log(`store writes work again after ${this.clock.now() - this.degraded.since} ms; the server is no longer degraded`);
          this.degraded = null;
        }
        return events;
      } catch (e) {
        if (e instanceof FastGpuError) throw e;
        const error = e instanceof Error ? e.message : String(e);
        if (!this.degraded) {
          this.degraded = { since: this.clock.now(), error };
          this.log(`error: DEGRADED: a store write failed (${error}); retrying until it succeeds. New submits are refused meanwhile; nothing already accepted is lost`);
        } else this.degraded.error = error;
        // At shutdown the write is given up: memory goes away with the process, and the store
        // still holds the state before it (the agents report again after a restart).
        if (this.closed) throw e;
        await sleepOn(this.timers, wait);
        wait = Math.min(5_000, wait * 2);
      }
    }
  }

  /** Writes the Tx in one store transaction: its task states, attempts and events land together or not at all. */
  private async persist(tx: Tx): Promise<PoolEvent[]> {
    const nodeStates: { id: string; state: NodeRecord['state']; heartbeatAt: number }[] = [];
    for (const h of tx.heartbeats) {
      const n = this.nodes.get(h.id);
      if (n) nodeStates.push({ id: h.id, state: n.state, heartbeatAt: h.at });
    }
    const r = await this.store.commitBatch({
      newTasks: tx.inserts,
      ...(tx.idempotencyKeys.length > 0 ? { idempotencyKeys: tx.idempotencyKeys } : {}),
      tasks: [...tx.writes.values()],
      attempts: tx.attempts,
      reservations: [...tx.reservations.values()].map(({ r: reservation, expected }) => ({ reservation, expectedVersion: expected })),
      nodes: tx.nodes,
      nodeStates,
      samples: tx.samples,
      events: tx.events,
      ...(tx.lost.size > 0 ? { lostAttempts: lostWrites(tx.lost) } : {}),
    });
    if (r.lostTasks.length > 0) await this.reloadTasks(r.lostTasks);
    for (const id of r.lostReservations) this.log(`warn: reservation ${id} changed under us; kept the in-memory state`);
    return r.events;
  }

  private wake(tx: Tx): void {
    for (const n of tx.wakeNodes) this.pollers.notify(n);
    for (const t of tx.wakeTasks) {
      this.taskWaiters.notify(t);
      this.logWaiters.notify(t);
    }
  }

  /** Writes that lost a version race (should not happen with one server): take the store's copy. */
  private async reloadTasks(ids: readonly string[]): Promise<void> {
    this.log(`warn: ${ids.length} task write(s) lost a version race; reloading ${ids.slice(0, 5).join(', ')}`);
    for (const id of ids) {
      const t = await this.store.getTask(id);
      const prev = this.tasks.get(id);
      if (prev?.placement && isActive(prev.state)) this.indexDel(prev.placement.nodeId, id);
      if (!t || isTerminal(t.state)) this.tasks.delete(id);
      else {
        this.tasks.set(id, t);
        if (t.placement && isActive(t.state)) this.indexAdd(t.placement.nodeId, id);
      }
    }
  }

  private indexAdd(nodeId: string, taskId: string): void {
    let s = this.byNode.get(nodeId);
    if (!s) this.byNode.set(nodeId, (s = new Set()));
    s.add(taskId);
  }

  private indexDel(nodeId: string, taskId: string): void {
    this.byNode.get(nodeId)?.delete(taskId);
  }

  /** Replace a live task in memory (version bumped) and queue its write in `tx`. */
  private put(tx: Tx, prev: Task, next: Task): Task {
    const stored: Task = { ...next, version: prev.version + 1 };
    this.reasonDirty.delete(stored.id);
    if (stored.state !== 'PENDING') this.claims.delete(stored.id);
    if (prev.placement && isActive(prev.state)) this.indexDel(prev.placement.nodeId, prev.id);
    if (isTerminal(stored.state)) {
      this.gate.finished(stored);
      this.tasks.delete(stored.id);
      this.cancelling.delete(stored.id);
      this.finishing.set(stored.id, stored);
    } else {
      this.finishing.delete(stored.id);
      this.tasks.set(stored.id, stored);
      if (stored.placement && isActive(stored.state)) this.indexAdd(stored.placement.nodeId, stored.id);
    }
    const w = tx.writes.get(stored.id);
    tx.writes.set(stored.id, { task: stored, expectedVersion: w ? w.expectedVersion : prev.version });
    tx.wakeTasks.add(stored.id);
    if (isTerminal(stored.state) || prev.state !== stored.state) tx.dirty = true;
    return stored;
  }

  private event(tx: Tx, type: PoolEvent['type'], ids: { taskId?: string; nodeId?: string; vgpuId?: string }, data: Record<string, unknown> = {}): void {
    tx.events.push({ at: this.clock.now(), type, ...ids, data });
  }

  // ---------------------------------------------------------------- events

  /** Receive every event once stored. Returns the unsubscribe function. */
  subscribe(fn: (e: PoolEvent) => void): () => void {
    this.eventSubs.add(fn);
    return () => this.eventSubs.delete(fn);
  }

  private broadcast(events: readonly PoolEvent[]): void {
    for (const e of events) for (const fn of this.eventSubs) fn(e);
  }

  // ---------------------------------------------------------------- scheduling loop

  /** Ask for a scheduling cycle soon; bursts of events coalesce into one cycle. */
  kick(): void {
    this.dirty = true;
    if (this.closed || this.cycleTimer || this.cycleRunning) return;
    // Keep the scheduler under about a quarter of a core when cycles are slow (big queues);
    // on an idle pool a cycle takes well under a millisecond, so this costs no latency. Only the
    // cycle's computing counts: a write that waited on the disk (a WAL checkpoint's fsync) says
    // nothing about the CPU the next cycle needs, and must not hold it back.
    const gap = Math.min(1000, 3 * this.lastCycleMs);
    const wait = this.lastCycleEnd + gap - this.timers.elapsed();
    if (wait <= 0) this.cycleTimer = setImmediate(() => this.startCycle());
    else this.cycleTimer = this.timers.timeout(() => this.startCycle(), wait);
  }

  private clearCycleTimer(): void {
    const t = this.cycleTimer;
    if (!t) return;
    if ('clear' in t) t.clear();
    else clearImmediate(t);
    this.cycleTimer = null;
  }

  private startCycle(): void {
    this.cycleTimer = null;
    if (this.closed) return;
    this.runCycle().catch((e: unknown) => this.log(`error: scheduling cycle failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
  }

  /** One scheduling cycle: snapshot → schedule() → apply the decisions. */
  async runCycle(): Promise<void> {
    if (this.cycleRunning) {
      this.dirty = true;
      return;
    }
    this.cycleRunning = true;
    this.dirty = false;
    const t0 = this.timers.elapsed();
    let computeMs: number | undefined;
    try {
      const active: Task[] = [];
      const pending: Task[] = [];
      const at = this.clock.now();
      for (const t of this.tasks.values()) {
        // A task held for its lost node's late exit report is not placed yet (lost-attempts.ts).
        if (t.state === 'PENDING') {
          if (!this.lostAttempts.held(t.id, at)) pending.push(t);
        } else if (isActive(t.state)) active.push(t);
      }
      const pendingRes = [...this.reservations.values()].some((r) => r.state === 'PENDING');
      if (pending.length === 0 && !pendingRes) return;
      // Issue 14: dependencies and array caps hold some back (arrays-gate.ts).
      const liveArrays = liveArrayIds(this.tasks.values());
      await this.gate.prepare(pending, this.tasks, liveArrays);
      const gate = this.gate.judge(pending, active, this.tasks, liveArrays);
      pending.splice(0, pending.length, ...gate.eligible);
      const now = this.clock.now();
      await this.refreshTenants(true);
      const tenancy = this.tenancySnapshot(now);
      const workload = this.workload?.current();
      const policy = workload ? { ...this.policy, workload } : this.policy;
      const result = this.scheduler.schedule({ nodes: [...this.nodes.values()], active, pending, reservations: [...this.reservations.values()], tenancy }, now, policy);
      for (const h of gate.held) result.decisions.push({ kind: 'pending', taskId: h.task.id, reason: h.reason, message: h.message });
      const tx = new Tx();
      for (const d of gate.doomed) {
        const t = this.tasks.get(d.task.id);
        if (!t || t.state !== 'PENDING') continue;
        this.put(tx, t, { ...t, state: 'CANCELLED', finishedAt: now, reason: 'Dependency', reasonMessage: d.message });
        this.event(tx, 'task.cancelled', { taskId: t.id }, { state: 'PENDING', reason: 'Dependency', message: d.message });
      }
      let placed = 0;
      for (const d of result.decisions) {
        switch (d.kind) {
          case 'place': {
            const t = this.tasks.get(d.taskId);
            if (!t || t.state !== 'PENDING') break;
            const placement = placementView(d.placement);
            const attempt = t.attempts + 1;
            this.lostAttempts.delete(t.id, tx.lost);
            // A reduce step gets its array's results with its placement (issue 14).
            const env = resultsEnv(this.gate, t);
            this.put(tx, t, { ...t, ...(env ? { spec: { ...t.spec, env } } : {}), state: 'SCHEDULED', placement, attempts: attempt, scheduledAt: now, startedAt: null, reason: null, reasonMessage: null, exitCode: null });
            tx.attempts.push({ taskId: t.id, attempt, nodeId: placement.nodeId, placement, scheduledAt: now, startedAt: null, endedAt: null, outcome: null, exitCode: null });
            this.event(tx, 'task.scheduled', { taskId: t.id, nodeId: placement.nodeId }, { attempt, node: placement.node, gpus: placement.gpus, gpuMilli: placement.gpuMilli, ...(d.borrowed ? { borrowed: true } : {}), ...localityNote(t, this.nodes.get(placement.nodeId)) });
            tx.wakeNodes.add(placement.nodeId);
            tx.placed.push(t.id);
            this.undurable.add(t.id);
            placed++;
            break;
          }
          case 'pending': {
            const t = this.tasks.get(d.taskId);
            if (!t || t.state !== 'PENDING') break;
            const coming = d.reason === 'Resources' || d.reason === 'Fragmentation' ? this.scalingUp.get(t.id) : undefined;
            const reason = coming !== undefined ? 'ScalingUp' : d.reason;
            const message = coming ?? d.message;
            if (t.reason === reason && t.reasonMessage === message) break;
            // Each new reason is news for the task's history (`fastgpu events`): why it waited.
            if (t.reason !== reason) this.event(tx, 'task.pending', { taskId: t.id }, { reason, message });
            // Memory (which every read of a live task uses) changes now; the store gets the
            // reason in a batch (flushReasons), so a burst of submits is not written twice.
            this.tasks.set(t.id, { ...t, reason, reasonMessage: message });
            this.reasonDirty.add(t.id);
            break;
          }
          case 'preempt': {
            const t = this.tasks.get(d.taskId);
            if (!t || !isActive(t.state) || this.preempting.has(t.id) || this.cancelling.has(t.id)) break;
            this.preemptInTx(tx, t, d.forTaskId, d.message, now);
            break;
          }
          case 'placeReservation': {
            const r = this.reservations.get(d.reservationId);
            if (!r || r.state !== 'PENDING') break;
            const next: VgpuReservation = { ...r, state: 'ACTIVE', placement: placementView(d.placement), placedAt: now, placements: (r.placements ?? 0) + 1, reason: null, version: r.version + 1 };
            this.putReservation(tx, r, next);
            this.billing.started(this.meteredReservation(next), now);
            this.event(tx, 'vgpu.placed', { vgpuId: r.id, nodeId: d.placement.nodeId }, { node: d.placement.node, gpus: d.placement.gpus, gpuMilli: d.placement.gpuMilli });
            break;
          }
          case 'reservationPending': {
            const r = this.reservations.get(d.reservationId);
            if (!r || r.state !== 'PENDING' || r.reason === d.reason) break;
            this.putReservation(tx, r, { ...r, reason: d.reason, version: r.version + 1 });
            break;
          }
        }
      }
      const ms = this.timers.elapsed() - t0;
      computeMs = ms;
      this.hooks.cycle?.(ms / 1000, { pending: result.stats.pending, placed });
      if (this.timers.elapsed() - this.lastReasonFlush >= REASON_FLUSH_MS) this.flushReasonsInto(tx);
      await this.commit(tx);
    } finally {
      this.lastCycleMs = computeMs ?? this.timers.elapsed() - t0;
      this.lastCycleEnd = this.timers.elapsed();
      this.cycleRunning = false;
      if (this.dirty) this.kick();
    }
  }

  /**
   * Preempt a running task for `forTaskId`: a stop order with reason `preempted` (the agent
   * writes FASTGPU_PREEMPTED=1 into the signal file, sends SIGTERM, and SIGKILL after the
   * grace); the attempt ends PREEMPTED and the task goes back to PENDING when the agent reports
   * the exit. The waiting task starts only after that, on the room freed: never overlapping.
   */
  private preemptInTx(tx: Tx, t: Task, forTaskId: string, message: string, now: number): void {
    const claim = this.claims.get(forTaskId) ?? { victims: new Set<string>(), since: now };
    claim.victims.add(t.id);
    claim.since = now;
    this.claims.set(forTaskId, claim);
    const nodeId = t.placement!.nodeId;
    const key = keyOf(t.id, t.attempts);
    this.log(`preempting ${t.id} (attempt ${t.attempts}) on ${t.placement!.node} for ${forTaskId}: ${message}`);
    if (t.state === 'SCHEDULED' && !this.rt.get(nodeId)?.delivered.has(key)) {
      // Never handed to the agent: nothing runs, nothing to wait for.
      this.hooks.preempted?.(t.spec.tenant);
      this.endAttempt(tx, t, { outcome: 'PREEMPTED', exitCode: null, endedAt: now, message });
      return;
    }
    this.hooks.preempted?.(t.spec.tenant);
    this.preempting.set(t.id, forTaskId);
    this.addStop(nodeId, t.id, t.attempts, 'preempted');
    tx.wakeNodes.add(nodeId);
    this.put(tx, t, { ...t, reasonMessage: `${PREEMPTING_PREFIX}${message}` });
  }

  private putReservation(tx: Tx, prev: VgpuReservation, next: VgpuReservation): void {
    if (next.state === 'RELEASED') this.reservations.delete(next.id);
    else this.reservations.set(next.id, next);
    const w = tx.reservations.get(next.id);
    tx.reservations.set(next.id, { r: next, expected: w ? w.expected : prev.version });
    tx.wakeTasks.add(next.id);
  }

  /** The periodic work: lost nodes, and a scheduling cycle now and then for time-based decisions. */
  tick(): void {
    if (this.closed) return;
    this.ticks++;
    this.creditStall();
    this.billing.maybeSettle();
    // Tenants change through the admin API: metrics and budget checks see them within a second.
    this.refreshTenants().catch((e: unknown) => this.log(`error: reading tenants: ${String(e)}`));
    if (this.budgetPolicy === 'stop') this.enforceBudgets().catch((e: unknown) => this.log(`error: budget check: ${String(e)}`));
    this.detectLostNodes().catch((e: unknown) => this.log(`error: lost-node check failed: ${String(e)}`));
    // A task held for its lost node's report may be placed now.
    if (this.lostAttempts.expired(this.clock.now()).length > 0) this.dirty = true;
    if (this.dirty || this.ticks % 5 === 0) this.kick();
    if (this.reasonDirty.size > 0 && this.timers.elapsed() - this.lastReasonFlush >= REASON_FLUSH_MS) {
      this.flushReasons().catch((e: unknown) => this.log(`error: reason flush: ${String(e)}`));
    }
  }

  /** Under `budgetPolicy: stop`: cancel the running tasks of tenants whose budget is exhausted. */
  async enforceBudgets(): Promise<void> {
    const running = [...this.tasks.values()].filter((t) => isActive(t.state) && !this.cancelling.has(t.id)).map((t) => ({ tenant: t.spec.tenant, task: t }));
    const stop = tasksToStopForBudget('stop', running, this.tenants, this.billing.spend());
    if (stop.length === 0) return;
    const tx = new Tx();
    for (const { task } of stop) {
      this.log(`stopping ${task.id}: the budget of tenant ${task.spec.tenant} is exhausted (budgetPolicy stop)`);
      this.cancelInTx(tx, task);
    }
    await this.commit(tx);
  }

  /** Write the pending reasons that changed since the last flush. */
  async flushReasons(): Promise<void> {
    const tx = new Tx();
    this.flushReasonsInto(tx);
    await this.commit(tx);
  }

  private flushReasonsInto(tx: Tx): void {
    this.lastReasonFlush = this.timers.elapsed();
    for (const id of [...this.reasonDirty]) {
      const t = this.tasks.get(id);
      if (t && t.state === 'PENDING') this.put(tx, t, t);
    }
    this.reasonDirty.clear();
  }

  /** Resolves once no cycle, submit or write is pending (for tests and shutdown). */
  async settle(): Promise<void> {
    for (let i = 0; i < 10_000; i++) {
      if (!this.cycleTimer && !this.cycleRunning && !this.submits.busy && !this.workloadTimer && !this.workload?.busy && this.chainDepth === 0 && !this.billing.busy) return;
      // The estimate's delayed write is part of the quiet state: write it now.
      if (this.workloadTimer || this.workload?.busy) await this.saveWorkload();
      // A cycle held back by the CPU throttle (kick) would outlast these rounds: run it now, as
      // the caller wants the quiet state, not the throttle.
      if (this.cycleTimer && !this.cycleRunning) {
        this.clearCycleTimer();
        this.startCycle();
      }
      await this.chain;
      await this.billing.idle();
      await new Promise<void>((r) => setImmediate(r));
    }
    // Callers (tests, shutdown) rely on the quiet state: never return as if settled.
    throw new Error(
      `settle: still busy after 10,000 rounds (cycle timer ${this.cycleTimer ? 'set' : 'clear'}, cycle ${this.cycleRunning ? 'running' : 'idle'}, submits ${this.submits.busy ? 'being stored' : 'none'}, ${this.chainDepth} writes in the chain, billing ${this.billing.busy ? 'busy' : 'idle'})`,
    );
  }

  // ---------------------------------------------------------------- tasks

  /**
   * Store new tasks (a gang's tasks together, all or nothing) and queue them. Submissions that
   * arrive together share one store transaction (group commit). `idempotency`: the submit's
   * Idempotency-Key, stored with its tasks or not at all (src/server/idempotency.ts).
   */
  submit(tasks: Task[], idempotency?: IdempotencyRecord): Promise<void> {
    if (this.closed) return Promise.reject(new FastGpuError('UNAVAILABLE', 'server is shutting down'));
    if (this.degraded) return Promise.reject(new FastGpuError('UNAVAILABLE', `the server is degraded: its store cannot be written (${this.degraded.error}); try again later`));
    return this.submits.add(idempotency ? { tasks, idempotency } : { tasks });
  }

  /** Stores a group of submits in one transaction (group-commit.ts), each task with its `task.submitted` event. */
  private async storeSubmits(subs: readonly QueuedSubmit[]): Promise<void> {
    const tx = new Tx();
    for (const b of subs) {
      if (b.idempotency) tx.idempotencyKeys.push(b.idempotency);
      for (const t of b.tasks) {
        tx.inserts.push(t);
        this.event(tx, 'task.submitted', { taskId: t.id }, { name: t.spec.name, tenant: t.spec.tenant, gangId: t.gangId, ...(t.reason ? { reason: t.reason, message: t.reasonMessage } : {}) });
      }
    }
    await this.commit(tx, { retry: false });
    // Durable from here on: nothing below may fail the submit (a failure would retry the insert).
    // Live from here on; the cycle that places them comes next.
    for (const t of tx.inserts) this.tasks.set(t.id, t);
    try {
      this.workload?.observe(tx.inserts, this.feasibility.poolModels([...this.nodes.values()]));
      this.saveWorkloadSoon();
    } catch (e) {
      this.log(`error: workload estimate not updated for ${tx.inserts.length} submitted task(s): ${String(e)}`);
    }
    this.hooks.submitted?.(tx.inserts.length);
    this.kick();
  }

  /**
   * The workload estimate reaches the store at most every WORKLOAD_SAVE_MS (and at shutdown and
   * settle): one row of up to ~300 KB rewritten after every submit group was most of the store's
   * work under a stream of submits. A crash loses at most that window of observations of an
   * estimate, never a task.
   */
  private saveWorkloadSoon(): void {
    if (this.workloadTimer || this.closed) return;
    this.workloadTimer = this.timers.timeout(() => {
      this.workloadTimer = null;
      void this.saveWorkload();
    }, WORKLOAD_SAVE_MS).unref();
  }

  private async saveWorkload(): Promise<void> {
    this.workloadTimer?.clear();
    this.workloadTimer = null;
    await this.workload?.save().catch((e: unknown) => this.log(`error: workload estimate not stored (kept in memory, stored with the next): ${String(e)}`));
  }

  /** Cancel a task: PENDING at once; on a node, a stop order and CANCELLED when the agent reports. */
  async cancel(id: string): Promise<Task> {
    const t = this.tasks.get(id);
    if (!t) {
      const stored = await this.store.getTask(id);
      if (!stored) throw notFound('task', id);
      // A task that finished while we looked it up is still finished.
      throw conflict(`task ${id} already finished (${stored.state})`);
    }
    const tx = new Tx();
    const result = this.cancelInTx(tx, t);
    await this.commit(tx);
    return result;
  }

  /**
   * Cancel many tasks in one transaction (an array's elements, issue 14): those finished or
   * unknown are skipped. Returns how many were cancelled or asked to stop.
   */
  async cancelMany(ids: readonly string[]): Promise<number> {
    const tx = new Tx();
    let n = 0;
    for (const id of ids) {
      const t = this.tasks.get(id);
      if (!t || this.cancelling.has(id)) continue;
      this.cancelInTx(tx, t);
      n++;
    }
    await this.commit(tx);
    return n;
  }

  private cancelInTx(tx: Tx, t: Task): Task {
    const now = this.clock.now();
    if (t.state === 'PENDING') {
      const next = this.put(tx, t, { ...t, state: 'CANCELLED', finishedAt: now, reason: null, reasonMessage: 'Cancelled before it was scheduled' });
      this.event(tx, 'task.cancelled', { taskId: t.id }, { state: 'PENDING' });
      return next;
    }
    if (!isActive(t.state) || !t.placement) return t;
    const nodeId = t.placement.nodeId;
    const node = this.nodes.get(nodeId);
    const rt = this.rt.get(nodeId);
    const key = keyOf(t.id, t.attempts);
    const neverHanded = t.state === 'SCHEDULED' && !rt?.delivered.has(key);
    if (neverHanded || !node || node.state === 'LOST') {
      // Nothing runs it (or its node is gone): nothing to wait for.
      return this.endAttempt(tx, t, { outcome: 'CANCELLED', exitCode: null, endedAt: now, message: 'Cancelled' });
    }
    if (this.cancelling.has(t.id)) return t;
    this.cancelling.add(t.id);
    this.addStop(nodeId, t.id, t.attempts, 'cancelled');
    tx.wakeNodes.add(nodeId);
    this.event(tx, 'task.cancelled', { taskId: t.id, nodeId }, { state: t.state, waiting: 'agent' });
    return this.put(tx, t, { ...t, reasonMessage: CANCELLING_MESSAGE });
  }

  private addStop(nodeId: string, taskId: string, attempt: number, reason: StopOrder['reason']): void {
    let rt = this.rt.get(nodeId);
    if (!rt) this.rt.set(nodeId, (rt = this.newRuntime(this.clock.now())));
    const key = keyOf(taskId, attempt);
    if (!rt.stops.has(key)) rt.stops.set(key, { taskId, attempt, graceMs: this.graceMs, reason });
  }

  /**
   * End the current attempt of an active task with `outcome`: the attempt row, then the task's
   * next state (terminal, or back to PENDING for LOST/PREEMPTED while retries remain).
   * `unstarted` (why) marks an attempt whose process never started: it ends LOST, billed nothing,
   * and the task goes back to PENDING for a new attempt whatever its retries.
   */
  private endAttempt(
    tx: Tx,
    t: Task,
    o: { outcome: TaskState; exitCode: number | null; endedAt: number; startedAt?: number | null; message?: string | null; unstarted?: string },
  ): Task {
    const now = this.clock.now();
    // A task being preempted whose node is lost (or whose agent forgot it) was still preempted:
    // its retries are for failures, not for making room.
    if (o.outcome === 'LOST' && this.preempting.has(t.id)) o = { ...o, outcome: 'PREEMPTED' };
    this.preempting.delete(t.id);
    if (t.placement) {
      const startedAt = o.unstarted !== undefined ? null : (o.startedAt ?? t.startedAt);
      if (startedAt !== null) this.billing.ended(this.metered(t), startedAt, Math.max(o.endedAt, startedAt));
      // The agent's early "running" may have opened a meter: it closes where it opened.
      else if (t.startedAt !== null) this.billing.ended(this.metered(t), null, t.startedAt);
      tx.attempts.push({
        taskId: t.id,
        attempt: t.attempts,
        nodeId: t.placement.nodeId,
        placement: t.placement,
        scheduledAt: t.scheduledAt ?? now,
        startedAt,
        endedAt: o.endedAt,
        outcome: o.outcome,
        exitCode: o.exitCode,
      });
      const rt = this.rt.get(t.placement.nodeId);
      rt?.delivered.delete(keyOf(t.id, t.attempts));
      rt?.misses.delete(keyOf(t.id, t.attempts));
    }
    const cancelled = this.cancelling.has(t.id);
    let next: Task;
    if (o.outcome === 'LOST' || o.outcome === 'PREEMPTED') {
      if (cancelled) {
        next = { ...t, state: 'CANCELLED', finishedAt: o.endedAt, exitCode: o.exitCode, reason: null, reasonMessage: 'Cancelled' };
      } else {
        const r = o.unstarted !== undefined ? requeueUnstarted(t, o.unstarted, now) : requeueAfter(t, o.outcome, now);
        next = r.state === 'PENDING' ? { ...r, placement: null, reason: r.reason ?? 'Resources' } : { ...r, finishedAt: r.finishedAt ?? o.endedAt };
      }
    } else {
      next = {
        ...t,
        state: o.outcome,
        exitCode: o.exitCode,
        startedAt: o.startedAt ?? t.startedAt,
        finishedAt: o.endedAt,
        reason: null,
        reasonMessage: o.message ?? null,
      };
    }
    const stored = this.put(tx, t, next);
    if (stored.state === 'PENDING') {
      this.event(tx, 'task.requeued', { taskId: t.id, nodeId: t.placement?.nodeId }, { after: o.outcome, attempt: t.attempts });
    } else {
      this.event(tx, 'task.finished', { taskId: t.id, nodeId: t.placement?.nodeId }, { state: stored.state, exitCode: stored.exitCode, attempt: t.attempts });
    }
    tx.dirty = true;
    return stored;
  }

  // ---------------------------------------------------------------- reservations

  async createReservation(r: VgpuReservation): Promise<void> {
    await this.serial(() => this.store.insertReservation(r));
    this.reservations.set(r.id, r);
    const tx = new Tx();
    this.event(tx, 'vgpu.created', { vgpuId: r.id }, { name: r.name, tenant: r.tenant });
    tx.dirty = true;
    await this.commit(tx);
  }

  /** Cancel the reservation's unfinished tasks and release its slice. */
  async releaseReservation(id: string): Promise<VgpuReservation> {
    const r = this.reservations.get(id);
    if (!r) {
      const stored = await this.store.getReservation(id);
      if (!stored) throw notFound('vGPU', id);
      return stored; // already released: deleting twice is harmless
    }
    const tx = new Tx();
    for (const t of [...this.tasks.values()]) if (t.spec.vgpuId === id) this.cancelInTx(tx, t);
    const now = this.clock.now();
    const next: VgpuReservation = { ...r, state: 'RELEASED', releasedAt: now, version: r.version + 1 };
    this.putReservation(tx, r, next);
    if (r.state === 'ACTIVE' && r.placement) this.billing.ended(this.meteredReservation(r), r.placedAt ?? r.createdAt, now);
    this.event(tx, 'vgpu.released', { vgpuId: id }, {});
    tx.dirty = true;
    await this.commit(tx);
    return next;
  }

  // ---------------------------------------------------------------- agent protocol

  /**
   * An agent joins or rejoins. A name that has a node credential is registered again only with
   * it, or, when the node is LOST (its lease ran out and its tasks were fenced), by a new agent
   * that takes it over with a new credential. `tokenNode`: the node the caller's credential
   * header names, if any; a caller that holds another node's credential may not take this one.
   */
  async register(req: RegisterRequest): Promise<RegisterResponse> {
    const now = this.clock.now();
    checkAgentTimes(req.tasks, now);
    let existing: NodeRecord | undefined;
    for (const n of this.nodes.values()) if (n.name === req.name) existing = n;
    let credential: string | undefined;
    if (existing && !(await this.identities.matches(existing.id, req.credential))) {
      if ((await this.identities.issued(existing.id)) && existing.state !== 'LOST') {
        const ago = Math.max(0, now - (this.rt.get(existing.id)?.lastSeen ?? existing.lastHeartbeatAt));
        throw conflict(
          `node name ${req.name} is held by another agent (node ${existing.id}, renewed ${ago} ms ago)` +
            `${req.credential ? ', and the credential this agent sent is not that node\'s' : ' and this agent has no credential for it'}: ` +
            `give each agent its own --name; an agent that lost its state dir can take the name over once the node is LOST (${this.nodeLostAfterMs} ms after its last heartbeat)`,
        );
      }
      // A node from before credentials, or a LOST node taken over: a fresh credential.
      if (existing.state === 'LOST' && (await this.identities.issued(existing.id))) this.log(`node ${req.name} (${existing.id}) taken over by a new agent after it was LOST`);
      credential = await this.grantCredential(existing.id, req.credential);
    }
    const id = existing?.id ?? newId('n');
    if (!existing) credential = await this.grantCredential(id, req.credential);
    const node: NodeRecord = {
      id,
      name: req.name,
      cpuMilli: req.cpuMilli,
      memoryMiB: req.memoryMiB,
      labels: req.labels,
      gpus: req.gpus,
      state: existing?.drained ? 'DRAINING' : 'READY',
      ...(existing?.drained ? { drained: true } : {}),
      simulated: req.simulated,
      agentVersion: req.agentVersion,
      registeredAt: existing?.registeredAt ?? now,
      lastHeartbeatAt: now,
    };
    this.nodes.set(id, node);
    // The agent may have restarted: hand everything out again, forget old bookkeeping.
    const rt = this.newRuntime(now);
    const oldStops = this.rt.get(id)?.stops;
    this.rt.set(id, rt);
    const tx = new Tx();
    tx.nodes.push(node);
    this.event(tx, existing?.state === 'LOST' ? 'node.ready' : 'node.registered', { nodeId: id }, { name: node.name, gpus: node.gpus.length });
    const reported = new Set<string>();
    for (const r of req.tasks) {
      reported.add(keyOf(r.taskId, r.attempt));
      this.reconcile(tx, id, r);
    }
    // Cancels still wanted carry over.
    if (oldStops) for (const [k, s] of oldStops) if (reported.has(k) && !rt.stops.has(k)) rt.stops.set(k, s);
    // A task the server thinks runs here that the agent does not know about is gone.
    for (const tid of [...(this.byNode.get(id) ?? [])]) {
      const t = this.tasks.get(tid);
      if (!t || t.state !== 'RUNNING' || reported.has(keyOf(t.id, t.attempts))) continue;
      this.endAttempt(tx, t, { outcome: this.cancelling.has(t.id) ? 'CANCELLED' : 'LOST', exitCode: null, endedAt: now, message: 'The agent restarted without it' });
    }
    tx.dirty = true;
    tx.wakeNodes.add(id);
    await this.commit(tx);
    return {
      nodeId: id,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      leaseMs: this.lease.leaseMs,
      fenceAfterMs: this.lease.fenceAfterMs,
      fenceGraceMs: this.lease.fenceGraceMs,
      epoch: this.epoch,
      ...(credential !== undefined ? { credential } : {}),
      stop: [...rt.stops.values()].map((s) => ({ taskId: s.taskId, attempt: s.attempt, graceMs: s.graceMs, reason: s.reason })),
    };
  }

  /**
   * The caller speaks for `nodeId` only with that node's credential (403 otherwise). A node
   * without one yet (registered before credentials existed) must register again to get one.
   */
  async authNode(nodeId: string, credential: string | undefined): Promise<void> {
    if (!this.nodes.has(nodeId)) return; // unknown: the call answers "register again" itself
    if (await this.identities.matches(nodeId, credential)) return;
    // A node from before credentials: its agent registers again and gets one.
    if (!credential && !(await this.identities.issued(nodeId))) throw notFound('node', `${nodeId} has no credential yet (register again)`);
    throw new FastGpuError('FORBIDDEN', `this agent does not hold the credential of node ${nodeId}: an agent speaks only for the node it registered as`);
  }

  /**
   * The node's credential from now on: the one the agent proposed when it is strong enough (then
   * nothing is returned: the agent has it, and a retry of a register whose answer was lost matches
   * it), else a new one the answer carries.
   */
  private async grantCredential(nodeId: string, proposed: string | undefined): Promise<string | undefined> {
    if (proposed !== undefined && (await this.identities.adopt(nodeId, proposed))) return undefined;
    return this.identities.issue(nodeId);
  }

  async heartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse> {
    const node = this.nodes.get(req.nodeId);
    const rt = this.rt.get(req.nodeId);
    // Unknown, or declared LOST (its tasks were requeued): it must register again to reconcile.
    if (!node || !rt || node.state === 'LOST') return { ack: [], stop: [], reregister: true };
    const now = this.clock.now();
    checkAgentTimes(req.tasks, now);
    rt.lastSeen = now;
    // MPS health is live status: kept on the node, refreshed by every heartbeat (issue 23).
    this.nodes.set(node.id, { ...node, lastHeartbeatAt: now, ...(req.mps ? { mps: { ...req.mps, reportedAt: now } } : {}), ...(req.cache ? { cache: req.cache } : {}) });
    const tx = new Tx();
    tx.heartbeats.push({ id: node.id, at: now });
    const ack: { taskId: string; attempt: number }[] = [];
    const listed = new Set<string>();
    for (const r of req.tasks) {
      listed.add(keyOf(r.taskId, r.attempt));
      if (this.reconcile(tx, node.id, r)) ack.push({ taskId: r.taskId, attempt: r.attempt });
    }
    this.checkMissing(tx, node.id, rt, listed, now);
    const allocated = req.samples.length > 0 ? new Map(gpuViews(node, this.activeOn(node.id), [...this.reservations.values()], () => undefined).map((g) => [g.index, g.allocatedMilli])) : null;
    for (const s of req.samples) {
      rt.util.set(s.gpuIndex, s.utilPercent);
      tx.samples.push({ at: now, nodeId: node.id, gpuIndex: s.gpuIndex, utilPercent: s.utilPercent, memoryUsedMiB: s.memoryUsedMiB, allocatedMilli: allocated?.get(s.gpuIndex) ?? 0 });
    }
    if (this.degraded) {
      // The lease is renewed (in memory) at once; nothing is acknowledged until it is durable,
      // so the agent keeps every exit it holds. The write queues behind the one being retried.
      this.commit(tx).catch((e: unknown) => this.log(`error: heartbeat of ${node.name} not stored: ${String(e)}`));
      return { ack: [], stop: [...rt.stops.values()], reregister: false };
    }
    // Our write waits for every earlier one: an exit acknowledged below is durable. The lease is
    // renewed in memory already, so when that chain is long (a loaded store, a busy failover) the
    // answer goes after one heartbeat interval without acks rather than hold the agent until its
    // lease runs out and it fences its tasks; a later heartbeat acknowledges the exits.
    const written = this.commit(tx);
    if (!(await settlesWithin(written, Math.max(250, this.heartbeatIntervalMs), this.timers))) {
      written.catch((e: unknown) => this.log(`error: heartbeat of ${node.name} not stored: ${String(e)}`));
      return { ack: [], stop: [...rt.stops.values()], reregister: false };
    }
    await written;
    return { ack, stop: [...rt.stops.values()], reregister: false };
  }

  /**
   * Attempts the server expects the agent to know that its heartbeats keep leaving out.
   * After a few misses in a row: a running one is gone (LOST, or CANCELLED when a cancel
   * waits for it), and a stop order for it is done.
   */
  private checkMissing(tx: Tx, nodeId: string, rt: NodeRuntime, listed: Set<string>, now: number): void {
    const expected = new Set<string>();
    for (const tid of this.byNode.get(nodeId) ?? []) {
      const t = this.tasks.get(tid);
      if (!t) continue;
      const key = keyOf(t.id, t.attempts);
      const deliveredAt = rt.delivered.get(key);
      // A SCHEDULED attempt only counts once the agent has had time to launch it.
      if (t.state === 'RUNNING' || (deliveredAt !== undefined && now - deliveredAt > this.heartbeatIntervalMs)) expected.add(key);
    }
    for (const key of rt.stops.keys()) expected.add(key);
    for (const key of [...rt.misses.keys()]) if (!expected.has(key) || listed.has(key)) rt.misses.delete(key);
    for (const key of expected) {
      if (listed.has(key)) continue;
      const n = (rt.misses.get(key) ?? 0) + 1;
      rt.misses.set(key, n);
      if (n < MISSES_BEFORE_GONE) continue;
      rt.misses.delete(key);
      rt.stops.delete(key);
      rt.stopsDelivered.delete(key);
      const hash = key.lastIndexOf('#');
      const t = this.tasks.get(key.slice(0, hash));
      if (!t || !isActive(t.state) || keyOf(t.id, t.attempts) !== key || t.placement?.nodeId !== nodeId) continue;
      const cancelled = this.cancelling.has(t.id);
      this.endAttempt(tx, t, {
        outcome: cancelled ? 'CANCELLED' : 'LOST',
        exitCode: null,
        endedAt: now,
        message: cancelled ? 'Cancelled' : 'The agent no longer reports it',
      });
    }
  }

  /** Record reports sent outside heartbeats (started/exited as they happen). */
  async reports(req: ReportsRequest): Promise<void> {
    const node = this.nodes.get(req.nodeId);
    if (!node) throw notFound('node', `${req.nodeId} (register again)`);
    checkAgentTimes(req.tasks, this.clock.now());
    const tx = new Tx();
    for (const r of req.tasks) this.reconcile(tx, node.id, r);
    await this.commit(tx);
  }

  /**
   * Fold one report into the live state. Returns true when the report may be acknowledged
   * (an exit that is recorded, or that the server does not need).
   */
  private reconcile(tx: Tx, nodeId: string, r: RunningReport): boolean {
    const t = this.tasks.get(r.taskId);
    const key = keyOf(r.taskId, r.attempt);
    const wanted = !!t && isActive(t.state) && t.attempts === r.attempt && t.placement?.nodeId === nodeId;
    const rt = this.rt.get(nodeId);
    if (r.epoch !== undefined && r.epoch > this.epoch) {
      this.log(`warn: ignored a report of ${key} from node ${nodeId}: its epoch ${r.epoch} is newer than this server's ${this.epoch}`);
      return false;
    }
    if (r.status === 'exited') {
      if (rt) {
        rt.stops.delete(key);
        rt.stopsDelivered.delete(key);
      }
      if (wanted) this.recordExit(tx, t, r);
      else if (!this.lateExit(tx, nodeId, r)) this.log(`ignored the exit of ${key} reported by node ${nodeId}: not its current attempt (${t ? `attempt ${t.attempts}, ${t.state}` : 'finished or unknown'})`);
      return true;
    }
    if (!wanted) {
      // Its node is back after a LOST and lists it: the exit is on the way (a restarted agent
      // ships the logs first). The task is not placed again meanwhile. The stop order below
      // changes nothing for an attempt that is over, and ends one that somehow is not.
      if (this.lostAttempts.awaitExit(r.taskId, r.attempt, nodeId, this.clock.now(), tx.lost) && !rt?.stops.has(key)) {
        this.log(`${key} LOST with node ${nodeId} is listed by it again: waiting for its exit before the task is placed again`);
      }
      // Cancelled, finished, requeued elsewhere, or unknown: it must not keep running.
      else if (!rt?.stops.has(key)) this.log(`${key} reported running by node ${nodeId} is not its current attempt (${t ? `attempt ${t.attempts}, ${t.state}` : 'finished or unknown'}): ordering it stopped`);
      this.addStop(nodeId, r.taskId, r.attempt, 'orphaned');
      tx.wakeNodes.add(nodeId);
      return false;
    }
    rt?.delivered.set(key, rt.delivered.get(key) ?? this.clock.now());
    // Issue 16: inputs being staged: still SCHEDULED (not billed), with its progress as the reason.
    if (r.status === 'staging') {
      const next = stagingUpdate(t, r);
      if (next) {
        if (t.reason !== 'Staging') this.event(tx, 'task.staging', { taskId: t.id, nodeId }, { attempt: t.attempts, totalBytes: r.staging?.totalBytes ?? 0 });
        this.put(tx, t, next);
      }
      return false;
    }
    if (t.state === 'SCHEDULED') {
      const startedAt = r.startedAt ?? this.clock.now();
      this.put(tx, t, { ...t, state: 'RUNNING', startedAt, reason: null, reasonMessage: null });
      tx.attempts.push({
        taskId: t.id,
        attempt: t.attempts,
        nodeId,
        placement: t.placement!,
        scheduledAt: t.scheduledAt ?? startedAt,
        startedAt,
        endedAt: null,
        outcome: null,
        exitCode: null,
      });
      this.event(tx, 'task.started', { taskId: t.id, nodeId }, { attempt: t.attempts, pid: r.pid });
      this.billing.started(this.metered(t), startedAt);
    }
    // Issue 16: exited 0, outputs uploading: still RUNNING (the exit report that follows carries the process's end, where metering stops).
    const cur = this.tasks.get(t.id);
    const up = r.status === 'uploading' && cur ? uploadingUpdate(cur, r) : null;
    if (cur && up) {
      if (cur.reason !== 'Uploading') this.event(tx, 'task.uploading', { taskId: t.id, nodeId }, { attempt: t.attempts, totalBytes: r.uploading?.totalBytes ?? 0 });
      this.put(tx, cur, up);
    }
    if (this.cancelling.has(t.id)) this.addStop(nodeId, t.id, t.attempts, 'cancelled');
    return false;
  }

  /**
   * An exit for an attempt that ended LOST with its node: when the supervisor recorded a real end
   * (not the fence) and nothing acted on the LOST since (the task was not placed again), the
   * reported end wins: a task that finished is never run again, nor failed as "node lost".
   */
  private lateExit(tx: Tx, nodeId: string, r: RunningReport): boolean {
    const lost = this.lostAttempts.get(r.taskId);
    if (!lost || lost.attempt !== r.attempt || lost.nodeId !== nodeId) return false;
    const now = this.clock.now();
    // Whatever its end, it is known now: a task held for it need not wait any longer.
    const release = (): false => {
      if (this.lostAttempts.held(r.taskId, now)) {
        this.lostAttempts.release(r.taskId, now, tx.lost);
        tx.dirty = true;
      }
      return false;
    };
    if (r.endReason === 'fenced' || r.endReason === 'never-started') return release();
    const live = this.tasks.get(r.taskId);
    const t = live ?? lost.task;
    // Acted on: a new attempt is placed (or the task moved on some other way).
    if (t.attempts !== r.attempt || (live ? live.state !== 'PENDING' : !isTerminal(t.state))) return false;
    const end = this.exitOutcome(t, r);
    // A failure while retries remain is already handled by the requeue: the next attempt runs.
    if (live && end.outcome !== 'SUCCEEDED') return release();
    this.lostAttempts.delete(r.taskId, tx.lost);
    const placement = lost.task.placement ?? t.placement;
    const endedAt = r.endedAt ?? lost.at;
    const startedAt = r.startedAt ?? t.startedAt ?? null;
    this.log(`${keyOf(t.id, r.attempt)}: node ${nodeId} reports it ended ${end.outcome} before its lease ran out; that replaces LOST`);
    if (placement) {
      tx.attempts.push({ taskId: t.id, attempt: r.attempt, nodeId, placement, scheduledAt: t.scheduledAt ?? now, startedAt, endedAt, outcome: end.outcome, exitCode: r.exitCode ?? null });
    }
    this.put(tx, t, { ...t, state: end.outcome, exitCode: r.exitCode ?? null, startedAt, finishedAt: endedAt, reason: null, reasonMessage: end.message, ...(placement ? { placement } : {}) });
    this.event(tx, 'task.finished', { taskId: t.id, nodeId }, { state: end.outcome, exitCode: r.exitCode ?? null, attempt: r.attempt, replacesLost: true });
    tx.dirty = true;
    return true;
  }

  /** What an exit report means for the task: its outcome and message (no requeue rules here). */
  private exitOutcome(t: Task, r: RunningReport): { outcome: TaskState; message: string | null } {
    const code = r.exitCode ?? null;
    let outcome: TaskState;
    let message: string | null = null;
    switch (r.endReason) {
      case 'timeout':
        outcome = 'TIMEOUT';
        message = 'Killed at its time limit';
        break;
      case 'cancelled':
        outcome = 'CANCELLED';
        message = 'Cancelled';
        break;
      case 'preempted':
        outcome = 'PREEMPTED';
        break;
      case 'launch-failed':
        outcome = 'FAILED';
        message = `Launch failed: ${r.error ?? 'unknown error'}`;
        break;
      case 'fenced':
        outcome = 'LOST';
        message = 'Stopped by its node: the agent could not renew the node lease';
        break;
      case 'output-failed':
        outcome = 'FAILED';
        message = `Exited 0, but uploading its outputs failed: ${r.error ?? 'unknown error'}`;
        break;
      default:
        if (code === 0) outcome = 'SUCCEEDED';
        else {
          outcome = 'FAILED';
          message = code !== null ? `Exited with code ${code}` : `Killed by ${r.signal ?? 'a signal'}`;
        }
    }
    if (this.cancelling.has(t.id) && outcome !== 'SUCCEEDED') return { outcome: 'CANCELLED', message: 'Cancelled' };
    return { outcome, message };
  }

  private recordExit(tx: Tx, t: Task, r: RunningReport): void {
    const now = this.clock.now();
    const code = r.exitCode ?? null;
    if (r.endReason === 'fenced') {
      // The supervisor fenced it (no lease renewal): the node's problem, as a lost node's.
      this.endAttempt(tx, t, { outcome: this.cancelling.has(t.id) ? 'CANCELLED' : 'LOST', exitCode: code, endedAt: r.endedAt ?? now, startedAt: r.startedAt ?? t.startedAt, message: 'Stopped by its node: the agent could not renew the node lease' });
      return;
    }
    if (r.endReason === 'never-started') {
      // Nothing ran, and the agent made sure nothing will: a new attempt, not a failure.
      this.endAttempt(tx, t, { outcome: 'LOST', exitCode: null, endedAt: r.endedAt ?? now, unstarted: r.error ?? 'the agent stopped before the task was started' });
      return;
    }
    // A cancel that waited for this exit makes anything but success CANCELLED (exitOutcome).
    let { outcome, message } = this.exitOutcome(t, r);
    // Asked to stop for a preemption, it ended however it did (a stop order re-sent after an
    // agent restart carries no reason; a task may exit non-zero on SIGTERM): it was preempted.
    if (this.preempting.has(t.id) && !this.cancelling.has(t.id) && (outcome === 'FAILED' || outcome === 'CANCELLED')) {
      outcome = 'PREEMPTED';
      message = null;
    }
    const startedAt = r.startedAt ?? t.startedAt ?? (r.endReason === 'launch-failed' ? null : now);
    // Issue 14: what the task wrote to $FASTGPU_RESULT is kept with it (arrays-result.ts).
    const taken = resultOfReport(r);
    if (taken.result !== undefined) t = { ...t, result: taken.result };
    if (taken.note !== undefined && message === null) message = taken.note;
    if (t.state === 'SCHEDULED' && startedAt !== null) {
      this.event(tx, 'task.started', { taskId: t.id, nodeId: t.placement?.nodeId }, { attempt: t.attempts });
    }
    this.endAttempt(tx, t, { outcome, exitCode: code, endedAt: r.endedAt ?? now, startedAt, message });
  }

  /**
   * Long-poll: every attempt the server wants on the node that the agent has not reported yet,
   * and the stop orders. Answers at once when something new is there, else waits up to `waitMs`.
   */
  async assignments(nodeId: string, waitMs: number, signal?: AbortSignal): Promise<AssignmentsResponse> {
    if (!this.nodes.has(nodeId)) throw notFound('node', `${nodeId} (register first)`);
    const deadline = this.timers.elapsed() + waitMs;
    for (;;) {
      const rt = this.rt.get(nodeId);
      if (!rt) throw notFound('node', nodeId);
      const out = this.pendingFor(nodeId);
      const fresh =
        out.assignments.some((a) => !rt.delivered.has(keyOf(a.taskId, a.attempt))) ||
        out.stop.some((s) => !rt.stopsDelivered.has(keyOf(s.taskId, s.attempt)));
      const left = deadline - this.timers.elapsed();
      if (fresh || left <= 0 || this.closed) {
        const now = this.clock.now();
        for (const a of out.assignments) {
          const k = keyOf(a.taskId, a.attempt);
          if (!rt.delivered.has(k)) rt.delivered.set(k, now);
        }
        for (const s of out.stop) rt.stopsDelivered.add(keyOf(s.taskId, s.attempt));
        return out;
      }
      const why = await this.pollers.wait(nodeId, left, signal);
      if (why === 'aborted') return { assignments: [], stop: [] };
    }
  }

  private pendingFor(nodeId: string): AssignmentsResponse {
    const assignments: Assignment[] = [];
    for (const tid of this.byNode.get(nodeId) ?? []) {
      const t = this.tasks.get(tid);
      if (!t || t.state !== 'SCHEDULED' || !t.placement || this.cancelling.has(t.id) || this.undurable.has(t.id)) continue;
      assignments.push(this.assignmentOf(t));
    }
    const stop = [...(this.rt.get(nodeId)?.stops.values() ?? [])];
    return { assignments, stop };
  }

  private assignmentOf(t: Task): Assignment {
    const a: Assignment = {
      taskId: t.id,
      attempt: t.attempts,
      name: t.spec.name,
      command: t.spec.command,
      env: t.spec.env,
      graceMs: this.graceMs,
      placement: placementView(t.placement!),
      epoch: this.epoch,
    };
    if (t.spec.workdir !== undefined) a.workdir = t.spec.workdir;
    if (t.spec.timeLimitMs !== undefined) a.timeLimitMs = t.spec.timeLimitMs;
    if (t.spec.inputs) a.inputs = assignmentInputs(t.spec);
    if (t.spec.outputs) a.outputs = assignmentOutputs(t);
    return a;
  }

  // ---------------------------------------------------------------- draining

  /** A node by id or name. */
  // ---------------------------------------------------------------- autoscaling

  /**
   * The tasks a node is being started for (task id → what is coming, for the user). Their
   * `Resources`/`Fragmentation` reason reads `ScalingUp` from the next cycle on.
   */
  setScalingUp(tasks: ReadonlyMap<string, string>): void {
    const changed = tasks.size !== this.scalingUp.size || [...tasks].some(([id, m]) => this.scalingUp.get(id) !== m);
    this.scalingUp = tasks;
    if (changed) this.kick();
  }

  /** The node shapes the autoscaler's provider offers now (submit accepts a task one of them holds). */
  setOffered(offers: readonly ProviderOffer[]): void {
    this.offered = offers;
  }

  /** Records an event that is not a task's or a node's own change (an autoscaling decision). */
  async recordEvent(type: PoolEvent['type'], ids: { nodeId?: string; taskId?: string }, data: Record<string, unknown>): Promise<void> {
    const tx = new Tx();
    this.event(tx, type, ids, data);
    await this.commit(tx);
  }

  /**
   * A node its provider says is gone (a Slurm job cancelled, preempted or out of time): LOST now,
   * not after its lease runs out, so its tasks are requeued at once (as preempted: no retry used).
   */
  async nodeGone(idOrName: string, why: string): Promise<void> {
    const node = this.findNode(idOrName);
    if (!node || node.state === 'LOST') return;
    const tx = new Tx();
    this.log(`node ${node.name} (${node.id}): ${why}`);
    // Its provider took the node back (as Slurm preempts), processes and all: nothing to wait
    // for, and its tasks are requeued as preempted, without using a retry, since nothing they did
    // failed.
    for (const tid of this.byNode.get(node.id) ?? []) if (isActive(this.tasks.get(tid)?.state ?? 'SUCCEEDED')) this.preempting.set(tid, '');
    this.markLost(tx, node, this.clock.now(), false);
    await this.commit(tx);
  }

  /** Sets labels on a node (the provider and lifecycle the autoscaler gives it), kept in the store. */
  async labelNode(idOrName: string, labels: Record<string, string>): Promise<void> {
    const node = this.findNode(idOrName);
    if (!node || Object.entries(labels).every(([k, v]) => node.labels[k] === v)) return;
    const tx = new Tx();
    const next: NodeRecord = { ...node, labels: { ...node.labels, ...labels } };
    this.nodes.set(node.id, next);
    tx.nodes.push(next);
    await this.commit(tx);
  }

  findNode(idOrName: string): NodeRecord | undefined {
    return this.nodes.get(idOrName) ?? [...this.nodes.values()].find((n) => n.name === idOrName);
  }

  /**
   * Drain a node (for maintenance): it takes no new tasks or vGPUs until resumed; what runs there
   * goes on. With `evict`, its tasks are stopped as in a preemption (FASTGPU_PREEMPTED=1, SIGTERM,
   * the grace, SIGKILL) and requeued without using a retry, and its vGPUs wait for room elsewhere.
   * Draining a LOST node keeps it drained when its agent comes back.
   */
  async drainNode(idOrName: string, opts: { evict?: boolean } = {}): Promise<{ node: NodeRecord; evicted: number }> {
    const node = this.findNode(idOrName);
    if (!node) throw notFound('node', idOrName);
    const now = this.clock.now();
    const tx = new Tx();
    const drained: NodeRecord = { ...node, drained: true, state: node.state === 'LOST' ? 'LOST' : 'DRAINING' };
    this.nodes.set(node.id, drained);
    tx.nodes.push(drained);
    let evicted = 0;
    if (opts.evict) {
      const why = `evicted: node ${node.name} is being drained`;
      for (const tid of [...(this.byNode.get(node.id) ?? [])]) {
        const t = this.tasks.get(tid);
        if (!t || !isActive(t.state) || this.preempting.has(t.id) || this.cancelling.has(t.id)) continue;
        evicted++;
        this.evictInTx(tx, t, why, now);
      }
      this.unplaceReservations(tx, node.id, now);
    }
    if (!node.drained) this.log(`node ${node.name} (${node.id}) drained${opts.evict ? `; evicting ${evicted} task(s)` : ''}`);
    this.event(tx, 'node.drained', { nodeId: node.id }, { name: node.name, evict: opts.evict === true, evicted });
    tx.dirty = true;
    await this.commit(tx);
    return { node: drained, evicted };
  }

  /** The node's placed vGPU reservations go back to waiting for room elsewhere (and stop paying). */
  private unplaceReservations(tx: Tx, nodeId: string, now: number): void {
    for (const r of [...this.reservations.values()]) {
      if (r.state !== 'ACTIVE' || r.placement?.nodeId !== nodeId) continue;
      this.billing.ended(this.meteredReservation(r), r.placedAt ?? r.createdAt, now);
      this.putReservation(tx, r, { ...r, state: 'PENDING', placement: null, placedAt: null, reason: 'Resources', version: r.version + 1 });
    }
  }

  /** Undo a drain: the node takes work again (once its agent is alive). */
  async resumeNode(idOrName: string): Promise<NodeRecord> {
    const node = this.findNode(idOrName);
    if (!node) throw notFound('node', idOrName);
    if (!node.drained && node.state !== 'DRAINING') return node;
    const { drained: _drained, ...rest } = node;
    const resumed: NodeRecord = { ...rest, state: node.state === 'LOST' ? 'LOST' : 'READY' };
    this.nodes.set(node.id, resumed);
    const tx = new Tx();
    tx.nodes.push(resumed);
    this.log(`node ${node.name} (${node.id}) resumed`);
    this.event(tx, 'node.resumed', { nodeId: node.id }, { name: node.name });
    tx.dirty = true;
    await this.commit(tx);
    return resumed;
  }

  /**
   * Stop a running task so its node can be drained: like a preemption (the same stop order and
   * requeue, no retry used), but for no waiting task. A task never handed to the agent just
   * goes back to the queue.
   */
  private evictInTx(tx: Tx, t: Task, message: string, now: number): void {
    const nodeId = t.placement!.nodeId;
    if (t.state === 'SCHEDULED' && !this.rt.get(nodeId)?.delivered.has(keyOf(t.id, t.attempts))) {
      this.endAttempt(tx, t, { outcome: 'PREEMPTED', exitCode: null, endedAt: now, message });
      return;
    }
    this.preempting.set(t.id, '');
    this.addStop(nodeId, t.id, t.attempts, 'preempted');
    tx.wakeNodes.add(nodeId);
    this.put(tx, t, { ...t, reasonMessage: `${PREEMPTING_PREFIX}${message}` });
  }

  /**
   * Time the server did not run (a SIGSTOP, a starved event loop: the tick came late) is not
   * time the agents failed to renew: every lease is extended by it, so a server that wakes up
   * first reads the heartbeats waiting in its sockets, then judges. Called by every tick.
   */
  private creditStall(): void {
    const now = this.clock.now();
    const last = this.lastTickAt;
    this.lastTickAt = now;
    if (last === null || this.tickMs <= 0) return;
    // Lateness under a quarter of the lease is the lease's own slack (two heartbeats); a steadily
    // late tick on a loaded host must not stretch leases for ever, a real stall (a pause) must.
    const stall = now - last - Math.max(2 * this.tickMs, Math.floor(this.lease.leaseMs / 4));
    if (stall <= 0) return;
    for (const rt of this.rt.values()) rt.lastSeen += stall;
    this.log(`warn: the server did not run for ${now - last} ms (paused or overloaded); node leases extended by ${stall} ms`);
  }

  /** Nodes whose lease ran out: LOST, their tasks requeued (retries left) or FAILED. */
  async detectLostNodes(): Promise<void> {
    const now = this.clock.now();
    const tx = new Tx();
    for (const node of [...this.nodes.values()]) {
      if (node.state === 'LOST') continue;
      const rt = this.rt.get(node.id);
      // The runtime's time is the lease's start (stalls credited); the stored heartbeat only
      // counts for a node the server has no runtime for.
      const seen = rt ? rt.lastSeen : node.lastHeartbeatAt;
      if (now - seen <= this.nodeLostAfterMs) continue;
      this.markLost(tx, node, now, true);
    }
    await this.commit(tx);
  }

  /** `hold`: its requeued tasks wait for its late exit reports before they are placed again (lost-attempts.ts). */
  private markLost(tx: Tx, node: NodeRecord, now: number, hold: boolean): void {
    const lost: NodeRecord = { ...node, state: 'LOST' };
    this.nodes.set(node.id, lost);
    tx.nodes.push(lost);
    this.log(`node ${node.name} (${node.id}) LOST: no heartbeat for ${now - node.lastHeartbeatAt} ms`);
    let n = 0;
    for (const tid of [...(this.byNode.get(node.id) ?? [])]) {
      const t = this.tasks.get(tid);
      if (!t || !isActive(t.state)) continue;
      n++;
      const attempt = t.attempts;
      const placement = t.placement;
      const after = this.endAttempt(tx, t, { outcome: this.cancelling.has(t.id) ? 'CANCELLED' : 'LOST', exitCode: null, endedAt: now, message: `Node ${node.name} was lost` });
      if (after.state !== 'PENDING' && after.state !== 'FAILED') continue;
      const l = this.lostAttempts.record(t.id, { attempt, nodeId: node.id, at: now, task: { ...after, placement } }, hold, tx.lost);
      if (l.holdUntil > now) {
        const message = `its node ${node.name} was lost; it waits until ${new Date(l.holdUntil).toISOString()} for that node to report how attempt ${attempt} ended before it runs again`;
        this.put(tx, after, { ...after, reason: 'NodeLost', reasonMessage: message });
        this.event(tx, 'task.pending', { taskId: t.id }, { reason: 'NodeLost', message });
      }
    }
    // Its reserved slices go back to waiting for room elsewhere.
    this.unplaceReservations(tx, node.id, now);
    const rt = this.rt.get(node.id);
    if (rt) {
      rt.delivered.clear();
      rt.stops.clear();
      rt.stopsDelivered.clear();
      rt.misses.clear();
    }
    this.event(tx, 'node.lost', { nodeId: node.id }, { name: node.name, tasks: n });
    tx.wakeNodes.add(node.id);
    tx.dirty = true;
  }

  // ---------------------------------------------------------------- logs

  /**
   * Store log chunks. Chunks of tasks the server does not know (a store reset under a running
   * agent) are dropped, so one of them cannot make the agent resend its whole batch forever.
   */
  async appendLogs(chunks: Parameters<Store['appendLogs']>[0], nodeId?: string): Promise<void> {
    if (chunks.length === 0) return;
    const now = this.clock.now();
    chunks.forEach((c, i) => checkAgentTime(c.at, now, `chunks[${i}].at`));
    const known = new Set<string>();
    for (const id of new Set(chunks.map((c) => c.taskId))) {
      if (this.tasks.has(id) || (await this.store.getTask(id))) known.add(id);
    }
    // A node ships logs only of attempts that ran on it (a log chunk at seq 0 from elsewhere
    // would shadow the real one: chunks are idempotent by task, attempt, stream and seq).
    if (nodeId !== undefined) {
      for (const key of new Set(chunks.filter((c) => known.has(c.taskId)).map((c) => keyOf(c.taskId, c.attempt)))) {
        const hash = key.lastIndexOf('#');
        if (!(await this.ranOn(key.slice(0, hash), Number(key.slice(hash + 1)), nodeId))) {
          throw new FastGpuError('FORBIDDEN', `node ${nodeId} may not ship logs of ${key}: that attempt did not run on it`);
        }
      }
    }
    const keep = known.size === 0 ? [] : chunks.filter((c) => known.has(c.taskId));
    if (keep.length < chunks.length) this.log(`warn: dropped ${chunks.length - keep.length} log chunk(s) of unknown tasks`);
    if (keep.length === 0) return;
    await this.serial(() => this.store.appendLogs(keep));
    for (const id of known) this.logWaiters.notify(id);
  }

  /** Whether attempt `attempt` of the task was placed on `nodeId` (memory first, then the store). */
  private async ranOn(taskId: string, attempt: number, nodeId: string): Promise<boolean> {
    const t = this.tasks.get(taskId);
    if (t && t.attempts === attempt && t.placement) return t.placement.nodeId === nodeId;
    const lost = this.lostAttempts.get(taskId);
    if (lost && lost.attempt === attempt) return lost.nodeId === nodeId;
    const row = (await this.store.listAttempts(taskId)).find((a) => a.attempt === attempt);
    return row?.nodeId === nodeId;
  }

  // ---------------------------------------------------------------- reads

  /** A task: live from memory, else from the store. */
  async getTask(id: string): Promise<Task | null> {
    return this.tasks.get(id) ?? this.finishing.get(id) ?? (await this.store.getTask(id));
  }

  /** Tasks that ended whose end is not yet durable (see `finishing`). */
  finishingTasks(): IterableIterator<Task> {
    return this.finishing.values();
  }

  activeOn(nodeId: string): Task[] {
    const out: Task[] = [];
    for (const id of this.byNode.get(nodeId) ?? []) {
      const t = this.tasks.get(id);
      if (t) out.push(t);
    }
    return out;
  }

  utilOf(nodeId: string, gpuIndex: number): number | undefined {
    return this.rt.get(nodeId)?.util.get(gpuIndex);
  }

  isCancelling(id: string): boolean {
    return this.cancelling.has(id);
  }

  /** For metrics and tests. */
  counts(): { byState: Map<TaskState, number>; pendingByReason: Map<string, number> } {
    const byState = new Map<TaskState, number>();
    const pendingByReason = new Map<string, number>();
    for (const t of this.tasks.values()) {
      byState.set(t.state, (byState.get(t.state) ?? 0) + 1);
      if (t.state === 'PENDING') pendingByReason.set(t.reason ?? 'None', (pendingByReason.get(t.reason ?? 'None') ?? 0) + 1);
    }
    return { byState, pendingByReason };
  }
}
