// The storage port. One interface, adapters behind it (SQLite now, Postgres later), one
// conformance suite (store/conformance.ts) run against every adapter. Methods are async so
// that a network database fits; each method is atomic on its own.
import type { JoinStore } from './join-port.js';
import type { LentNodeStore } from './lent-port.js';
import type { LostAttemptRecord, LostAttemptWrites } from './lost-port.js';
import type {
  Attempt,
  LogChunk,
  LogStream,
  NodeRecord,
  NodeState,
  PoolEvent,
  Task,
  TaskState,
  VgpuReservation,
} from '../core/types.js';
import type { LedgerEntry } from '../core/pricing/ledger.js';
import type { Micros } from '../core/pricing/money.js';
import type { PriceBook, PricedUsage, Promotion } from '../core/pricing/types.js';
import type { Tenant } from '../core/tenancy/types.js';
import type { SampleSource, SampleTier } from './sample-tiers.js';
import type { DatasetStore } from './datasets-port.js';
import type { SweepStore } from './sweeps.js';
import type { GroupStore } from './groups.js';

export interface TaskFilter {
  states?: readonly TaskState[];
  /** Substring of the name. */
  name?: string;
  nodeId?: string;
  tenant?: string;
  vgpuId?: string;
  gangId?: string;
  /** Elements of this task array (issue 14). */
  arrayId?: string;
  /** Newest first, this many at most (default 1000). */
  limit?: number;
  /** Only tasks created before this task id's createdAt (keyset pagination, newest first). */
  before?: string;
}

/** A conditional write: applied only when the stored version still equals `expectedVersion`. */
export interface TaskWrite {
  task: Task;
  expectedVersion: number;
}

/**
 * One change of the live state (what the control plane decided in one step): written in one
 * transaction, all of it or none, so a crash never leaves a task's new state without its
 * attempt or its events, nor the other way round.
 */
export interface StateBatch {
  /** New tasks, as `insertTasks` (a duplicate id fails the whole batch with CONFLICT). */
  newTasks?: readonly Task[];
  tasks?: readonly TaskWrite[];
  attempts?: readonly Attempt[];
  /** Conditional on version, as `writeReservation`. */
  reservations?: readonly { reservation: VgpuReservation; expectedVersion: number }[];
  nodes?: readonly NodeRecord[];
  /** As `setNodeState`. */
  nodeStates?: readonly { id: string; state: NodeState; heartbeatAt: number }[];
  samples?: readonly UtilisationSample[];
  events?: readonly Omit<PoolEvent, 'seq'>[];
  /**
   * Idempotency keys the batch's new tasks answer (a submit's `Idempotency-Key`), stored with
   * them. A key still live (its expiresAt after the record's createdAt) fails the whole batch with
   * CONFLICT; an expired one is replaced.
   */
  idempotencyKeys?: readonly IdempotencyRecord[];
  /** Attempts LOST with their node: written with the LOST, and with what acts on it (lost-port.ts). */
  lostAttempts?: LostAttemptWrites;
}

/** A submit's `Idempotency-Key`: what a retry of the same request answers (src/server/idempotency.ts). */
export interface IdempotencyRecord {
  /** Whose key it is (the API token's id): keys of different tokens never meet. */
  scope: string;
  key: string;
  /** sha256 hex of the request, so the same key with another request is told apart. */
  requestHash: string;
  /** The tasks the first request made, in order. */
  taskIds: string[];
  createdAt: number;
  expiresAt: number;
}

export interface StateBatchResult {
  /** Task writes skipped because the stored version differed (the rest were applied). */
  lostTasks: string[];
  /** Reservation writes skipped the same way. */
  lostReservations: string[];
  /** The events as stored, with their seq. */
  events: PoolEvent[];
}

export interface TokenRecord {
  id: string;
  /** sha256 hex of the secret; the secret itself is never stored. */
  hash: string;
  tenant: string;
  /** `agent`: only the agent protocol; `metrics`: only GET /metrics (for a Prometheus scraper). */
  role: 'admin' | 'member' | 'viewer' | 'agent' | 'metrics';
  name: string;
  createdAt: number;
  revokedAt: number | null;
}

export interface LogQuery {
  attempt?: number;
  stream?: LogStream;
  /** Return chunks whose global order key is greater than this (from a previous page's `next`). */
  after?: number;
  limit?: number;
}

