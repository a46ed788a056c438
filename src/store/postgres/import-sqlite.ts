// `fastgpu admin migrate --from sqlite:PATH --to postgres://…`: copies a one-box pool's SQLite
// database into an empty Postgres one, table by table, keeping every key and number (event
// seqs and log positions included, so clients' cursors stay valid). Nothing is lost silently:
// a SQLite table or column this copy does not know (a newer schema) refuses the copy, naming
// it, and the row counts of every table are compared before the one transaction commits.
import Database from 'better-sqlite3';
import type pg from 'pg';
import type { Migration } from '../migrations.js';
import { SqliteStore } from '../sqlite/store.js';
import type { TableCopy } from './copy-spec.js';
import { inTx, makePool } from './db.js';
import { SAMPLE_TABLE_COPIES } from './samples.js';
import { SWEEP_TABLE_COPIES } from './sweeps.js';
import { PgStore } from './store.js';

const same = (...cols: string[]): Pick<TableCopy, 'columns' | 'select' | 'reads'> => ({ columns: cols, select: cols, reads: cols });

/** In foreign-key order: tasks before what references them. */
export const TABLE_COPIES: readonly TableCopy[] = [
  { table: 'meta', ...same('key', 'value'), order: 'key' },
  { table: 'nodes', ...same('id', 'name', 'state', 'registered_at', 'last_heartbeat_at', 'doc'), order: 'id' },
  {
    table: 'tasks',
    columns: ['id', 'state', 'name', 'tenant', 'node_id', 'vgpu_id', 'gang_id', 'created_at', 'priority', 'version', 'doc', 'logs_pruned_at', 'array_id', 'finished_at'],
    select: ['id', 'state', 'name', 'tenant', 'node_id', 'vgpu_id', 'gang_id', 'created_at', 'priority', 'version', 'doc', 'logs_pruned_at', 'array_id', "json_extract(doc, '$.finishedAt')"],
    reads: ['id', 'state', 'name', 'tenant', 'node_id', 'vgpu_id', 'gang_id', 'created_at', 'priority', 'version', 'doc', 'logs_pruned_at', 'array_id'],
    order: 'id',
  },
  { table: 'attempts', ...same('task_id', 'attempt', 'node_id', 'doc'), order: 'task_id, attempt' },
  { table: 'log_chunks', ...same('pos', 'task_id', 'attempt', 'stream', 'seq', 'at', 'data'), bytes: ['data'], order: 'pos' },
  { table: 'events', ...same('seq', 'at', 'type', 'task_id', 'node_id', 'vgpu_id', 'data'), order: 'seq' },
  { table: 'reservations', ...same('id', 'tenant', 'state', 'created_at', 'version', 'doc'), order: 'id' },
  { table: 'tokens', ...same('id', 'hash', 'tenant', 'role', 'name', 'created_at', 'revoked_at'), order: 'id' },
  { table: 'tenants', ...same('name', 'guarantee_milli', 'limit_milli', 'weight', 'budget', 'created_at', 'default_time_limit_ms'), order: 'name' },
  { table: 'price_book', ...same('id', 'doc'), order: 'id' },
  { table: 'promotions', ...same('name', 'from_ms', 'to_ms', 'doc'), order: 'name' },
  { table: 'ledger_entries', ...same('task_id', 'attempt', 'seq', 'tenant', 'to_ms', 'settled_to', 'doc'), order: 'task_id, attempt, seq' },
  {
    table: 'priced_lines',
    // `id` is only a row handle; Postgres numbers the lines again.
    ...same('tenant', 'task_id', 'attempt', 'gpu_model', 'gpu_milli', 'gpu_count', 'anchor', 'unit_price', 'from_ms', 'to_ms', 'list_amount', 'discount_amount', 'charged_amount', 'promotion'),
    reads: ['id', 'tenant', 'task_id', 'attempt', 'gpu_model', 'gpu_milli', 'gpu_count', 'anchor', 'unit_price', 'from_ms', 'to_ms', 'list_amount', 'discount_amount', 'charged_amount', 'promotion'],
    order: 'id',
  },
  { table: 'tenant_spend', ...same('tenant', 'charged'), order: 'tenant' },
  { table: 'promo_spent', ...same('name', 'spent'), order: 'name' },
  { table: 'idempotency_keys', ...same('scope', 'key', 'request_hash', 'task_ids', 'created_at', 'expires_at'), order: 'scope, key' },
  // LOST attempts (issue 9); `awaited` is 0/1 in SQLite, which Postgres reads as a boolean.
  { table: 'lost_attempts', ...same('task_id', 'attempt', 'node_id', 'at', 'hold_until', 'awaited', 'task'), order: 'task_id' },
  ...SAMPLE_TABLE_COPIES,
  // Datasets (issue 16): metadata only; chunk bytes stay in the server's blob folder.
  { table: 'datasets', ...same('tenant', 'name', 'version', 'bytes', 'file_count', 'chunk_count', 'created_at', 'task_id', 'manifest'), order: 'tenant, name, version' },
  { table: 'dataset_chunks', ...same('tenant', 'name', 'version', 'hash'), order: 'tenant, name, version, hash' },
  { table: 'dataset_names', ...same('tenant', 'name', 'last_version'), order: 'tenant, name' },
  { table: 'dataset_quotas', ...same('tenant', 'max_bytes'), order: 'tenant' },
  ...SWEEP_TABLE_COPIES,
  // Joining (issue 11): hashes only, as stored.
  { table: 'join_tokens', ...same('id', 'hash', 'labels', 'max_uses', 'uses', 'created_at', 'expires_at', 'revoked_at'), order: 'id' },
  { table: 'node_credentials', ...same('id', 'hash', 'node', 'join_token_id', 'created_at', 'expires_at', 'revoked_at'), order: 'id' },
  // Nodes providers lent (issue 12): their node-hours stay billable after the move.
  { table: 'lent_nodes', ...same('provider', 'provider_id', 'node_name', 'shape', 'hourly_micros', 'requested_at', 'joined_at', 'draining_at', 'released_at', 'release_reason'), order: 'provider, provider_id' },
];

