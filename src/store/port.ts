// The storage port. One interface, adapters behind it (SQLite now, Postgres later), one
// conformance suite (store/conformance.ts) run against every adapter. Methods are async so
// that a network database fits; each method is atomic on its own.
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

export interface TaskFilter {
  states?: readonly TaskState[];
  /** Substring of the name. */
  name?: string;
  nodeId?: string;
  tenant?: string;
  vgpuId?: string;
  gangId?: string;
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

export interface TokenRecord {
  id: string;
  /** sha256 hex of the secret; the secret itself is never stored. */
  hash: string;
  tenant: string;
  role: 'admin' | 'member' | 'viewer' | 'agent';
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
}

export interface Store {
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

  // Attempts
  upsertAttempt(attempt: Attempt): Promise<void>;
  listAttempts(taskId: string): Promise<Attempt[]>;

  // Logs: idempotent on (taskId, attempt, stream, seq); a duplicate chunk is ignored.
  appendLogs(chunks: readonly LogChunk[]): Promise<void>;
  readLogs(taskId: string, query?: LogQuery): Promise<LogPage>;
  /** Highest seq stored per (attempt, stream) of a task, so an agent can resume shipping. */
  logHighWater(taskId: string, attempt: number): Promise<Partial<Record<LogStream, number>>>;

  // Events: the store assigns `seq`.
  appendEvents(events: readonly Omit<PoolEvent, 'seq'>[]): Promise<PoolEvent[]>;
  listEvents(after: number, limit?: number): Promise<PoolEvent[]>;

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

  // Utilisation samples (for charts)
  appendSamples(samples: readonly UtilisationSample[]): Promise<void>;
  listSamples(from: number, to: number, nodeId?: string): Promise<UtilisationSample[]>;

  // Small settings (schema version, cluster id, …)
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;
}
