// The SQLite adapter of the Store port, on better-sqlite3: one file in the data dir, WAL
// mode, every statement prepared once. The port is async so that a network database fits;
// here the work is synchronous inside each method, and each method is one transaction.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { BackgroundCheckpointer } from './checkpointer.js';
import { FastGpuError, conflict } from '../../core/errors.js';
import type { Attempt, LogChunk, LogStream, NodeRecord, NodeState, PoolEvent, Task, VgpuReservation } from '../../core/types.js';
import type { LedgerEntry } from '../../core/pricing/ledger.js';
import type { Micros } from '../../core/pricing/money.js';
import type { PriceBook, Promotion } from '../../core/pricing/types.js';
import type {
  IdempotencyRecord,
  LedgerFilter,
  LedgerSettlement,
  LogPage,
  LogQuery,
  PricedLineRecord,
  PricedUsageFilter,
  SampleCompaction,
  SampleRollup,
  SampleSeries,
  SampleSeriesQuery,
  Store,
  TaskEventQuery,
  TaskFilter,
  StateBatch,
  StateBatchResult,
  TaskWrite,
  TenantRecord,
  TokenRecord,
  UtilisationSample,
} from '../port.js';
import type { SampleTier } from '../sample-tiers.js';
import { SqliteBilling } from './billing.js';
import { SqliteIdempotency } from './idempotency.js';
import { SqliteLostAttempts } from './lost.js';
import { SqliteDatasets } from './datasets.js';
import type { Dataset, DatasetSummary } from '../../core/data/dataset.js';
import type { DatasetInsert } from '../datasets-port.js';
import { SqliteJoin } from './join.js';
import { SqliteLent } from './lent.js';
import type { LentNodeFilter, LentNodeRecord } from '../lent-port.js';
import type { JoinRedeem, JoinTokenRecord, NodeCredentialRecord } from '../join-port.js';
import type { LostAttemptRecord } from '../lost-port.js';
import { loadMigrations, migrate, type Migration } from './migrate.js';
import { convertLegacySamples, hasLegacySamples } from './samples-legacy.js';
import { SqliteSamples, type SampleStorage } from './samples.js';
import { SqliteSweeps } from './sweeps.js';
import type { SweepStore } from '../sweeps.js';
import { SqliteGroups } from './groups.js';
import type { GroupStore } from '../groups.js';
import {
  attemptToRow,
  eventToRow,
  nodeToRow,
  reservationToRow,
  rowToAttempt,
  rowToEvent,
  rowToLog,
  rowToNode,
  rowToReservation,
  rowToTask,
  rowToToken,
  taskToRow,
  tokenToRow,
  type AttemptRow,
  type EventRow,
  type LogRow,
  type NodeRow,
  type ReservationRow,
  type TaskRow,
  type TokenRow,
} from './rows.js';

export interface SqliteStoreOptions {
  /** The database file; its folder is created when missing. */
  path: string;
  /** How long to wait for another connection's write lock before failing. Default 10 s. */
  busyTimeoutMs?: number;
  /** Override the migrations (tests); default: the numbered files in ./migrations/. */
  migrations?: readonly Migration[];
  /**
   * Checkpoint the WAL from a worker thread every this many ms (checkpointer.ts), so its fsync
   * never stalls this connection's writes; the server turns it on. Default: off (SQLite's own
   * autocheckpoint only).
   */
  backgroundCheckpointMs?: number;
  /** Where the checkpoint worker's warnings go. */
  log?: (line: string) => void;
}

/** Non-terminal states, written exactly as the `tasks_live` partial index's WHERE clause. */
export const LIVE_STATES_SQL = "state IN ('PENDING', 'SCHEDULED', 'RUNNING', 'PREEMPTED', 'LOST')";
// INDEXED BY: without statistics the planner prefers tasks_state and sorts; the partial index
// is smaller and already in order.
export const LIVE_TASKS_SQL = `SELECT id, state, gang_id, created_at, version, doc FROM tasks INDEXED BY tasks_live
  WHERE ${LIVE_STATES_SQL} ORDER BY created_at, id`;

export const DEFAULT_TASK_LIMIT = 1000;
export const DEFAULT_PAGE_LIMIT = 1000;
export const MAX_PAGE_LIMIT = 10_000;

const TASK_COLUMNS = 'id, state, gang_id, created_at, version, doc';

type Params = Record<string, string | number | null>;

