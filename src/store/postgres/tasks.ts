// Task rows on Postgres: bulk inserts, conditional writes, filtered keyset listing. Functions of
// a client, so that commitBatch runs them inside its transaction and the store outside one.
import type { Task } from '../../core/types.js';
import type { TaskFilter, TaskWrite } from '../port.js';
import { translate, type Queryable } from './db.js';
import { pgTaskToRow, rowToTask, type TaskRow } from './rows.js';

export const DEFAULT_TASK_LIMIT = 1000;
export const TASK_COLUMNS = 'id, state, gang_id, created_at, version, doc';
export const LIVE_STATES_SQL = "state IN ('PENDING', 'SCHEDULED', 'RUNNING', 'PREEMPTED', 'LOST')";

/**
 * A batch of tasks travels as one JSON parameter (taskRecords) that json_to_recordset turns back
 * into rows, so a batch is one statement. pg's own encoding of one text[] per column cost 0.6 s
 * of CPU for the 10,000 tasks of an array (it escapes every quote of every doc, element by
 * element); JSON.stringify does the whole batch in a few tens of milliseconds.
 */
const RECORD = 'id text, state text, name text, tenant text, node_id text, vgpu_id text, gang_id text, created_at bigint, priority int, version int, doc text, finished_at bigint, array_id text';
const COLUMNS = 'id, state, name, tenant, node_id, vgpu_id, gang_id, created_at, priority, version, doc, finished_at, array_id';

/** The INSERT of a batch whose records (taskRecords) are parameter `$p`. */
export const INSERT_TASKS = (p = 1): string => `INSERT INTO tasks (${COLUMNS}) SELECT ${COLUMNS} FROM json_to_recordset($${p}::json) AS r(${RECORD})`;

/** The translation of a failed insert: a duplicate id is CONFLICT naming it. */
export const taskInsertError = (err: unknown, tasks: readonly Task[]): unknown =>
  translate(err, (key) => `task ${key ?? tasks.map((t) => t.id).join(', ')}`);

/** The tasks' rows as one JSON array of records (RECORD's fields), `extra` added to each. */
export function taskRecords(tasks: readonly Task[], extra?: (i: number) => Record<string, number>): string {
  return JSON.stringify(tasks.map((t, i) => (extra ? { ...pgTaskToRow(t), ...extra(i) } : pgTaskToRow(t))));
}

/** All or nothing (one statement); a duplicate id, stored or within the batch, is CONFLICT naming it. */
export async function insertTasks(c: Queryable, tasks: readonly Task[]): Promise<void> {
  try {
    await c.query(INSERT_TASKS(), [taskRecords(tasks)]);
  } catch (err) {
    throw taskInsertError(err, tasks);
  }
}

const SET_ALL = `state = w.state, name = w.name, tenant = w.tenant, node_id = w.node_id, vgpu_id = w.vgpu_id,
  gang_id = w.gang_id, created_at = w.created_at, priority = w.priority, version = w.version, doc = w.doc, finished_at = w.finished_at, array_id = w.array_id`;

/**
 * Conditional writes; returns the ids whose stored version differed. Distinct ids go in one
 * UPDATE; a batch naming a task twice runs write by write, so the second sees the first.
 */
export async function writeTasks(c: Queryable, writes: readonly TaskWrite[]): Promise<string[]> {
  if (writes.length === 0) return [];
  const ids = writes.map((w) => w.task.id);
  if (new Set(ids).size === ids.length) {
    const res = await c.query<{ id: string }>(
      `UPDATE tasks AS t SET ${SET_ALL}
        FROM json_to_recordset($1::json) AS w(${RECORD}, expected int)
        WHERE t.id = w.id AND t.version = w.expected RETURNING t.id`,
      [taskRecords(writes.map((w) => w.task), (i) => ({ expected: writes[i]!.expectedVersion }))],
    );
    const done = new Set(res.rows.map((r) => r.id));
    return ids.filter((id) => !done.has(id));
  }
  const missed: string[] = [];
  for (const w of writes) {
    const res = await c.query(
      `UPDATE tasks AS t SET ${SET_ALL}
        FROM json_to_recordset($1::json) AS w(${RECORD}) WHERE t.id = w.id AND t.version = $2`,
      [taskRecords([w.task]), w.expectedVersion],
    );
    if (res.rowCount === 0) missed.push(w.task.id);
  }
  return missed;
}

/** The WHERE terms of a filter ($n numbered after `params`). An empty `states` list means any state. */
export function filterClauses(f: TaskFilter, params: unknown[]): string[] {
  const where: string[] = [];
  const p = (v: unknown): string => {
    params.push(v);
    return `$${params.length}`;
  };
  if (f.states && f.states.length > 0) where.push(`state = ANY(${p([...new Set(f.states)])}::text[])`);
  // strpos, not LIKE: a name with % or _ matches literally, case-sensitively.
  if (f.name !== undefined && f.name !== '') where.push(`strpos(name, ${p(f.name)}) > 0`);
  const eq: [keyof TaskFilter, string][] = [
    ['nodeId', 'node_id'],
    ['tenant', 'tenant'],
    ['vgpuId', 'vgpu_id'],
    ['gangId', 'gang_id'],
  ];
  for (const [key, column] of eq) {
    const v = f[key];
    if (typeof v === 'string') where.push(`${column} = ${p(v)}`);
  }
  // The column of the tasks_array index (migration task_array_column).
  if (f.arrayId !== undefined) where.push(`array_id = ${p(f.arrayId)}`);
  return where;
}

export async function listTasks(c: Queryable, filter: TaskFilter): Promise<Task[]> {
  const params: unknown[] = [];
  const where = filterClauses(filter, params);
  if (filter.before !== undefined) {
    const anchor = (await c.query<{ created_at: number }>('SELECT created_at FROM tasks WHERE id = $1', [filter.before])).rows[0];
    // An unknown cursor has nothing "before" it that we could name.
    if (!anchor) return [];
    // Keyset on (created_at, id): tasks created in the same millisecond (a gang) are
    // neither skipped nor repeated across pages.
    params.push(anchor.created_at, filter.before);
    where.push(`(created_at, id) < ($${params.length - 1}::bigint, $${params.length}::text)`);
  }
  const limit = filter.limit === undefined ? DEFAULT_TASK_LIMIT : Math.max(0, Math.trunc(filter.limit));
  if (limit === 0) return [];
  params.push(limit);
  const sql = `SELECT ${TASK_COLUMNS} FROM tasks${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
    ORDER BY created_at DESC, id DESC LIMIT $${params.length}`;
  return (await c.query<TaskRow>(sql, params)).rows.map(rowToTask);
}

export async function countTasks(c: Queryable, filter: Pick<TaskFilter, 'states' | 'tenant'>): Promise<number> {
  const params: unknown[] = [];
  const where = filterClauses({ states: filter.states, tenant: filter.tenant }, params);
  const sql = `SELECT COUNT(*) AS n FROM tasks${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
  return (await c.query<{ n: number }>(sql, params)).rows[0]?.n ?? 0;
}
