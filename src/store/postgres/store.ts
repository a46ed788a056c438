// The Postgres adapter of the Store port, on node-postgres (pg 8): a connection pool, one
// transaction per multi-row write, every batch written as a few array-valued statements rather
// than a row at a time. Several servers may share the database (DESIGN.md "The control plane
// on many servers"): conditional writes re-check their version under PostgreSQL's row locks,
// and the numbers readers follow (events, log positions) become visible in order (events.ts).
// Areas live in their own files, as in the SQLite adapter: tasks.ts, events.ts, billing.ts,
// samples.ts; this file holds the rest and the delegation.
import pg from 'pg';
import type { Attempt, LogChunk, LogStream, NodeRecord, NodeState, PoolEvent, Task, VgpuReservation } from '../../core/types.js';
import type { LedgerEntry } from '../../core/pricing/ledger.js';
import type { Micros } from '../../core/pricing/money.js';
import type { PriceBook, Promotion } from '../../core/pricing/types.js';
import type { Migration } from '../migrations.js';
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
  StateBatch,
  StateBatchResult,
  Store,
  TaskEventQuery,
  TaskFilter,
  TaskWrite,
  TenantRecord,
  TokenRecord,
  UtilisationSample,
} from '../port.js';
import type { SampleTier } from '../sample-tiers.js';
import { redactStoreUrl } from '../select.js';
import { PgBilling } from './billing.js';
import { PgDatasets } from './datasets.js';
import type { Dataset, DatasetSummary } from '../../core/data/dataset.js';
import type { DatasetInsert } from '../datasets-port.js';
import { PgJoin } from './join.js';
import { PgLent } from './lent.js';
import type { LentNodeFilter, LentNodeRecord } from '../lent-port.js';
import type { JoinRedeem, JoinTokenRecord, NodeCredentialRecord } from '../join-port.js';
import type { LostAttemptRecord } from '../lost-port.js';
import { listLostAttempts, writeLostAttempts } from './lost.js';
import { inTx, makePool, translate, type Queryable } from './db.js';
import { CONFLICT_IF_SHORT, getIdempotencyKey, INSERT_KEYS, insertIdempotencyKeys, keyConflict, keyRecords, pruneIdempotencyKeys } from './idempotency.js';
import { appendEvents, appendLogs, EVENTS_CTE, eventParams, listEvents, listTaskEvents, numbered } from './events.js';
import { LOCK_CLASS, loadPgMigrations, migratePg } from './migrate.js';
import {
  attemptToRow,
  nodeToRow,
  reservationToRow,
  rowToAttempt,
  rowToLog,
  rowToNode,
  rowToReservation,
  rowToTask,
  rowToToken,
  tokenToRow,
  type AttemptRow,
  type NodeRow,
  type PgLogRow,
  type ReservationRow,
  type TaskRow,
  type TokenRow,
} from './rows.js';
import { PgSamples, type SampleStorage } from './samples.js';
import { PgSweeps } from './sweeps.js';
import type { SweepStore } from '../sweeps.js';
import { PgGroups } from './groups.js';
import type { GroupStore } from '../groups.js';
import { countTasks, INSERT_TASKS, insertTasks, LIVE_STATES_SQL, listTasks, TASK_COLUMNS, taskInsertError, taskRecords, writeTasks } from './tasks.js';

export interface PgStoreOptions {
  /** `postgres://user:password@host:port/database` (libpq's URL form, `?sslmode=…` included). */
  url: string;
  /** Keep FastGPU's tables in this schema (created when missing) instead of the default one. */
  schema?: string;
  /** Connections in the pool. Default 10. */
  maxConnections?: number;
  /** Override the migrations (tests); default: the numbered files in ./migrations/. */
  migrations?: readonly Migration[];
  /**
   * Refuse to open while another store opened with `exclusive` has this database (schema): what
   * a server sets, since each server runs its own control loop until several can share one
   * database under an elected leader (issue 10). Held by a session advisory lock on a
   * connection of its own, so a crashed server's lock goes with its session.
   */
  exclusive?: boolean;
  /**
   * Fence every write of this store with a leader's epoch (leader.ts, migration 007_fencing): its
   * connections carry `fastgpu.epoch`, and the database refuses their writes to the control
   * plane's tables (CONFLICT) once another server has taken over with a higher epoch.
   */
  fenceEpoch?: number;
}