/** A page of one task's events (`listTaskEvents`). */
export interface TaskEventQuery {
  /** Only events whose seq is greater than this (a previous page's last seq). Default 0. */
  after?: number;
  /** Default 1000, at most 10,000. */
  limit?: number;
}

export interface LogPage {
  /** Each chunk with its global order key `pos`. */
  chunks: (LogChunk & { pos: number })[];
  /** Pass as `after` to continue; equals `after` when nothing new. */
  next: number;
}

export interface UtilisationSample {
  at: number;
  nodeId: string;
  gpuIndex: number;
  /** 0..100 */
  utilPercent: number;
  memoryUsedMiB: number;
  /** Milli-GPU allocated on this GPU (tasks and vGPUs) when sampled: allocation over time. Default 0. */
  allocatedMilli?: number;
}

/** One stored rollup: a GPU's samples over one minute or hour (`listSampleRollups`). */
export interface SampleRollup {
  /** Start of the minute or hour, epoch ms. */
  at: number;
  nodeId: string;
  gpuIndex: number;
  /** Mean over the samples. */
  utilPercent: number;
  /** Highest of the samples. */
  memoryUsedMiB: number;
  /** Mean over the samples. */
  allocatedMilli: number;
  /** Raw samples behind it. */
  samples: number;
}

/** One tier's blocks (`sampleStorage`): records held (raw samples or rollups), bytes, block rows. */
export interface SampleTierStorage {
  records: number;
  bytes: number;
  blocks: number;
}

/** One step of `compactSamples`: rollup rows written, and whether complete buckets are still waiting. */
export interface SampleCompaction {
  minutes: number;
  hours: number;
  more: boolean;
}

/** A bucketed read (`readSampleSeries`): buckets start at `from`, `from + bucketMs`, …; both ends included. */
export interface SampleSeriesQuery {
  from: number;
  to: number;
  bucketMs: number;
  nodeId?: string;
  /**
   * `gpu` (default): a point per GPU and bucket. `pool`: only each bucket's totals across GPUs
   * (`buckets`), worked out in the store: a few hundred rows back instead of one per GPU.
   * `series`: the points as one series of columns a GPU (`series`), and `buckets`: what
   * GET /v1/samples answers, with no object per point.
   */
  detail?: SampleDetail;
}

export type SampleDetail = 'gpu' | 'pool' | 'series';

/** One GPU's points (detail `series`) as columns: `bucket[i]` is the bucket's number from `from`. */
export interface GpuSeries {
  nodeId: string;
  gpuIndex: number;
  bucket: number[];
  utilPercent: number[];
  memoryUsedMiB: number[];
  allocatedMilli: number[];
  samples: number[];
}

/** One bucket summed across the GPUs that reported in it (each GPU's means first, as in `points`). */
export interface SampleBucket {
  /** The bucket's start. */
  at: number;
  gpus: number;
  /** Mean over those GPUs of each one's mean utilisation. */
  utilPercent: number;
  /** Σ over those GPUs of each one's mean allocation, each rounded to a whole milli first. */
  allocatedMilli: number;
}

/**
 * One GPU in one bucket, shaped as a rollup: `at` is the bucket's start, means are weighted by
 * the samples behind each row read, `allocatedMilli` is not rounded.
 */
export type SamplePoint = SampleRollup;

export interface SampleSeries {
  /** By bucket, node, GPU; empty for detail `pool` and `series`. */
  points: SamplePoint[];
  /** By bucket; for detail `pool` and `series`. */
  buckets?: SampleBucket[];
  /** By node and GPU; only for detail `series`. */
  series?: GpuSeries[];
  /** Which tier answered which part of the range (planSampleRead). */
  sources: SampleSource[];
}

/** A tenant as stored: the core's Tenant (quota, weight, budget) and when it was first created. */
export interface TenantRecord extends Tenant {
  createdAt: number;
}

export interface LedgerFilter {
  /** true: only running entries (`to` null); false: only closed ones; absent: both. */
  open?: boolean;
  taskId?: string;
  attempt?: number;
  tenant?: string;
}