/** SQLite's own bookkeeping, not data: the schema version is the target's own, AUTOINCREMENT's high-water marks become the counters. */
const SQLITE_BOOKKEEPING = new Set(['schema_migrations', 'sqlite_sequence', 'sqlite_stat1', 'sqlite_stat4']);

/** Numbers that continue where SQLite's stopped (AUTOINCREMENT never reuses one, even after deletes). */
const COUNTERS = [
  { name: 'events', table: 'events', column: 'seq' },
  { name: 'log_chunks', table: 'log_chunks', column: 'pos' },
] as const;

export interface CopyOptions {
  from: { path: string; migrations?: readonly Migration[] };
  to: { url: string; schema?: string; migrations?: readonly Migration[] };
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface CopyReport {
  /** Rows copied per table, in copy order. */
  tables: { table: string; rows: number }[];
}

type Value = string | number | bigint | Buffer | null;

/** SQLite's tables and columns that the copy does not account for: data that would be left behind. */
function unknownParts(db: Database.Database): string[] {
  const known = new Map(TABLE_COPIES.map((t) => [t.table, new Set(t.reads)]));
  const out: string[] = [];
  const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
  for (const { name } of tables) {
    if (SQLITE_BOOKKEEPING.has(name)) continue;
    const cols = known.get(name);
    if (!cols) {
      out.push(`table ${name}`);
      continue;
    }
    for (const c of db.prepare<[], { name: string }>(`PRAGMA table_info(${JSON.stringify(name)})`).all()) {
      if (!cols.has(c.name)) out.push(`column ${name}.${c.name}`);
    }
  }
  return out;
}

/** Integers as decimal text (they arrive as bigint), text as bytes where Postgres keeps bytes. */
function pgValue(v: unknown, bytes: boolean): Value {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (bytes && typeof v === 'string') return Buffer.from(v, 'utf8');
  return v as Value;
}

/**
 * Copies the SQLite database at `from.path` into the Postgres database `to.url`, which must hold
 * no FastGPU data yet. Both are migrated to this code's schema first. One read transaction on
 * SQLite (a consistent snapshot) and one write transaction on Postgres: all or nothing. Stop the
 * server that uses the SQLite file first: what it writes after the snapshot is not copied.
 */
export async function copySqliteToPostgres(o: CopyOptions): Promise<CopyReport> {
  const log = o.log ?? (() => {});
  // Bring both schemas to this code's version (and refuse newer ones), then work on raw tables.
  const src = new SqliteStore({ path: o.from.path, ...(o.from.migrations ? { migrations: o.from.migrations } : {}) });
  await src.init();
  await src.close();
  const dst = new PgStore({ url: o.to.url, ...(o.to.schema !== undefined ? { schema: o.to.schema } : {}), ...(o.to.migrations ? { migrations: o.to.migrations } : {}) });
  await dst.init();
  await dst.close();

  const db = new Database(o.from.path, { readonly: true, fileMustExist: true });
  const pool = makePool({ url: o.to.url, ...(o.to.schema !== undefined ? { schema: o.to.schema } : {}), max: 1 });
  pool.on('error', () => {});
  try {
    const unknown = unknownParts(db);
    if (unknown.length > 0) {
      throw new Error(`the SQLite database holds data this copy does not know, which would be lost: ${unknown.join(', ')}; use the FastGPU version that wrote it`);
    }
    db.exec('BEGIN'); // one snapshot for every table
    const report = await inTx(pool, async (c) => {
      // Nobody else writes this database while we fill it: a server started on it too early
      // waits rather than interleaving.
      await c.query(`LOCK TABLE ${TABLE_COPIES.map((t) => t.table).join(', ')} IN EXCLUSIVE MODE`);
      const busy: string[] = [];
      for (const t of TABLE_COPIES) {
        if ((await c.query(`SELECT 1 FROM ${t.table} LIMIT 1`)).rowCount) busy.push(t.table);
      }
      if (busy.length > 0) throw new Error(`the Postgres database already holds FastGPU data (${busy.join(', ')}); copy into an empty one`);
      const tables: CopyReport['tables'] = [];
      for (const t of TABLE_COPIES) {
        const rows = await copyTable(db, c, t);
        tables.push({ table: t.table, rows });
        log(`${t.table}: ${rows} rows`);
      }
      for (const k of COUNTERS) {
        const seqRow = db.prepare<[string], { seq: number }>('SELECT seq FROM sqlite_sequence WHERE name = ?').get(k.table);
        const max = (await c.query<{ m: number | null }>(`SELECT MAX(${k.column}) AS m FROM ${k.table}`)).rows[0]?.m ?? 0;
        await c.query('UPDATE counters SET value = $2 WHERE name = $1', [k.name, Math.max(max, seqRow?.seq ?? 0)]);
      }
      return { tables };
    });
    return report;
  } finally {
    if (db.inTransaction) db.exec('COMMIT');
    db.close();
    // Closing the pool after the copy: a failure to close loses nothing (the copy committed or failed above).
    await pool.end().catch(() => {});
  }
}

/** One table, in batches of rows; the rows Postgres holds afterwards must equal SQLite's count. */
async function copyTable(db: Database.Database, c: pg.PoolClient, t: TableCopy): Promise<number> {
  const bytes = new Set(t.bytes ?? []);
  const isBytes = t.columns.map((col) => bytes.has(col));
  const stmt = db.prepare(`SELECT ${t.select.join(', ')} FROM ${t.table} ORDER BY ${t.order}`).raw(true).safeIntegers(true);
  // Under PostgreSQL's 65,535 parameters a statement.
  const perBatch = Math.min(2000, Math.floor(60_000 / t.columns.length));
  const insert = (n: number): string => {
    const rows = Array.from({ length: n }, (_, r) => `(${t.columns.map((_, i) => `$${r * t.columns.length + i + 1}`).join(', ')})`);
    return `INSERT INTO ${t.table} (${t.columns.join(', ')}) VALUES ${rows.join(', ')}`;
  };
  let batch: Value[] = [];
  let n = 0;
  let copied = 0;
  const flush = async (): Promise<void> => {
    if (n === 0) return;
    copied += (await c.query(insert(n), batch)).rowCount ?? 0;
    batch = [];
    n = 0;
  };
  for (const row of stmt.iterate() as Iterable<unknown[]>) {
    row.forEach((v, i) => batch.push(pgValue(v, isBytes[i] === true)));
    if (++n === perBatch) await flush();
  }
  await flush();
  const want = Number(db.prepare<[], { n: bigint }>(`SELECT COUNT(*) AS n FROM ${t.table}`).safeIntegers(true).get()?.n ?? 0n);
  const have = (await c.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t.table}`)).rows[0]?.n ?? -1;
  if (copied !== want || have !== want) throw new Error(`copying ${t.table}: SQLite has ${want} rows, Postgres took ${copied} and holds ${have}; nothing was copied`);
  return want;
}
