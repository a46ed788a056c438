// Events and log chunks on Postgres: the two tails that readers follow by a number (events by
// `seq`, logs by `pos`), on any server. Numbers come from the `counters` row of each table,
// taken in the same statement that inserts the rows: the row stays locked until the
// transaction commits, so a later number can never be visible while an earlier one is not
// (with a SEQUENCE, a writer that commits late would be skipped by a reader already past it).
import type { LogChunk, PoolEvent } from '../../core/types.js';
import { translate, type Queryable } from './db.js';
import { eventToRow, rowToEvent, type EventRow } from './rows.js';

/**
 * Appends events and returns them with their seq, in the order given. Run inside commitBatch
 * it should be the last write: the counter's lock is then held only until the commit.
 */
export async function appendEvents(c: Queryable, events: readonly Omit<PoolEvent, 'seq'>[]): Promise<PoolEvent[]> {
  if (events.length === 0) return [];
  const res = await c.query<{ base: number }>(`WITH ${EVENTS_CTE(1)} SELECT base FROM n`, eventParams(events));
  return numbered(events, res.rows[0]?.base);
}

/**
 * Two CTEs (`n`, then the insert) that take `events.length` numbers and insert the events, from
 * parameter `$first` on (eventParams). `SELECT base FROM n` then gives the number before the first.
 */
export const EVENTS_CTE = (first: number): string => {
  const p = (i: number): string => `$${first + i}`;
  return `n AS (UPDATE counters SET value = value + ${p(0)} WHERE name = 'events' RETURNING value - ${p(0)} AS base),
    ins_events AS (INSERT INTO events (seq, at, type, task_id, node_id, vgpu_id, data)
      SELECT n.base + e.i, e.at, e.type, e.task_id, e.node_id, e.vgpu_id, e.data
      FROM n, ROWS FROM (json_to_recordset(${p(1)}::json) AS (at bigint, type text, task_id text, node_id text, vgpu_id text, data text))
        WITH ORDINALITY AS e(at, type, task_id, node_id, vgpu_id, data, i))`;
};

/** Their count, and the events as one JSON array of rows (one parameter, as the tasks' in tasks.ts). */
export function eventParams(events: readonly Omit<PoolEvent, 'seq'>[]): unknown[] {
  return [events.length, JSON.stringify(events.map(eventToRow))];
}

/** The events with their seq, from the number before the first that EVENTS_CTE returned. */
export function numbered(events: readonly Omit<PoolEvent, 'seq'>[], before: unknown): PoolEvent[] {
  // Number(): a client without the store's BIGINT parser (a caller's own) hands back text.
  const base = Number(before);
  if (before === undefined || before === null || !Number.isSafeInteger(base)) throw new Error("postgres: the 'events' counter is missing (schema not migrated?)");
  return events.map((e, i) => ({ ...e, seq: base + i + 1 }) as PoolEvent);
}

export async function listEvents(c: Queryable, after: number, limit: number): Promise<PoolEvent[]> {
  const res = await c.query<EventRow>({ name: 'fgpu_list_events', text: 'SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2', values: [after, limit] });
  return res.rows.map(rowToEvent);
}

export async function listTaskEvents(c: Queryable, taskId: string, after: number, limit: number): Promise<PoolEvent[]> {
  const res = await c.query<EventRow>({
    name: 'fgpu_list_task_events',
    text: 'SELECT * FROM events WHERE task_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
    values: [taskId, after, limit],
  });
  return res.rows.map(rowToEvent);
}

/**
 * Appends log chunks in one statement; a duplicate (task, attempt, stream, seq), stored or in
 * the batch, is ignored and the first copy stays. A chunk of an unknown task fails it all.
 */
export async function appendLogs(c: Queryable, chunks: readonly LogChunk[]): Promise<void> {
  if (chunks.length === 0) return;
  try {
    await c.query(
      `WITH n AS (UPDATE counters SET value = value + $1 WHERE name = 'log_chunks' RETURNING value - $1 AS base)
      INSERT INTO log_chunks (pos, task_id, attempt, stream, seq, at, data)
        SELECT n.base + l.i, l.task_id, l.attempt, l.stream, l.seq, l.at, l.data
        FROM n, unnest($2::text[], $3::int[], $4::text[], $5::bigint[], $6::bigint[], $7::bytea[])
          WITH ORDINALITY AS l(task_id, attempt, stream, seq, at, data, i)
        ORDER BY l.i
      ON CONFLICT (task_id, attempt, stream, seq) DO NOTHING`,
      [
        chunks.length,
        chunks.map((x) => x.taskId),
        chunks.map((x) => x.attempt),
        chunks.map((x) => x.stream),
        chunks.map((x) => x.seq),
        chunks.map((x) => x.at),
        chunks.map((x) => Buffer.from(x.data, 'utf8')),
      ],
    );
  } catch (err) {
    throw translate(err, (key) => `log chunks of task ${key ?? chunks[0]?.taskId ?? '?'}`);
  }
}
