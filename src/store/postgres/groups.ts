// The Postgres side of group accounting (store/groups.ts), as ../sqlite/groups.ts. The array id
// is the column of the tasks_array index (migration task_array_column).
import type pg from 'pg';
import { chunks, type GroupKind, type GroupRef, type GroupStore, type GroupSummary } from '../groups.js';

const ARRAY_ID = 'array_id';

interface CountRow {
  gid: string;
  state: string | null;
  n: string;
  name: string;
  tenant: string;
  created: string;
  size: string | null;
  map: boolean;
}

export class PgGroups implements GroupStore {
  constructor(private readonly pool: pg.Pool) {}

  async groupsOfTasks(taskIds: readonly string[]): Promise<Map<string, GroupRef>> {
    const out = new Map<string, GroupRef>();
    for (const part of chunks([...new Set(taskIds)])) {
      const arrays = await this.pool.query<{ id: string; gid: string; map: boolean }>(
        `SELECT id, ${ARRAY_ID} AS gid, ((doc::jsonb) #> '{spec,env,FASTGPU_INPUT}') IS NOT NULL AS map FROM tasks WHERE id = ANY($1::text[]) AND ${ARRAY_ID} IS NOT NULL`,
        [part],
      );
      for (const r of arrays.rows) out.set(r.id, { kind: r.map ? 'map' : 'array', id: r.gid });
      // A trial is counted with its sweep, whatever else it is.
      const trials = await this.pool.query<{ task_id: string; sweep_id: string }>('SELECT task_id, sweep_id FROM sweep_trials WHERE task_id = ANY($1::text[])', [part]);
      for (const r of trials.rows) out.set(r.task_id, { kind: 'sweep', id: r.sweep_id });
    }
    return out;
  }

  async summarizeGroups(ids: readonly string[]): Promise<GroupSummary[]> {
    const found = new Map<string, GroupSummary>();
    const add = (r: CountRow, kind: GroupKind): void => {
      let g = found.get(r.gid);
      if (!g) found.set(r.gid, (g = { kind, id: r.gid, name: r.name, tenant: r.tenant, createdAt: Number(r.created), size: 0, counts: {} }));
      const n = Number(r.n);
      // Rows come per state: the group began with its first element.
      g.createdAt = Math.min(g.createdAt, Number(r.created));
      if (r.state === null || n === 0) return;
      g.counts[r.state] = (g.counts[r.state] ?? 0) + n;
      if (kind === 'sweep') g.size += n;
      else g.size = Math.max(g.size, Number(r.size ?? 0));
      if (r.map) g.kind = 'map';
    };
    const unique = [...new Set(ids)];
    for (const part of chunks(unique.filter((i) => i.startsWith('a_')))) {
      const rows = await this.pool.query<CountRow>(
        `SELECT ${ARRAY_ID} AS gid, state, COUNT(*) AS n, MIN(name) AS name, MIN(tenant) AS tenant, MIN(created_at) AS created,
           MAX(((doc::jsonb) #>> '{array,size}')::int) AS size, bool_or(((doc::jsonb) #> '{spec,env,FASTGPU_INPUT}') IS NOT NULL) AS map
         FROM tasks WHERE ${ARRAY_ID} = ANY($1::text[]) GROUP BY 1, 2`,
        [part],
      );
      for (const r of rows.rows) add(r, 'array');
    }
    for (const part of chunks(unique.filter((i) => !i.startsWith('a_')))) {
      const rows = await this.pool.query<CountRow>(
        `SELECT s.id AS gid, (t.doc::jsonb) ->> 'state' AS state, COUNT(t.idx) AS n, (s.doc::jsonb) ->> 'name' AS name, s.tenant AS tenant,
           s.created_at AS created, NULL AS size, false AS map
         FROM sweeps s LEFT JOIN sweep_trials t ON t.sweep_id = s.id WHERE s.id = ANY($1::text[]) GROUP BY s.id, 2, 4`,
        [part],
      );
      for (const r of rows.rows) add(r, 'sweep');
    }
    return unique.flatMap((id) => found.get(id) ?? []);
  }
}
