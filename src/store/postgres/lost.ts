// LOST attempt records in PostgreSQL (lost-port.ts): written inside commitBatch's transaction.
import type { Task } from '../../core/types.js';
import type { LostAttemptRecord, LostAttemptWrites } from '../lost-port.js';
import type { Queryable } from './db.js';

interface Row {
  task_id: string;
  attempt: number;
  node_id: string;
  at: string | number;
  hold_until: string | number;
  awaited: boolean;
  task: string;
}

const PUT = `INSERT INTO lost_attempts (task_id, attempt, node_id, at, hold_until, awaited, task)
  VALUES ($1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT (task_id) DO UPDATE SET attempt = excluded.attempt, node_id = excluded.node_id, at = excluded.at,
    hold_until = excluded.hold_until, awaited = excluded.awaited, task = excluded.task`;

/** Inside the caller's transaction. */
export async function writeLostAttempts(c: Queryable, w: LostAttemptWrites): Promise<void> {
  for (const r of w.put ?? []) await c.query(PUT, [r.taskId, r.attempt, r.nodeId, r.at, r.holdUntil, r.awaited, JSON.stringify(r.task)]);
  if (w.delete && w.delete.length > 0) await c.query('DELETE FROM lost_attempts WHERE task_id = ANY($1::text[])', [w.delete]);
}

export async function listLostAttempts(c: Queryable): Promise<LostAttemptRecord[]> {
  const rows = (await c.query<Row>('SELECT * FROM lost_attempts')).rows;
  return rows.map((r) => ({
    taskId: r.task_id,
    attempt: r.attempt,
    nodeId: r.node_id,
    at: Number(r.at),
    holdUntil: Number(r.hold_until),
    awaited: r.awaited,
    task: JSON.parse(r.task) as Task,
  }));
}