/**
 * A conditional ledger write, the ledger's optimistic lock: `settledTo` is the entry's version,
 * since every settlement moves it (and only a close leaves it where it is, setting `to`).
 * Applied only when the stored entry is charged up to exactly `expectedSettledTo` and is not
 * closed at another end; `expectedSettledTo: null` inserts an entry that must not exist yet
 * (a split's tail). Build these with `ledgerWrites(before, after)` (store/ledger.ts).
 */
export interface LedgerEntryWrite {
  entry: LedgerEntry;
  expectedSettledTo: number | null;
}

/**
 * One settlement, written atomically by `settleLedger`: the entries it moved, the usage it
 * newly charged (`settleAll(...).priced`, `settleEntry(...).priced`, one per entry charged) and
 * the promotion budgets consumed afterwards (`settleAll(...).promoSpent`).
 */
export interface LedgerSettlement {
  writes: readonly LedgerEntryWrite[];
  priced: readonly PricedUsage[];
  /**
   * Totals consumed per promotion after the settlement, as the caller computed them. The store
   * keeps its own totals (the sum of the discounts of the lines it stored) and refuses a
   * settlement whose totals differ: its promotion budgets were read before another settlement.
   */
  promoSpent: ReadonlyMap<string, bigint>;
}

/**
 * One priced line as stored: a piece of an attempt's GPU usage over [from, to) with one
 * promotion (or none), and the segment facts a usage report needs. `store/ledger.ts`'s
 * `linesToPricedUsage` turns these back into core `PricedUsage` for `usageReport`.
 */
export interface PricedLineRecord {
  tenant: string;
  taskId: string;
  attempt: number;
  /** Canonical GPU model the price was looked up under. */
  gpuModel: string;
  gpuMilli: number;
  gpuCount: number;
  /** Where the attempt's price rounding is anchored (its start). */
  anchor: number;
  /** The book's price per whole GPU-hour when it was charged. */
  unitPrice: Micros;
  from: number;
  to: number;
  listAmount: Micros;
  discountAmount: Micros;
  /** listAmount − discountAmount. */
  chargedAmount: Micros;
  /** The promotion applied; null when none did. */
  promotion: string | null;
}

export interface PricedUsageFilter {
  /** Lines that overlap [from, to) (each bound optional); reports clip them to the period. */
  from?: number;
  to?: number;
  tenant?: string;
  taskId?: string;
}

export interface Store extends DatasetStore, JoinStore, LentNodeStore {
  /** Create or migrate the schema. Refuses a schema newer than the code. */
  init(): Promise<void>;
  close(): Promise<void>;

  // Nodes
  upsertNode(node: NodeRecord): Promise<void>;
  getNode(id: string): Promise<NodeRecord | null>;
  getNodeByName(name: string): Promise<NodeRecord | null>;
  listNodes(): Promise<NodeRecord[]>;
  setNodeState(id: string, state: NodeState, heartbeatAt?: number): Promise<void>;

  // Tasks
  /** All or nothing. */
  insertTasks(tasks: readonly Task[]): Promise<void>;
  getTask(id: string): Promise<Task | null>;
  listTasks(filter?: TaskFilter): Promise<Task[]>;
  /** Non-terminal tasks (PENDING, SCHEDULED, RUNNING, PREEMPTED, LOST), oldest first: loaded at start. */
  listLiveTasks(): Promise<Task[]>;
  countTasks(filter?: Pick<TaskFilter, 'states' | 'tenant'>): Promise<number>;
  /**
   * Conditional writes in one transaction. Returns the ids whose version did not match
   * (those writes were skipped; the rest were applied). Each applied write stores
   * `task.version` as given: the caller bumps it.
   */
  writeTasks(writes: readonly TaskWrite[]): Promise<string[]>;
  /** Writes a whole `StateBatch` in one transaction; a failure anywhere rolls all of it back. */
  commitBatch(batch: StateBatch): Promise<StateBatchResult>;

  // Attempts
  upsertAttempt(attempt: Attempt): Promise<void>;
  listAttempts(taskId: string): Promise<Attempt[]>;

