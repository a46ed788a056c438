// Idempotency keys in SQLite (port.ts `IdempotencyRecord`): inserted inside commitBatch's
// transaction with the tasks they answer, so a key is stored if and only if its tasks are.
import type Database from 'better-sqlite3';
import { conflict } from '../../core/errors.js';
import type { IdempotencyRecord } from '../port.js';

interface Row {
  scope: string;
  key: string;
  request_hash: string;
  task_ids: string;
  created_at: number;
  expires_at: number;
}

const fromRow = (r: Row): IdempotencyRecord => ({
  scope: r.scope,
  key: r.key,
  requestHash: r.request_hash,
  taskIds: JSON.parse(r.task_ids) as string[],
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

export class SqliteIdempotency {
  private readonly insertStmt: Database.Statement;
  private readonly getStmt: Database.Statement<[string, string, number], Row>;
  private readonly pruneStmt: Database.Statement<[number, number]>;

  constructor(db: Database.Database) {
    // A key still live when this one is created stays (CONFLICT); an expired one is replaced.
    this.insertStmt = db.prepare(`INSERT INTO idempotency_keys (scope, key, request_hash, task_ids, created_at, expires_at)
      VALUES (@scope, @key, @request_hash, @task_ids, @created_at, @expires_at)
      ON CONFLICT (scope, key) DO UPDATE SET request_hash = excluded.request_hash, task_ids = excluded.task_ids,
        created_at = excluded.created_at, expires_at = excluded.expires_at
      WHERE idempotency_keys.expires_at <= excluded.created_at`);
    this.getStmt = db.prepare('SELECT * FROM idempotency_keys WHERE scope = ? AND key = ? AND expires_at > ?');
    this.pruneStmt = db.prepare('DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE expires_at <= ? LIMIT ?)');
  }

  /** Inside the caller's transaction: a live duplicate throws CONFLICT, which rolls it back. */
  insert(records: readonly IdempotencyRecord[]): void {
    for (const r of records) {
      const res = this.insertStmt.run({ scope: r.scope, key: r.key, request_hash: r.requestHash, task_ids: JSON.stringify(r.taskIds), created_at: r.createdAt, expires_at: r.expiresAt });
      if (res.changes === 0) throw conflict(`idempotency key ${JSON.stringify(r.key)} already exists`);
    }
  }

  get(scope: string, key: string, now: number): IdempotencyRecord | null {
    const row = this.getStmt.get(scope, key, now);
    return row ? fromRow(row) : null;
  }

  prune(now: number, limit: number): number {
    return this.pruneStmt.run(now, limit).changes;
  }
}