/**
 * A fenced store's session settings: its epoch, and no transaction left open for long (a paused
 * leader must not hold the leadership row's share lock, which a takeover waits for).
 */
function fenceSettings(epoch: number): Record<string, string> {
  if (!Number.isSafeInteger(epoch) || epoch < 1) throw new Error(`PgStore: fenceEpoch must be a positive integer, not ${epoch}`);
  return { 'fastgpu.epoch': String(epoch), idle_in_transaction_session_timeout: '5000' };
}

export const DEFAULT_PAGE_LIMIT = 1000;
export const MAX_PAGE_LIMIT = 10_000;

/** Clamps a caller's page size to 1..max, with a default for absent or nonsense values. */
function pageLimit(limit: number | undefined, dflt: number, max: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return dflt;
  return Math.min(max, Math.max(1, Math.trunc(limit)));
}

const cursor = (after: number | undefined): number => (after !== undefined && Number.isFinite(after) ? Math.max(0, Math.trunc(after)) : 0);

const UPSERT_NODE = `INSERT INTO nodes (id, name, state, registered_at, last_heartbeat_at, doc) VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, state = excluded.state, registered_at = excluded.registered_at,
    last_heartbeat_at = excluded.last_heartbeat_at, doc = excluded.doc`;
const SET_NODE_STATE = 'UPDATE nodes SET state = $2, last_heartbeat_at = COALESCE($3, last_heartbeat_at) WHERE id = $1';
const UPSERT_ATTEMPT = `INSERT INTO attempts (task_id, attempt, node_id, doc) VALUES ($1, $2, $3, $4)
  ON CONFLICT (task_id, attempt) DO UPDATE SET node_id = excluded.node_id, doc = excluded.doc`;
const WRITE_RESERVATION = `UPDATE reservations SET tenant = $2, state = $3, created_at = $4, version = $5, doc = $6
  WHERE id = $1 AND version = $7`;

const nodeValues = (n: NodeRecord): unknown[] => {
  const r = nodeToRow(n);
  return [r.id, r.name, r.state, r.registered_at, r.last_heartbeat_at, r.doc];
};
const reservationValues = (v: VgpuReservation): unknown[] => {
  const r = reservationToRow(v);
  return [r.id, r.tenant, r.state, r.created_at, r.version, r.doc];
};

async function upsertAttempt(c: Queryable, a: Attempt): Promise<void> {
  const r = attemptToRow(a);
  try {
    await c.query(UPSERT_ATTEMPT, [r.task_id, r.attempt, r.node_id, r.doc]);
  } catch (err) {
    throw translate(err, `attempt ${a.attempt} of task ${a.taskId}`);
  }
}

/** A batch of new tasks, their events and idempotency keys only (a submit): nothing in it can be lost to a version. */
function isSubmit(b: StateBatch): boolean {
  const empty = (x: readonly unknown[] | undefined): boolean => x === undefined || x.length === 0;
  return empty(b.tasks) && empty(b.lostAttempts?.put) && empty(b.lostAttempts?.delete) && empty(b.attempts) && empty(b.reservations) && empty(b.nodes) && empty(b.nodeStates) && empty(b.samples);
}

/**
 * A submit in one statement, so one round trip: PostgreSQL runs a statement's data-modifying
 * CTEs all or none, in one transaction of their own. The submit path of every server, with or
 * without Idempotency-Keys: a key that a live record holds fails the statement (CONFLICT), so
 * nothing of the batch is stored, as when the keys went in first in a transaction of their own.
 */