  // Logs: idempotent on (taskId, attempt, stream, seq); a duplicate chunk is ignored.
  appendLogs(chunks: readonly LogChunk[]): Promise<void>;
  readLogs(taskId: string, query?: LogQuery): Promise<LogPage>;
  /** Highest seq stored per (attempt, stream) of a task, so an agent can resume shipping. */
  logHighWater(taskId: string, attempt: number): Promise<Partial<Record<LogStream, number>>>;
  /**
   * Log retention, one bounded step in one transaction: deletes the log chunks of finished tasks
   * (SUCCEEDED, FAILED, CANCELLED, TIMEOUT) whose `finishedAt` is before `finishedBefore`, at most
   * `maxChunks` of them, and marks each task emptied with `at` (see `logsPrunedAt`). `more`: call
   * again, there may be more due.
   */
  pruneLogs(finishedBefore: number, at: number, maxChunks?: number): Promise<{ tasks: number; chunks: number; more: boolean }>;
  /** When log retention deleted the task's logs; null if it did not (or no such task). */
  logsPrunedAt(taskId: string): Promise<number | null>;

  // Events: the store assigns `seq`.
  appendEvents(events: readonly Omit<PoolEvent, 'seq'>[]): Promise<PoolEvent[]>;
  listEvents(after: number, limit?: number): Promise<PoolEvent[]>;
  /** One task's events (those whose `taskId` is `taskId`) in seq order; [] for an unknown task. */
  listTaskEvents(taskId: string, query?: TaskEventQuery): Promise<PoolEvent[]>;

  // vGPU reservations
  insertReservation(r: VgpuReservation): Promise<void>;
  getReservation(id: string): Promise<VgpuReservation | null>;
  listReservations(opts?: { includeReleased?: boolean; tenant?: string }): Promise<VgpuReservation[]>;
  /** Conditional on version, as writeTasks. Returns false when the version did not match. */
  writeReservation(r: VgpuReservation, expectedVersion: number): Promise<boolean>;

  // Tokens
  insertToken(t: TokenRecord): Promise<void>;
  findTokenByHash(hash: string): Promise<TokenRecord | null>;
  listTokens(): Promise<TokenRecord[]>;
  revokeToken(id: string, at: number): Promise<boolean>;
  getToken(id: string): Promise<TokenRecord | null>;

  // Tenants
  /**
   * Creates the tenant or replaces its quota, weight and budget. An existing tenant keeps the
   * `createdAt` it was first stored with.
   */
  upsertTenant(t: TenantRecord): Promise<void>;
  /**
   * Deletes the tenant and revokes (at `at`) every token it still has, in one transaction.
   * Returns how many tokens were revoked, or null when there is no such tenant. Its history
   * (tasks, ledger, usage) is kept.
   */
  deleteTenant(name: string, at: number): Promise<number | null>;
  getTenant(name: string): Promise<TenantRecord | null>;
  /** By name. */
  listTenants(): Promise<TenantRecord[]>;

  // Price book: one per pool; null until one is set.
  getPriceBook(): Promise<PriceBook | null>;
  /**
   * Replaces the book. Stored in the core's JSON form (priceBookToInput), so model names are
   * canonical on the way back; a book that would not load again (a model not in the catalogue)
   * is refused with INVALID_ARGUMENT and the stored one is kept.
   */
  setPriceBook(book: PriceBook): Promise<void>;

  // Promotions, keyed by name. Stored in the core's JSON form (promotionToInput); one that
  // would not load again is refused with INVALID_ARGUMENT.
  /** CONFLICT when the name exists. */
  insertPromotion(p: Promotion): Promise<void>;
  getPromotion(name: string): Promise<Promotion | null>;
  /** By start (`from`), then name. */
  listPromotions(): Promise<Promotion[]>;
  /** Replaces a promotion (to end it early, say); false when none has that name. */
  updatePromotion(p: Promotion): Promise<boolean>;

