// Idempotency keys in PostgreSQL (port.ts `IdempotencyRecord`): inserted inside commitBatch's
// transaction with the tasks they answer, so a key is stored if and only if its tasks are.
import { conflict } from '../../core/errors.js';
import type { IdempotencyRecord } from '../port.js';
import type { Queryable } from './db.js';

interface Row {
  scope: string;
  key: string;
  request_hash: string;
  task_ids: string;
  created_at: string | number;
  expires_at: string | number;
}

// A key still live when this one is created stays (CONFLICT); an expired one is replaced.
const INSERT = `INSERT INTO idempotency_keys (scope, key, request_hash, task_ids, created_at, expires_at)
  VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (scope, key) DO UPDATE SET request_hash = excluded.request_hash, task_ids = excluded.task_ids,
    created_at = excluded.created_at, expires_at = excluded.expires_at
  WHERE idempotency_keys.expires_at <= excluded.created_at`;

/** The records as one JSON array (one parameter), for INSERT_KEYS. */
export function keyRecords(records: readonly IdempotencyRecord[]): string {
  return JSON.stringify(
    records.map((r) => ({ scope: r.scope, key: r.key, request_hash: r.requestHash, task_ids: JSON.stringify(r.taskIds), created_at: r.createdAt, expires_at: r.expiresAt })),
  );
}

/**
 * A CTE body inserting keyRecords from parameter `$p`, RETURNING the keys it took: a key that a
 * live record holds is not returned, and the statement's caller fails it with CONFLICT_IF_SHORT.
 */
export const INSERT_KEYS = (p: number): string => `INSERT INTO idempotency_keys (scope, key, request_hash, task_ids, created_at, expires_at)
  SELECT scope, key, request_hash, task_ids, created_at, expires_at
  FROM json_to_recordset($${p}::json) AS r(scope text, key text, request_hash text, task_ids text, created_at bigint, expires_at bigint)
  ON CONFLICT (scope, key) DO UPDATE SET request_hash = excluded.request_hash, task_ids = excluded.task_ids,
    created_at = excluded.created_at, expires_at = excluded.expires_at
  WHERE idempotency_keys.expires_at <= excluded.created_at
  RETURNING scope, key`;

/**
 * `value` when CTE `ins_keys` (INSERT_KEYS from parameter `$p`) took all `count` keys; otherwise
 * an error (migration 016's function, SQLSTATE FG409) that fails the whole statement, naming a
 * key it did not take. keyConflict turns that error into CONFLICT.
 */
export const CONFLICT_IF_SHORT = (value: string, count: number, p: number): string => `CASE WHEN (SELECT count(*) FROM ins_keys) = ${count} THEN ${value}
  ELSE fgpu_idempotency_conflict((SELECT string_agg(to_json(r.key)::text, ', ') FROM json_to_recordset($${p}::json) AS r(scope text, key text)
    WHERE (r.scope, r.key) NOT IN (SELECT scope, key FROM ins_keys))) END`;

/** CONFLICT for CONFLICT_IF_SHORT's error; anything else as it is. */
export function keyConflict(err: unknown): unknown {
  return (err as { code?: unknown }).code === 'FG409' ? conflict((err as Error).message) : err;
}

/** Inside the caller's transaction: a live duplicate throws CONFLICT, which rolls it back. */
export async function insertIdempotencyKeys(c: Queryable, records: readonly IdempotencyRecord[]): Promise<void> {
  for (const r of records) {
    const res = await c.query(INSERT, [r.scope, r.key, r.requestHash, JSON.stringify(r.taskIds), r.createdAt, r.expiresAt]);
    if (res.rowCount === 0) throw conflict(`idempotency key ${JSON.stringify(r.key)} already exists`);
  }
}

export async function getIdempotencyKey(c: Queryable, scope: string, key: string, now: number): Promise<IdempotencyRecord | null> {
  const row = (await c.query<Row>('SELECT * FROM idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at > $3', [scope, key, now])).rows[0];
  if (!row) return null;
  return {
    scope: row.scope,
    key: row.key,
    requestHash: row.request_hash,
    taskIds: JSON.parse(row.task_ids) as string[],
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}

export async function pruneIdempotencyKeys(c: Queryable, now: number, limit: number): Promise<number> {
  const res = await c.query(
    'DELETE FROM idempotency_keys WHERE (scope, key) IN (SELECT scope, key FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2)',
    [now, limit],
  );
  return res.rowCount ?? 0;
}