async function submitBatch(c: Queryable, b: StateBatch): Promise<StateBatchResult> {
  const tasks = b.newTasks ?? [];
  const events = b.events ?? [];
  const keys = b.idempotencyKeys ?? [];
  const params: unknown[] = [];
  const ctes: string[] = [];
  let keysAt = 0;
  if (keys.length > 0) {
    keysAt = params.push(keyRecords(keys));
    ctes.push(`ins_keys AS (${INSERT_KEYS(keysAt)})`);
  }
  if (tasks.length > 0) ctes.push(`ins_tasks AS (${INSERT_TASKS(params.push(taskRecords(tasks)))})`);
  if (events.length > 0) {
    ctes.push(EVENTS_CTE(params.length + 1));
    params.push(...eventParams(events));
  }
  if (ctes.length === 0) return { lostTasks: [], lostReservations: [], events: [] };
  const base = events.length > 0 ? 'n.base' : 'NULL::bigint';
  const sql = `WITH ${ctes.join(', ')} SELECT ${keys.length > 0 ? CONFLICT_IF_SHORT(base, keys.length, keysAt) : base} AS base${events.length > 0 ? ' FROM n' : ''}`;
  try {
    const res = await c.query<{ base: number }>(sql, params);
    return { lostTasks: [], lostReservations: [], events: events.length > 0 ? numbered(events, res.rows[0]?.base) : [] };
  } catch (err) {
    throw keyConflict(taskInsertError(err, tasks));
  }
}

export class PgStore implements Store {
  private pool: pg.Pool | null = null;
  /** The connection holding the `exclusive` lock. */
  private owner: pg.Client | null = null;
  private billing: PgBilling | null = null;
  /** Datasets (datasets.ts). */
  private datasets: PgDatasets | null = null;
  private joining: PgJoin | null = null;
  /** Nodes providers lent (lent.ts). */
  private lending: PgLent | null = null;
  private samples: PgSamples | null = null;

  constructor(private readonly opts: PgStoreOptions) {}

  async init(): Promise<void> {
    if (this.pool) return;
    const pool = makePool({
      url: this.opts.url,
      ...(this.opts.schema !== undefined ? { schema: this.opts.schema } : {}),
      max: this.opts.maxConnections ?? 10,
      ...(this.opts.fenceEpoch !== undefined ? { settings: fenceSettings(this.opts.fenceEpoch) } : {}),
    });
    // An idle client that loses its server emits 'error' on the pool; without a listener
    // that would end the process. The next query reconnects (or fails and says why).
    pool.on('error', () => {});
    try {
      const c = await pool.connect().catch((err: unknown) => {
        throw new Error(`cannot connect to PostgreSQL at ${redactStoreUrl(this.opts.url)}: ${(err as Error).message}`, { cause: err });
      });
      try {
        await migratePg(c, this.opts.migrations ?? loadPgMigrations(), Date.now(), this.opts.schema);
      } finally {
        c.release();
      }
    } catch (err) {
      // Start-up failed with `err` (rethrown); closing the half-opened pool must not hide it.
      await pool.end().catch(() => {});
      throw err;
    }
    if (this.opts.exclusive === true) {
      try {
        this.owner = await this.takeExclusive();
      } catch (err) {
        // Start-up failed with `err` (rethrown); closing the half-opened pool must not hide it.
      await pool.end().catch(() => {});
        throw err;
      }
    }
    this.pool = pool;
    this.billing = new PgBilling(pool);
    this.datasets = new PgDatasets(pool);
    this.joining = new PgJoin(pool);
    this.lending = new PgLent(pool);
    this.samples = new PgSamples(pool);
  }

  async close(): Promise<void> {
    const pool = this.pool;
    const owner = this.owner;
    this.pool = null;
    this.owner = null;
    this.billing = null;
    this.datasets = null;
    this.joining = null;
    this.lending = null;
    this.samples = null;
    await pool?.end();
    // The owner connection only holds a lock the session's end releases; a close error is moot.
    await owner?.end().catch(() => {});
  }