  // Ledger (metering and charges). Entries are keyed by (taskId, attempt, seq).
  /** A new entry (`openEntry(...)`); CONFLICT when its key exists. */
  openLedgerEntry(entry: LedgerEntry): Promise<void>;
  /** In charging order: taskId, attempt, seq (the core's `chargeOrder`). */
  listLedgerEntries(filter?: LedgerFilter): Promise<LedgerEntry[]>;
  /**
   * Applies a settlement in one transaction: every entry write, every priced line, and the
   * tenant spend and promotion totals that follow from the lines. All or nothing: returns the
   * conflicts — entry keys (`taskId/attempt/seq`) whose expectation failed, `promotion:NAME`
   * for a promotion total that differs from the store's, `line:taskId/attempt@from` for a line
   * overlapping one already charged — and, when there are any, writes nothing at all. So a
   * crash, a retry or a stale copy can never count usage twice.
   */
  settleLedger(s: LedgerSettlement): Promise<string[]>;
  /** Priced lines by from, taskId, attempt. */
  listPricedUsage(filter?: PricedUsageFilter): Promise<PricedLineRecord[]>;
  /** Σ charged per tenant over all time (tenants that were never charged are absent). */
  spendByTenant(): Promise<Map<string, Micros>>;
  /**
   * Σ charged per tenant for usage from `since` on (a budget period's spend): lines wholly after
   * it count in full, a line across it only its part after it, by the usage report's clipping
   * rule (`chargedWithin`), so it equals the charged total of a report from `since`.
   */
  spendByTenantSince(since: number): Promise<Map<string, Micros>>;
  /** Σ discount given per promotion over all time: the budget consumed (never-used ones absent). */
  getPromoSpent(): Promise<Map<string, Micros>>;

  // Utilisation samples (for charts), kept in three tiers (sample-tiers.ts): raw samples, and
  // per-GPU rollups of each minute and each hour that compaction makes from the finer tier.
  appendSamples(samples: readonly UtilisationSample[]): Promise<void>;
  /** Raw samples in [from, to], by time, node, GPU. */
  listSamples(from: number, to: number, nodeId?: string): Promise<UtilisationSample[]>;
  /**
   * One bounded step of compaction, in one transaction: rolls raw samples up into the minutes
   * that end by `upTo`, and minute rollups into the hours that end by `upTo` and are wholly
   * rolled up, oldest first, at most `maxMinutes` (default 30) and `maxHours` (default 6) of
   * each. Rows are recomputed from the finer tier and replace any stored for the same (start,
   * node, GPU), and the store remembers how far it got, so steps repeated or cut short by a crash
   * never count a sample twice. A sample stored after its minute was rolled up stays raw only.
   * Call again while `more`.
   */
  compactSamples(upTo: number, opts?: { maxMinutes?: number; maxHours?: number }): Promise<SampleCompaction>;
  /**
   * Deletes at most `limit` (default 1,000) of the oldest blocks of `tier` (sample-blocks.ts)
   * that end by `before`, in one short transaction; returns how many blocks. Whole blocks only,
   * so a tier is kept up to one block longer than its window (raw 10 minutes, minutes 6 hours,
   * hours a day). Raw samples and minute rollups not yet rolled up into the next tier are kept
   * whatever their age. Call again while it returns `limit`.
   */
  pruneSamples(tier: SampleTier, before: number, limit?: number): Promise<number>;
  /** Stored rollups of one tier that start in [from, to], by time, node, GPU. */
  listSampleRollups(tier: Exclude<SampleTier, 'raw'>, from: number, to: number, nodeId?: string): Promise<SampleRollup[]>;
  /**
   * Samples bucketed per GPU in the store (planSampleRead picks the tiers), as the blocks are
   * read (BucketAccumulator). A sample or rollup counts in the bucket where it starts, and only
   * when it starts in [from, to]: nothing from before `from` is drawn into the first bucket.
   */
  readSampleSeries(q: SampleSeriesQuery): Promise<SampleSeries>;
  /** What each tier holds (samples or rollups) and the bytes its blocks take: the volume contract. */
  sampleStorage(): Promise<Record<SampleTier, SampleTierStorage>>;

  // Idempotency keys (written with their tasks by commitBatch)
  /** The record of (scope, key), or null when there is none or it expired by `now`. */
  getIdempotencyKey(scope: string, key: string, now: number): Promise<IdempotencyRecord | null>;
  /** Deletes at most `limit` (default 10,000) records expired by `now`; returns how many. */
  pruneIdempotencyKeys(now: number, limit?: number): Promise<number>;

  /** Every stored LOST attempt record (lost-port.ts), in no particular order. */
  listLostAttempts(): Promise<LostAttemptRecord[]>;

  // Small settings (schema version, cluster id, …)
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;

  /** Sweeps, their trials and the metric points tasks report (sweeps.ts). */
  sweeps(): SweepStore;
  /** The array or sweep of each task, and group summaries, for per-group usage (groups.ts). */
  groups(): GroupStore;
}
