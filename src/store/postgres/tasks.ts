// Task rows on Postgres: bulk inserts, conditional writes, filtered keyset listing. Functions of
// a client, so that commitBatch runs them inside its transaction and the store outside one.
import type { Task } from '../../core/types.js';
import type { TaskFilter, TaskWrite } from '../port.js';
import { translate, type Queryable } from './db.js';
import { pgTaskToRow, rowToTask, type TaskRow } from './rows.js';

export const DEFAULT_TASK_LIMIT = 1000;
export const TASK_COLUMNS = 'id, state, gang_id, created_at, version, doc';
export const LIVE_STATES_SQL = "state IN ('PENDING', 'SCHEDULED', 'RUNNING', 'PREEMPTED', 'LOST')";

/** Every written column as one array each (taskColumns), so that a batch is one statement. */
const TYPES = ['text', 'text', 'text', 'text', 'text', 'text', 'text', 'bigint', 'int', 'int', 'text', 'bigint', 'text'];
/** The parameter after the column arrays. */
const NEXT = TYPES.length + 1;
const arrays = (first: number): string => TYPES.map((t, i) => `$${first + i}::${t}[]`).join(', ');
const ARRAYS = arrays(1);

/** The INSERT of a batch whose column arrays are the parameters from `$first` on (taskColumns). */
export const INSERT_TASKS = (first = 1): string => `INSERT INTO tasks (id, state, name, tenant, node_id, vgpu_id, gang_id, created_at, priority, version, doc, finished_at, array_id)
  SELECT * FROM unnest(${arrays(first)})`;

/** The translation of a failed insert: a duplicate id is CONFLICT naming it. */
export const taskInsertError = (err: unknown, tasks: readonly Task[]): unknown =>
  translate(err, (key) => `task ${key ?? tasks.map((t) => t.id).join(', ')}`);

export function taskColumns(tasks: readonly Task[]): unknown[][] {
  const cols: unknown[][] = Array.from({ length: TYPES.length }, () => []);
  for (const t of tasks) {
    const r = pgTaskToRow(t);
    const v = [r.id, r.state, r.name, r.tenant, r.node_id, r.vgpu_id, r.gang_id, r.created_at, r.priority, r.version, r.doc, r.finished_at, r.array_id];
    v.forEach((x, i) => cols[i]?.push(x));
  }
  return cols;
}

/** All or nothing (one statement); a duplicate id, stored or within the batch, is CONFLICT naming it. */
export async function insertTasks(c: Queryable, tasks: readonly Task[]): Promise<void> {
  try {
    await c.query(INSERT_TASKS(), taskColumns(tasks));
  } catch (err) {
    throw taskInsertError(err, tasks);
  }
}

const SET_ALL = `state = w.state, name = w.name, tenant = w.tenant, node_id = w.node_id, vgpu_id = w.vgpu_id,
  gang_id = w.gang_id, created_at = w.created_at, priority = w.priority, version = w.version, doc = w.doc, finished_at = w.finished_at, array_id = w.array_id`;
const W_COLUMNS = 'id, state, name, tenant, node_id, vgpu_id, gang_id, created_at, priority, version, doc, finished_at, array_id';

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
        FROM unnest(${ARRAYS}, $${NEXT}::int[]) AS w(${W_COLUMNS}, expected)
        WHERE t.id = w.id AND t.version = w.expected RETURNING t.id`,
      [...taskColumns(writes.map((w) => w.task)), writes.map((w) => w.expectedVersion)],
    );
    const done = new Set(res.rows.map((r) => r.id));
    return ids.filter((id) => !done.has(id));
  }
  const missed: string[] = [];
  for (const w of writes) {
    const res = await c.query(
      `UPDATE tasks AS t SET ${SET_ALL}
        FROM unnest(${ARRAYS}) AS w(${W_COLUMNS}) WHERE t.id = w.id AND t.version = $${NEXT}`,
      [...taskColumns([w.task]), w.expectedVersion],
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