/** Prepared once per store, after the schema exists. */
function prepareAll(db: Database.Database) {
  // Typed by result only: named parameters are passed as one object, positional ones as a list.
  const p = <R = unknown>(sql: string) => db.prepare<unknown[], R>(sql);
  // The array id column (migration task_array_column). A store opened with an older migration
  // list (tests build the databases of earlier versions so) writes the columns that schema has.
  const arrayColumn = db.prepare("SELECT 1 FROM pragma_table_info('tasks') WHERE name = 'array_id'").get() !== undefined;
  const [arrayInsert, arrayValue, arraySet] = arrayColumn ? [', array_id', ', @array_id', ', array_id = @array_id'] : ['', '', ''];
  return {
    upsertNode: p(`INSERT INTO nodes (id, name, state, registered_at, last_heartbeat_at, doc)
      VALUES (@id, @name, @state, @registered_at, @last_heartbeat_at, @doc)
      ON CONFLICT (id) DO UPDATE SET name = excluded.name, state = excluded.state,
        registered_at = excluded.registered_at, last_heartbeat_at = excluded.last_heartbeat_at, doc = excluded.doc`),
    getNode: p<NodeRow>('SELECT * FROM nodes WHERE id = ?'),
    // A name reused by a re-installed machine: the latest registration is the one that counts.
    getNodeByName: p<NodeRow>('SELECT * FROM nodes WHERE name = ? ORDER BY registered_at DESC, id DESC LIMIT 1'),
    listNodes: p<NodeRow>('SELECT * FROM nodes ORDER BY name, id'),
    setNodeState: p(`UPDATE nodes SET state = @state, last_heartbeat_at = COALESCE(@heartbeatAt, last_heartbeat_at) WHERE id = @id`),

    insertTask: p(`INSERT INTO tasks (id, state, name, tenant, node_id, vgpu_id, gang_id, created_at, priority, version, doc${arrayInsert})
      VALUES (@id, @state, @name, @tenant, @node_id, @vgpu_id, @gang_id, @created_at, @priority, @version, @doc${arrayValue})`),
    getTask: p<TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ?`),
    getTaskCreatedAt: p<{ created_at: number }>('SELECT created_at FROM tasks WHERE id = ?'),
    liveTasks: p<TaskRow>(LIVE_TASKS_SQL),
    writeTask: p(`UPDATE tasks SET state = @state, name = @name, tenant = @tenant, node_id = @node_id, vgpu_id = @vgpu_id,
        gang_id = @gang_id, created_at = @created_at, priority = @priority, version = @version, doc = @doc${arraySet}
      WHERE id = @id AND version = @expected`),

    upsertAttempt: p(`INSERT INTO attempts (task_id, attempt, node_id, doc) VALUES (@task_id, @attempt, @node_id, @doc)
      ON CONFLICT (task_id, attempt) DO UPDATE SET node_id = excluded.node_id, doc = excluded.doc`),
    listAttempts: p<AttemptRow>('SELECT * FROM attempts WHERE task_id = ? ORDER BY attempt'),

    insertLog: p(`INSERT OR IGNORE INTO log_chunks (task_id, attempt, stream, seq, at, data)
      VALUES (@taskId, @attempt, @stream, @seq, @at, @data)`),
    readLogs: p<LogRow>(`SELECT pos, task_id, attempt, stream, seq, at, data FROM log_chunks
      WHERE task_id = @taskId AND pos > @after
        AND (@attempt IS NULL OR attempt = @attempt) AND (@stream IS NULL OR stream = @stream)
      ORDER BY pos LIMIT @limit`),
    logHighWater: p<{ stream: string; seq: number }>(
      'SELECT stream, MAX(seq) AS seq FROM log_chunks WHERE task_id = ? AND attempt = ? GROUP BY stream',
    ),

    insertEvent: p(`INSERT INTO events (at, type, task_id, node_id, vgpu_id, data)
      VALUES (@at, @type, @task_id, @node_id, @vgpu_id, @data)`),
    listEvents: p<EventRow>('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?'),
    // events_task (migration 004) holds (task_id, seq): one range scan, already in order.
    listTaskEvents: p<EventRow>('SELECT * FROM events WHERE task_id = @taskId AND seq > @after ORDER BY seq LIMIT @limit'),

    insertReservation: p(`INSERT INTO reservations (id, tenant, state, created_at, version, doc)
      VALUES (@id, @tenant, @state, @created_at, @version, @doc)`),
    getReservation: p<ReservationRow>('SELECT * FROM reservations WHERE id = ?'),
    listReservations: p<ReservationRow>(`SELECT * FROM reservations
      WHERE (@includeReleased = 1 OR state <> 'RELEASED') AND (@tenant IS NULL OR tenant = @tenant)
      ORDER BY created_at, id`),
    writeReservation: p(`UPDATE reservations SET tenant = @tenant, state = @state, created_at = @created_at,
        version = @version, doc = @doc
      WHERE id = @id AND version = @expected`),

    insertToken: p(`INSERT INTO tokens (id, hash, tenant, role, name, created_at, revoked_at)
      VALUES (@id, @hash, @tenant, @role, @name, @created_at, @revoked_at)`),
    findToken: p<TokenRow>('SELECT * FROM tokens WHERE hash = ?'),
    getToken: p<TokenRow>('SELECT * FROM tokens WHERE id = ?'),
    listTokens: p<TokenRow>('SELECT * FROM tokens ORDER BY created_at, id'),
    // The first revocation time stands; revoking again still reports that the token exists.
    revokeToken: p('UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?'),

    getMeta: p<{ value: string }>('SELECT value FROM meta WHERE key = ?'),
    setMeta: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
  };
}

type Statements = ReturnType<typeof prepareAll>;

/** Clamps a caller's page size to 1..max, with a default for absent or nonsense values. */
function pageLimit(limit: number | undefined, dflt: number, max: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return dflt;
  return Math.min(max, Math.max(1, Math.trunc(limit)));
}

function sqliteCode(err: unknown): string | undefined {
  return err instanceof Database.SqliteError ? err.code : undefined;
}

/** Constraint failures are the caller's mistake (a duplicate id, an unknown task), not a bug. */
function translate(err: unknown, what: string): unknown {
  const code = sqliteCode(err);
  if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
    return conflict(`${what} already exists`);
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    return new FastGpuError('NOT_FOUND', `${what}: no such task`);
  }
  return err;
}

export class SqliteStore implements Store {
  private db: Database.Database | null = null;
  private checkpointer: BackgroundCheckpointer | null = null;
  private stmts: Statements | null = null;
  /** Tenants, prices, promotions and the ledger (billing.ts). */
  private billing: SqliteBilling | null = null;
  /** Datasets (datasets.ts). */
  private datasets: SqliteDatasets | null = null;
  /** Join tokens and node credentials (join.ts). */
  private joining: SqliteJoin | null = null;
  /** Nodes providers lent (lent.ts). */
  private lending: SqliteLent | null = null;
  /** Sample blocks (samples.ts), built on first use: they name tables of a late migration. */
  private sampleTiers: SqliteSamples | null = null;
  /** Sweeps (sweeps.ts), built on first use: they name tables of a late migration. */
  private sweepStore: SqliteSweeps | null = null;
  /** Task list/count statements, one per filter shape, prepared on first use. */
  private readonly shaped = new Map<string, Database.Statement<unknown[], unknown>>();
  private logRetentionStmts: ReturnType<SqliteStore['logRetention']> | null = null;
  /** Idempotency keys (idempotency.ts), built on first use like the sample tiers. */
  private idempotency: SqliteIdempotency | null = null;
  /** LOST attempt records (lost.ts), built on first use. */
  private lost: SqliteLostAttempts | null = null;
  private tx: {
    insertTasks: (tasks: readonly Task[]) => void;
    commitBatch: (batch: StateBatch) => StateBatchResult;
    writeTasks: (writes: readonly TaskWrite[]) => string[];
    appendLogs: (chunks: readonly LogChunk[]) => void;
    appendEvents: (events: readonly Omit<PoolEvent, 'seq'>[]) => PoolEvent[];
    appendSamples: (samples: readonly UtilisationSample[]) => void;
  } | null = null;

  constructor(private readonly opts: SqliteStoreOptions) {}

  /** The file this store writes. */
  get path(): string {
    return this.opts.path;
  }

  async init(): Promise<void> {
    if (this.db) return;
    mkdirSync(dirname(this.opts.path), { recursive: true });
    const db = new Database(this.opts.path);
    try {
      // busy_timeout first: every later statement, the journal-mode switch included, may meet
      // another process's lock on a shared file.
      const busyMs = Math.trunc(this.opts.busyTimeoutMs ?? 10_000);
      db.pragma(`busy_timeout = ${busyMs}`);
      // The switch to WAL needs the file to itself, and SQLite answers SQLITE_BUSY at once on
      // some paths rather than waiting (several servers starting on one new file): retry.
      for (const deadline = Date.now() + busyMs; ; ) {
        try {
          db.pragma('journal_mode = WAL');
          break;
        } catch (e) {
          if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw e;
          await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
        }
      }
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      // Checkpoints are where WAL mode fsyncs; at SQLite's default (every 1000 pages, about
      // 170 single-task submits here) they halved the submit rate on a busy disk. 10,000 pages
      // bounds the WAL near 40 MiB, and journal_size_limit trims it back after a checkpoint.
      db.pragma('wal_autocheckpoint = 10000');
      db.pragma(`journal_size_limit = ${64 * 2 ** 20}`);
      migrate(db, this.opts.migrations ?? loadMigrations(), Date.now());
      // Samples still in the old one-row-a-sample tables move into blocks, once.
      if (hasLegacySamples(db)) convertLegacySamples(db);
      this.stmts = prepareAll(db);
      this.billing = new SqliteBilling(db);
      this.joining = new SqliteJoin(db);
      this.lending = new SqliteLent(db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
    this.tx = this.transactions(db, this.stmts);
    if (this.opts.backgroundCheckpointMs !== undefined) {
      this.checkpointer = await BackgroundCheckpointer.start(this.opts.path, this.opts.backgroundCheckpointMs, this.opts.log ?? (() => {}));
    }
  }

  /** The background checkpointer, when on (tests). */
  get backgroundCheckpointer(): BackgroundCheckpointer | null {
    return this.checkpointer;
  }

  async close(): Promise<void> {
    const checkpointer = this.checkpointer;
    this.checkpointer = null;
    // A failed background checkpoint changes nothing on disk that closing the database (which
    // checkpoints the WAL itself) does not redo, so its error must not stop the close.
    await checkpointer?.stop().catch(() => {});
    const db = this.db;
    this.db = null;
    this.stmts = null;
    this.billing = null;
    this.datasets = null;
    this.joining = null;
    this.lending = null;
    this.tx = null;
    this.sampleTiers = null;
    this.idempotency = null;
    this.lost = null;
    this.sweepStore = null;
    this.logRetentionStmts = null;
    this.shaped.clear();
    if (db) {
      // Refreshes the planner's statistics where they have drifted; cheap, and SQLite's advice.
      db.pragma('optimize');
      db.close();
    }
  }

  /**
   * The multi-row writes, each one transaction. IMMEDIATE: the write lock is taken at BEGIN,
   * so a second process on the file waits (busy_timeout) instead of failing to upgrade a read.
   */
  private transactions(db: Database.Database, s: Statements) {
    const tx = <A extends unknown[], R>(fn: (...args: A) => R) => db.transaction(fn).immediate;
    return {
      insertTasks: tx((tasks: readonly Task[]) => {
        for (const t of tasks) {
          // Translated here, where the offending id is known; the throw rolls the batch back.
          try {
            s.insertTask.run(taskToRow(t));
          } catch (err) {
            throw translate(err, `task ${t.id}`);
          }
        }
      }),
      writeTasks: tx((writes: readonly TaskWrite[]) => {
        const missed: string[] = [];
        for (const w of writes) {
          const res = s.writeTask.run({ ...taskToRow(w.task), expected: w.expectedVersion });
          if (res.changes === 0) missed.push(w.task.id);
        }
        return missed;
      }),
      appendLogs: tx((chunks: readonly LogChunk[]) => {
        for (const c of chunks) {
          try {
            s.insertLog.run({ taskId: c.taskId, attempt: c.attempt, stream: c.stream, seq: c.seq, at: c.at, data: c.data });
          } catch (err) {
            throw translate(err, `log chunk ${c.seq} of task ${c.taskId}`);
          }
        }
      }),
      appendEvents: tx((events: readonly Omit<PoolEvent, 'seq'>[]) =>
        events.map((e) => {
          const seq = Number(s.insertEvent.run(eventToRow(e)).lastInsertRowid);
          return { ...e, seq } as PoolEvent;
        }),
      ),
      // The parts run the single-purpose transactions above, which nest here as savepoints.
      commitBatch: tx((b: StateBatch): StateBatchResult => {
        const t = this.t();
        if (b.newTasks && b.newTasks.length > 0) t.insertTasks(b.newTasks);
        if (b.idempotencyKeys && b.idempotencyKeys.length > 0) this.keys().insert(b.idempotencyKeys);
        const lostTasks = b.tasks && b.tasks.length > 0 ? t.writeTasks(b.tasks) : [];
        for (const a of b.attempts ?? []) {
          try {
            s.upsertAttempt.run(attemptToRow(a));
          } catch (err) {
            throw translate(err, `attempt ${a.attempt} of task ${a.taskId}`);
          }
        }
        const lostReservations: string[] = [];
        for (const { reservation: r, expectedVersion } of b.reservations ?? []) {
          if (s.writeReservation.run({ ...reservationToRow(r), expected: expectedVersion }).changes !== 1) lostReservations.push(r.id);
        }
        for (const n of b.nodes ?? []) s.upsertNode.run(nodeToRow(n));
        for (const n of b.nodeStates ?? []) s.setNodeState.run({ id: n.id, state: n.state, heartbeatAt: n.heartbeatAt });
        if (b.samples && b.samples.length > 0) t.appendSamples(b.samples);
        if (b.lostAttempts) this.lostRecords().write(b.lostAttempts);
        const events = b.events && b.events.length > 0 ? t.appendEvents(b.events) : [];
        return { lostTasks, lostReservations, events };
      }),
      appendSamples: tx((samples: readonly UtilisationSample[]) => this.tiers().append(samples)),
    };
  }

  private s(): Statements {
    if (!this.stmts) throw new Error('SqliteStore: init() has not run, or the store is closed');
    return this.stmts;
  }

  private b(): SqliteBilling {
    if (!this.billing) throw new Error('SqliteStore: init() has not run, or the store is closed');
    return this.billing;
  }

  sweeps(): SweepStore {
    if (!this.db) throw new Error('SqliteStore: init() has not run, or the store is closed');
    return (this.sweepStore ??= new SqliteSweeps(this.db));
  }

  groups(): GroupStore {
    if (!this.db) throw new Error('SqliteStore: init() has not run, or the store is closed');
    return new SqliteGroups(this.db);
  }

  private tiers(): SqliteSamples {
    if (!this.db) throw new Error('SqliteStore: init() has not run, or the store is closed');
    return (this.sampleTiers ??= new SqliteSamples(this.db));
  }

  private lostRecords(): SqliteLostAttempts {
    if (!this.db) throw new Error('SqliteStore: init() has not run, or the store is closed');
    return (this.lost ??= new SqliteLostAttempts(this.db));
  }

  async listLostAttempts(): Promise<LostAttemptRecord[]> {
    return this.lostRecords().list();
  }

  private keys(): SqliteIdempotency {
    if (!this.db) throw new Error('SqliteStore: init() has not run, or the store is closed');
    return (this.idempotency ??= new SqliteIdempotency(this.db));
  }

  async getIdempotencyKey(scope: string, key: string, now: number): Promise<IdempotencyRecord | null> {
    return this.keys().get(scope, key, now);
  }

  async pruneIdempotencyKeys(now: number, limit = 10_000): Promise<number> {
    return this.keys().prune(now, limit);
  }

  private t(): NonNullable<SqliteStore['tx']> {
    if (!this.tx) throw new Error('SqliteStore: init() has not run, or the store is closed');
    return this.tx;
  }

  /** A statement for one filter shape; the SQL text is the cache key. */
  private shapedStatement(sql: string): Database.Statement<unknown[], unknown> {
    let st = this.shaped.get(sql);
    if (!st) {
      if (!this.db) throw new Error('SqliteStore: init() has not run, or the store is closed');
      st = this.db.prepare<unknown[], unknown>(sql);
      this.shaped.set(sql, st);
    }
    return st;
  }

  // ---- Nodes

  async upsertNode(node: NodeRecord): Promise<void> {
    this.s().upsertNode.run(nodeToRow(node));
  }

  async getNode(id: string): Promise<NodeRecord | null> {
    const row = this.s().getNode.get(id);
    return row ? rowToNode(row) : null;
  }

  async getNodeByName(name: string): Promise<NodeRecord | null> {
    const row = this.s().getNodeByName.get(name);
    return row ? rowToNode(row) : null;
  }

  async listNodes(): Promise<NodeRecord[]> {
    return this.s().listNodes.all().map(rowToNode);
  }

  async setNodeState(id: string, state: NodeState, heartbeatAt?: number): Promise<void> {
    this.s().setNodeState.run({ id, state, heartbeatAt: heartbeatAt ?? null });
  }

  // ---- Tasks

  async insertTasks(tasks: readonly Task[]): Promise<void> {
    if (tasks.length === 0) return;
    this.t().insertTasks(tasks);
  }

  async getTask(id: string): Promise<Task | null> {
    const row = this.s().getTask.get(id);
    return row ? rowToTask(row) : null;
  }

  async listTasks(filter: TaskFilter = {}): Promise<Task[]> {
    const where: string[] = [];
    const params: Params = {};
    this.filterClauses(filter, where, params);
    if (filter.before !== undefined) {
      const anchor = this.s().getTaskCreatedAt.get(filter.before);
      // An unknown cursor has nothing "before" it that we could name.
      if (!anchor) return [];
      // Keyset on (created_at, id): tasks created in the same millisecond (a gang) are
      // neither skipped nor repeated across pages.
      where.push('(created_at, id) < (@beforeAt, @beforeId)');
      params.beforeAt = anchor.created_at;
      params.beforeId = filter.before;
    }
    const limit = filter.limit === undefined ? DEFAULT_TASK_LIMIT : Math.max(0, Math.trunc(filter.limit));
    if (limit === 0) return [];
    params.limit = limit;
    const sql = `SELECT ${TASK_COLUMNS} FROM tasks${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, id DESC LIMIT @limit`;
    return (this.shapedStatement(sql).all(params) as TaskRow[]).map(rowToTask);
  }

  async countTasks(filter: Pick<TaskFilter, 'states' | 'tenant'> = {}): Promise<number> {
    const where: string[] = [];
    const params: Params = {};
    this.filterClauses({ states: filter.states, tenant: filter.tenant }, where, params);
    const sql = `SELECT COUNT(*) AS n FROM tasks${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
    return (this.shapedStatement(sql).get(params) as { n: number }).n;
  }

  /** Adds the WHERE terms of a filter. An empty `states` list means no state filter. */
  private filterClauses(f: TaskFilter, where: string[], params: Params): void {
    if (f.states && f.states.length > 0) {
      const names = [...new Set(f.states)].map((s, i) => {
        params[`s${i}`] = s;
        return `@s${i}`;
      });
      where.push(`state IN (${names.join(', ')})`);
    }
    if (f.name !== undefined && f.name !== '') {
      // instr, not LIKE: a name with % or _ matches literally, case-sensitively.
      where.push('instr(name, @name) > 0');
      params.name = f.name;
    }
    const eq: [keyof TaskFilter, string][] = [
      ['nodeId', 'node_id'],
      ['tenant', 'tenant'],
      ['vgpuId', 'vgpu_id'],
      ['gangId', 'gang_id'],
    ];
    for (const [key, column] of eq) {
      const v = f[key];
      if (typeof v === 'string') {
        where.push(`${column} = @${key}`);
        params[key] = v;
      }
    }
    // The column of the tasks_array index (migration task_array_column).
    if (f.arrayId !== undefined) {
      where.push('array_id = @arrayId');
      params.arrayId = f.arrayId;
    }
  }

  async listLiveTasks(): Promise<Task[]> {
    return this.s().liveTasks.all().map(rowToTask);
  }

  async writeTasks(writes: readonly TaskWrite[]): Promise<string[]> {
    if (writes.length === 0) return [];
    return this.t().writeTasks(writes);
  }

  async commitBatch(batch: StateBatch): Promise<StateBatchResult> {
    return this.t().commitBatch(batch);
  }

  // ---- Attempts

  async upsertAttempt(attempt: Attempt): Promise<void> {
    try {
      this.s().upsertAttempt.run(attemptToRow(attempt));
    } catch (err) {
      throw translate(err, `attempt ${attempt.attempt} of task ${attempt.taskId}`);
    }
  }

  async listAttempts(taskId: string): Promise<Attempt[]> {
    return this.s().listAttempts.all(taskId).map(rowToAttempt);
  }

  // ---- Logs

  async appendLogs(chunks: readonly LogChunk[]): Promise<void> {
    if (chunks.length === 0) return;
    this.t().appendLogs(chunks);
  }

  async readLogs(taskId: string, query: LogQuery = {}): Promise<LogPage> {
    const after = query.after !== undefined && Number.isFinite(query.after) ? Math.max(0, Math.trunc(query.after)) : 0;
    const rows = this.s().readLogs.all({
      taskId,
      after,
      attempt: query.attempt ?? null,
      stream: query.stream ?? null,
      limit: pageLimit(query.limit, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT),
    });
    const chunks = rows.map(rowToLog);
    return { chunks, next: chunks.length > 0 ? (chunks[chunks.length - 1]?.pos ?? after) : after };
  }

  async pruneLogs(finishedBefore: number, at: number, maxChunks = 10_000): Promise<{ tasks: number; chunks: number; more: boolean }> {
    return this.logRetention().prune(finishedBefore, at, maxChunks);
  }

  async logsPrunedAt(taskId: string): Promise<number | null> {
    return this.logRetention().prunedAt(taskId);
  }

  /** Prepared on first use: it names a column of migration 006, and tests open stores at older versions. */
  private logRetention(): { prune: (before: number, at: number, max: number) => { tasks: number; chunks: number; more: boolean }; prunedAt: (id: string) => number | null } {
    if (this.logRetentionStmts) return this.logRetentionStmts;
    const db = this.db;
    if (!db) throw new Error('SqliteStore: init() has not run, or the store is closed');
    // The WHERE repeats the partial index tasks_logs_due's, so SQLite can use it.
    const due = db.prepare<unknown[], { id: string }>(`SELECT id FROM tasks
      WHERE logs_pruned_at IS NULL AND state IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT') AND json_extract(doc, '$.finishedAt') < @before
      ORDER BY json_extract(doc, '$.finishedAt') LIMIT @limit`);
    const del = db.prepare('DELETE FROM log_chunks WHERE pos IN (SELECT pos FROM log_chunks WHERE task_id = @taskId ORDER BY pos LIMIT @limit)');
    const mark = db.prepare('UPDATE tasks SET logs_pruned_at = @at WHERE id = @taskId');
    const pruned = db.prepare<unknown[], { at: number | null }>('SELECT logs_pruned_at AS at FROM tasks WHERE id = ?');
    const TASKS_PER_STEP = 100;
    const prune = db
      .transaction((before: number, at: number, max: number) => {
        let chunks = 0;
        let tasks = 0;
        const ids = due.all({ before, limit: TASKS_PER_STEP });
        for (const { id } of ids) {
          const room = max - chunks;
          if (room <= 0) return { tasks, chunks, more: true };
          const n = del.run({ taskId: id, limit: room }).changes;
          chunks += n;
          // All of its chunks went (fewer than the room were left): the task is done.
          if (n < room) {
            mark.run({ at, taskId: id });
            tasks++;
          }
        }
        return { tasks, chunks, more: ids.length === TASKS_PER_STEP || chunks >= max };
      })
      .immediate;
    this.logRetentionStmts = { prune, prunedAt: (id) => pruned.get(id)?.at ?? null };
    return this.logRetentionStmts;
  }

  async logHighWater(taskId: string, attempt: number): Promise<Partial<Record<LogStream, number>>> {
    const out: Partial<Record<LogStream, number>> = {};
    for (const r of this.s().logHighWater.all(taskId, attempt)) out[r.stream as LogStream] = r.seq;
    return out;
  }

  // ---- Events

  async appendEvents(events: readonly Omit<PoolEvent, 'seq'>[]): Promise<PoolEvent[]> {
    if (events.length === 0) return [];
    return this.t().appendEvents(events);
  }

  async listEvents(after: number, limit?: number): Promise<PoolEvent[]> {
    return this.s()
      .listEvents.all(Math.max(0, Math.trunc(after) || 0), pageLimit(limit, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT))
      .map(rowToEvent);
  }

  async listTaskEvents(taskId: string, query: TaskEventQuery = {}): Promise<PoolEvent[]> {
    const after = query.after !== undefined && Number.isFinite(query.after) ? Math.max(0, Math.trunc(query.after)) : 0;
    return this.s()
      .listTaskEvents.all({ taskId, after, limit: pageLimit(query.limit, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT) })
      .map(rowToEvent);
  }

  // ---- vGPU reservations

  async insertReservation(r: VgpuReservation): Promise<void> {
    try {
      this.s().insertReservation.run(reservationToRow(r));
    } catch (err) {
      throw translate(err, `vGPU ${r.id}`);
    }
  }

  async getReservation(id: string): Promise<VgpuReservation | null> {
    const row = this.s().getReservation.get(id);
    return row ? rowToReservation(row) : null;
  }

  async listReservations(opts: { includeReleased?: boolean; tenant?: string } = {}): Promise<VgpuReservation[]> {
    return this.s()
      .listReservations.all({ includeReleased: opts.includeReleased ? 1 : 0, tenant: opts.tenant ?? null })
      .map(rowToReservation);
  }

  async writeReservation(r: VgpuReservation, expectedVersion: number): Promise<boolean> {
    const res = this.s().writeReservation.run({ ...reservationToRow(r), expected: expectedVersion });
    return res.changes === 1;
  }

  // ---- Join tokens and node credentials (join.ts)

  private j(): SqliteJoin {
    if (!this.joining) throw new Error('SqliteStore: init() has not run, or the store is closed');
    return this.joining;
  }

  async insertJoinToken(t: JoinTokenRecord): Promise<void> {
    this.j().insertJoinToken(t);
  }

  async listJoinTokens(): Promise<JoinTokenRecord[]> {
    return this.j().listJoinTokens();
  }

  async revokeJoinToken(id: string, at: number): Promise<boolean> {
    return this.j().revokeJoinToken(id, at);
  }

  async redeemJoinToken(hash: string, now: number): Promise<JoinRedeem> {
    return this.j().redeemJoinToken(hash, now);
  }

  async insertNodeCredential(c: NodeCredentialRecord): Promise<void> {
    this.j().insertNodeCredential(c);
  }

  async findNodeCredentialByHash(hash: string): Promise<NodeCredentialRecord | null> {
    return this.j().findNodeCredentialByHash(hash);
  }

  async revokeNodeCredentials(node: string, at: number, id?: string): Promise<number> {
    return this.j().revokeNodeCredentials(node, at, id);
  }

  // ---- Nodes providers lent (lent.ts)

  private lent(): SqliteLent {
    if (!this.lending) throw new Error('SqliteStore: init() has not run, or the store is closed');
    return this.lending;
  }

  async saveLentNode(n: LentNodeRecord): Promise<void> {
    this.lent().saveLentNode(n);
  }

  async listLentNodes(filter?: LentNodeFilter): Promise<LentNodeRecord[]> {
    return this.lent().listLentNodes(filter);
  }

  // ---- Tokens

  async insertToken(t: TokenRecord): Promise<void> {
    try {
      this.s().insertToken.run(tokenToRow(t));
    } catch (err) {
      throw translate(err, `token ${t.id}`);
    }
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | null> {
    const row = this.s().findToken.get(hash);
    return row ? rowToToken(row) : null;
  }

  async listTokens(): Promise<TokenRecord[]> {
    return this.s().listTokens.all().map(rowToToken);
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    return this.s().revokeToken.run(at, id).changes === 1;
  }

  async getToken(id: string): Promise<TokenRecord | null> {
    const row = this.s().getToken.get(id);
    return row ? rowToToken(row) : null;
  }

  // ---- Tenants, price book, promotions, ledger (billing.ts)

  async upsertTenant(t: TenantRecord): Promise<void> {
    this.b().upsertTenant(t);
  }

  async spendByTenantSince(since: number): Promise<Map<string, Micros>> {
    return this.b().spendByTenantSince(since);
  }

  async getTenant(name: string): Promise<TenantRecord | null> {
    return this.b().getTenant(name);
  }

  async deleteTenant(name: string, at: number): Promise<number | null> {
    return this.b().deleteTenant(name, at);
  }

  async listTenants(): Promise<TenantRecord[]> {
    return this.b().listTenants();
  }

  async getPriceBook(): Promise<PriceBook | null> {
    return this.b().getPriceBook();
  }

  async setPriceBook(book: PriceBook): Promise<void> {
    this.b().setPriceBook(book);
  }

  async insertPromotion(p: Promotion): Promise<void> {
    this.b().insertPromotion(p);
  }

  async getPromotion(name: string): Promise<Promotion | null> {
    return this.b().getPromotion(name);
  }

  async listPromotions(): Promise<Promotion[]> {
    return this.b().listPromotions();
  }

  async updatePromotion(p: Promotion): Promise<boolean> {
    return this.b().updatePromotion(p);
  }

  async openLedgerEntry(entry: LedgerEntry): Promise<void> {
    this.b().openLedgerEntry(entry);
  }

  async listLedgerEntries(filter?: LedgerFilter): Promise<LedgerEntry[]> {
    return this.b().listLedgerEntries(filter);
  }

  async settleLedger(s: LedgerSettlement): Promise<string[]> {
    return this.b().settleLedger(s);
  }

  async listPricedUsage(filter?: PricedUsageFilter): Promise<PricedLineRecord[]> {
    return this.b().listPricedUsage(filter);
  }

  async spendByTenant(): Promise<Map<string, Micros>> {
    return this.b().spendByTenant();
  }

  async getPromoSpent(): Promise<Map<string, Micros>> {
    return this.b().getPromoSpent();
  }

  // ---- Samples

  async appendSamples(samples: readonly UtilisationSample[]): Promise<void> {
    if (samples.length === 0) return;
    this.t().appendSamples(samples);
  }

  async listSamples(from: number, to: number, nodeId?: string): Promise<UtilisationSample[]> {
    return this.tiers().list(from, to, nodeId);
  }

  async compactSamples(upTo: number, opts: { maxMinutes?: number; maxHours?: number } = {}): Promise<SampleCompaction> {
    return this.tiers().compact(upTo, opts.maxMinutes, opts.maxHours);
  }

  async pruneSamples(tier: SampleTier, before: number, limit?: number): Promise<number> {
    return this.tiers().prune(tier, before, limit);
  }

  async listSampleRollups(tier: Exclude<SampleTier, 'raw'>, from: number, to: number, nodeId?: string): Promise<SampleRollup[]> {
    return this.tiers().rollups(tier, from, to, nodeId);
  }

  async readSampleSeries(q: SampleSeriesQuery): Promise<SampleSeries> {
    return this.tiers().read(q);
  }

  async sampleStorage(): Promise<SampleStorage> {
    return this.tiers().storage();
  }

  // ---- Meta

  async getMeta(key: string): Promise<string | null> {
    return this.s().getMeta.get(key)?.value ?? null;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.s().setMeta.run(key, value);
  }

  // ---- Datasets (datasets.ts)

  private d(): SqliteDatasets {
    if (!this.db) throw new Error('SqliteStore: init() has not run, or the store is closed');
    // Prepared on first use: a store opened on older migrations (tests of upgrades) has no tables for it.
    return (this.datasets ??= new SqliteDatasets(this.db));
  }
  insertDataset(d: DatasetInsert): Promise<Dataset> {
    return this.d().insertDataset(d);
  }
  getDataset(tenant: string, name: string, version?: number): Promise<Dataset | null> {
    return this.d().getDataset(tenant, name, version);
  }
  listDatasets(tenant?: string): Promise<DatasetSummary[]> {
    return this.d().listDatasets(tenant);
  }
  deleteDataset(tenant: string, name: string, version?: number): Promise<{ versions: number[]; orphanChunks: string[] } | null> {
    return this.d().deleteDataset(tenant, name, version);
  }
  chunkReferenced(tenant: string, hash: string): Promise<boolean> {
    return this.d().chunkReferenced(tenant, hash);
  }
  datasetBytes(tenant: string): Promise<number> {
    return this.d().datasetBytes(tenant);
  }
  getDatasetQuota(tenant: string): Promise<number | null> {
    return this.d().getDatasetQuota(tenant);
  }
  setDatasetQuota(tenant: string, maxBytes: number | null): Promise<void> {
    return this.d().setDatasetQuota(tenant, maxBytes);
  }
}