  private async takeExclusive(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: this.opts.url });
    c.on('error', () => {});
    await c.connect();
    const key = `server:${this.opts.schema ?? ''}`;
    const got = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [LOCK_CLASS, key])).rows[0]?.ok === true;
    if (!got) {
      // Not the owner: this connection is dropped; a close error changes nothing.
      await c.end().catch(() => {});
      throw new Error(
        `another FastGPU server already uses ${redactStoreUrl(this.opts.url)}${this.opts.schema !== undefined ? ` (schema ${this.opts.schema})` : ''}; ` +
          'run one server per database until several can share one under an elected leader',
      );
    }
    return c;
  }

  private p(): pg.Pool {
    if (!this.pool) throw new Error('PgStore: init() has not run, or the store is closed');
    return this.pool;
  }

  private b(): PgBilling {
    if (!this.billing) throw new Error('PgStore: init() has not run, or the store is closed');
    return this.billing;
  }

  sweeps(): SweepStore {
    return new PgSweeps(this.p());
  }

  groups(): GroupStore {
    return new PgGroups(this.p());
  }

  private tiers(): PgSamples {
    if (!this.samples) throw new Error('PgStore: init() has not run, or the store is closed');
    return this.samples;
  }

  // ---- Nodes

  async upsertNode(node: NodeRecord): Promise<void> {
    await this.p().query(UPSERT_NODE, nodeValues(node));
  }

  async getNode(id: string): Promise<NodeRecord | null> {
    const row = (await this.p().query<NodeRow>('SELECT * FROM nodes WHERE id = $1', [id])).rows[0];
    return row ? rowToNode(row) : null;
  }

  async getNodeByName(name: string): Promise<NodeRecord | null> {
    // A name reused by a re-installed machine: the latest registration is the one that counts.
    const row = (await this.p().query<NodeRow>('SELECT * FROM nodes WHERE name = $1 ORDER BY registered_at DESC, id DESC LIMIT 1', [name])).rows[0];
    return row ? rowToNode(row) : null;
  }

  async listNodes(): Promise<NodeRecord[]> {
    return (await this.p().query<NodeRow>('SELECT * FROM nodes ORDER BY name, id')).rows.map(rowToNode);
  }

  async setNodeState(id: string, state: NodeState, heartbeatAt?: number): Promise<void> {
    await this.p().query(SET_NODE_STATE, [id, state, heartbeatAt ?? null]);
  }

  // ---- Tasks

  async insertTasks(tasks: readonly Task[]): Promise<void> {
    if (tasks.length === 0) return;
    await insertTasks(this.p(), tasks);
  }

  async getTask(id: string): Promise<Task | null> {
    const row = (await this.p().query<TaskRow>({ name: 'fgpu_get_task', text: `SELECT ${TASK_COLUMNS} FROM tasks WHERE id = $1`, values: [id] })).rows[0];
    return row ? rowToTask(row) : null;
  }

  async listTasks(filter: TaskFilter = {}): Promise<Task[]> {
    return listTasks(this.p(), filter);
  }

  async countTasks(filter: Pick<TaskFilter, 'states' | 'tenant'> = {}): Promise<number> {
    return countTasks(this.p(), filter);
  }

  async listLiveTasks(): Promise<Task[]> {
    const res = await this.p().query<TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE ${LIVE_STATES_SQL} ORDER BY created_at, id`);
    return res.rows.map(rowToTask);
  }

  async writeTasks(writes: readonly TaskWrite[]): Promise<string[]> {
    if (writes.length === 0) return [];
    // One UPDATE is atomic on its own; a batch naming a task twice needs a transaction.
    return inTx(this.p(), (c) => writeTasks(c, writes));
  }

  async commitBatch(b: StateBatch): Promise<StateBatchResult> {
    if (isSubmit(b)) return submitBatch(this.p(), b);
    return inTx(this.p(), async (c) => {
      if (b.newTasks && b.newTasks.length > 0) await insertTasks(c, b.newTasks);
      if (b.idempotencyKeys && b.idempotencyKeys.length > 0) await insertIdempotencyKeys(c, b.idempotencyKeys);
      const lostTasks = b.tasks && b.tasks.length > 0 ? await writeTasks(c, b.tasks) : [];
      for (const a of b.attempts ?? []) await upsertAttempt(c, a);
      const lostReservations: string[] = [];
      for (const { reservation: r, expectedVersion } of b.reservations ?? []) {
        if ((await c.query(WRITE_RESERVATION, [...reservationValues(r), expectedVersion])).rowCount !== 1) lostReservations.push(r.id);
      }
      for (const n of b.nodes ?? []) await c.query(UPSERT_NODE, nodeValues(n));
      for (const n of b.nodeStates ?? []) await c.query(SET_NODE_STATE, [n.id, n.state, n.heartbeatAt]);
      if (b.samples && b.samples.length > 0) await this.tiers().append(c, b.samples);
      if (b.lostAttempts) await writeLostAttempts(c, b.lostAttempts);
      // Last: taking event numbers locks their counter until the commit (events.ts).
      const events = b.events && b.events.length > 0 ? await appendEvents(c, b.events) : [];
      return { lostTasks, lostReservations, events };
    });
  }

  // ---- Attempts

  async upsertAttempt(attempt: Attempt): Promise<void> {
    await upsertAttempt(this.p(), attempt);
  }

  async listAttempts(taskId: string): Promise<Attempt[]> {
    return (await this.p().query<AttemptRow>('SELECT * FROM attempts WHERE task_id = $1 ORDER BY attempt', [taskId])).rows.map(rowToAttempt);
  }

  // ---- Logs

  async appendLogs(chunks: readonly LogChunk[]): Promise<void> {
    await appendLogs(this.p(), chunks);
  }

  async readLogs(taskId: string, query: LogQuery = {}): Promise<LogPage> {
    const after = cursor(query.after);
    const res = await this.p().query<PgLogRow>({
      name: 'fgpu_read_logs',
      text: `SELECT pos, task_id, attempt, stream, seq, at, data FROM log_chunks
        WHERE task_id = $1 AND pos > $2 AND ($3::int IS NULL OR attempt = $3) AND ($4::text IS NULL OR stream = $4)
        ORDER BY pos LIMIT $5`,
      values: [taskId, after, query.attempt ?? null, query.stream ?? null, pageLimit(query.limit, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT)],
    });
    const chunks = res.rows.map(rowToLog);
    return { chunks, next: chunks.length > 0 ? (chunks[chunks.length - 1]?.pos ?? after) : after };
  }

  async logHighWater(taskId: string, attempt: number): Promise<Partial<Record<LogStream, number>>> {
    const res = await this.p().query<{ stream: string; seq: number }>(
      'SELECT stream, MAX(seq) AS seq FROM log_chunks WHERE task_id = $1 AND attempt = $2 GROUP BY stream',
      [taskId, attempt],
    );
    const out: Partial<Record<LogStream, number>> = {};
    for (const r of res.rows) out[r.stream as LogStream] = r.seq;
    return out;
  }

  async pruneLogs(finishedBefore: number, at: number, maxChunks = 10_000): Promise<{ tasks: number; chunks: number; more: boolean }> {
    const TASKS_PER_STEP = 100;
    return inTx(this.p(), async (c) => {
      let chunks = 0;
      let tasks = 0;
      const ids = (
        await c.query<{ id: string }>(
          `SELECT id FROM tasks WHERE logs_pruned_at IS NULL AND state IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT')
            AND finished_at < $1 ORDER BY finished_at LIMIT $2`,
          [finishedBefore, TASKS_PER_STEP],
        )
      ).rows;
      for (const { id } of ids) {
        const room = maxChunks - chunks;
        if (room <= 0) return { tasks, chunks, more: true };
        const n = (await c.query('DELETE FROM log_chunks WHERE pos IN (SELECT pos FROM log_chunks WHERE task_id = $1 ORDER BY pos LIMIT $2)', [id, room])).rowCount ?? 0;
        chunks += n;
        // All of its chunks went (fewer than the room were left): the task is done.
        if (n < room) {
          await c.query('UPDATE tasks SET logs_pruned_at = $1 WHERE id = $2', [at, id]);
          tasks++;
        }
      }
      return { tasks, chunks, more: ids.length === TASKS_PER_STEP || chunks >= maxChunks };
    });
  }

  async logsPrunedAt(taskId: string): Promise<number | null> {
    return (await this.p().query<{ at: number | null }>('SELECT logs_pruned_at AS at FROM tasks WHERE id = $1', [taskId])).rows[0]?.at ?? null;
  }

  // ---- Events

  async appendEvents(events: readonly Omit<PoolEvent, 'seq'>[]): Promise<PoolEvent[]> {
    return appendEvents(this.p(), events);
  }

  async listEvents(after: number, limit?: number): Promise<PoolEvent[]> {
    return listEvents(this.p(), Math.max(0, Math.trunc(after) || 0), pageLimit(limit, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT));
  }

  async listTaskEvents(taskId: string, query: TaskEventQuery = {}): Promise<PoolEvent[]> {
    return listTaskEvents(this.p(), taskId, cursor(query.after), pageLimit(query.limit, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT));
  }

  // ---- vGPU reservations

  async insertReservation(r: VgpuReservation): Promise<void> {
    try {
      await this.p().query('INSERT INTO reservations (id, tenant, state, created_at, version, doc) VALUES ($1, $2, $3, $4, $5, $6)', reservationValues(r));
    } catch (err) {
      throw translate(err, `vGPU ${r.id}`);
    }
  }

  async getReservation(id: string): Promise<VgpuReservation | null> {
    const row = (await this.p().query<ReservationRow>('SELECT * FROM reservations WHERE id = $1', [id])).rows[0];
    return row ? rowToReservation(row) : null;
  }

  async listReservations(opts: { includeReleased?: boolean; tenant?: string } = {}): Promise<VgpuReservation[]> {
    const res = await this.p().query<ReservationRow>(
      `SELECT * FROM reservations WHERE ($1 OR state <> 'RELEASED') AND ($2::text IS NULL OR tenant = $2) ORDER BY created_at, id`,
      [opts.includeReleased === true, opts.tenant ?? null],
    );
    return res.rows.map(rowToReservation);
  }

  async writeReservation(r: VgpuReservation, expectedVersion: number): Promise<boolean> {
    return (await this.p().query(WRITE_RESERVATION, [...reservationValues(r), expectedVersion])).rowCount === 1;
  }

  // ---- Nodes providers lent (lent.ts)

  private lent(): PgLent {
    if (!this.lending) throw new Error('PgStore: init() has not run, or the store is closed');
    return this.lending;
  }

  saveLentNode(n: LentNodeRecord): Promise<void> {
    return this.lent().saveLentNode(n);
  }

  listLentNodes(filter?: LentNodeFilter): Promise<LentNodeRecord[]> {
    return this.lent().listLentNodes(filter);
  }

  // ---- Join tokens and node credentials (join.ts)

  private j(): PgJoin {
    if (!this.joining) throw new Error('PgStore: init() has not run, or the store is closed');
    return this.joining;
  }

  insertJoinToken(t: JoinTokenRecord): Promise<void> {
    return this.j().insertJoinToken(t);
  }

  listJoinTokens(): Promise<JoinTokenRecord[]> {
    return this.j().listJoinTokens();
  }

  revokeJoinToken(id: string, at: number): Promise<boolean> {
    return this.j().revokeJoinToken(id, at);
  }

  redeemJoinToken(hash: string, now: number): Promise<JoinRedeem> {
    return this.j().redeemJoinToken(hash, now);
  }

  insertNodeCredential(c: NodeCredentialRecord): Promise<void> {
    return this.j().insertNodeCredential(c);
  }

  findNodeCredentialByHash(hash: string): Promise<NodeCredentialRecord | null> {
    return this.j().findNodeCredentialByHash(hash);
  }

  revokeNodeCredentials(node: string, at: number, id?: string): Promise<number> {
    return this.j().revokeNodeCredentials(node, at, id);
  }

  // ---- Tokens

  async insertToken(t: TokenRecord): Promise<void> {
    const r = tokenToRow(t);
    try {
      await this.p().query('INSERT INTO tokens (id, hash, tenant, role, name, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        r.id,
        r.hash,
        r.tenant,
        r.role,
        r.name,
        r.created_at,
        r.revoked_at,
      ]);
    } catch (err) {
      throw translate(err, `token ${t.id}`);
    }
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | null> {
    const row = (await this.p().query<TokenRow>({ name: 'fgpu_find_token', text: 'SELECT * FROM tokens WHERE hash = $1', values: [hash] })).rows[0];
    return row ? rowToToken(row) : null;
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (await this.p().query<TokenRow>('SELECT * FROM tokens ORDER BY created_at, id')).rows.map(rowToToken);
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    // The first revocation time stands; revoking again still reports that the token exists.
    return (await this.p().query('UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2', [at, id])).rowCount === 1;
  }

  async getToken(id: string): Promise<TokenRecord | null> {
    const row = (await this.p().query<TokenRow>('SELECT * FROM tokens WHERE id = $1', [id])).rows[0];
    return row ? rowToToken(row) : null;
  }

  // ---- Tenants, price book, promotions, ledger (billing.ts)

  async upsertTenant(t: TenantRecord): Promise<void> {
    await this.b().upsertTenant(t);
  }

  async deleteTenant(name: string, at: number): Promise<number | null> {
    return this.b().deleteTenant(name, at);
  }

  async getTenant(name: string): Promise<TenantRecord | null> {
    return this.b().getTenant(name);
  }

  async listTenants(): Promise<TenantRecord[]> {
    return this.b().listTenants();
  }

  async getPriceBook(): Promise<PriceBook | null> {
    return this.b().getPriceBook();
  }

  async setPriceBook(book: PriceBook): Promise<void> {
    await this.b().setPriceBook(book);
  }

  async insertPromotion(p: Promotion): Promise<void> {
    await this.b().insertPromotion(p);
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
    await this.b().openLedgerEntry(entry);
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

  async spendByTenantSince(since: number): Promise<Map<string, Micros>> {
    return this.b().spendByTenantSince(since);
  }

  async getPromoSpent(): Promise<Map<string, Micros>> {
    return this.b().getPromoSpent();
  }

  // ---- Samples (samples.ts)

  async appendSamples(samples: readonly UtilisationSample[]): Promise<void> {
    await this.tiers().append(this.p(), samples);
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

  async getIdempotencyKey(scope: string, key: string, now: number): Promise<IdempotencyRecord | null> {
    return getIdempotencyKey(this.p(), scope, key, now);
  }

  async pruneIdempotencyKeys(now: number, limit = 10_000): Promise<number> {
    return pruneIdempotencyKeys(this.p(), now, limit);
  }

  async listLostAttempts(): Promise<LostAttemptRecord[]> {
    return listLostAttempts(this.p());
  }

  async getMeta(key: string): Promise<string | null> {
    return (await this.p().query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key])).rows[0]?.value ?? null;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.p().query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }

  // ---- Datasets (datasets.ts)

  private d(): PgDatasets {
    if (!this.datasets) throw new Error('PgStore: init() has not run, or the store is closed');
    return this.datasets;
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
