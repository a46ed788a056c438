// The SQLite side of group accounting (store/groups.ts). The array id is the column of the
// tasks_array index (migration task_array_column), so lookups by array use it.
import type Database from 'better-sqlite3';
import { chunks, type GroupKind, type GroupRef, type GroupStore, type GroupSummary } from '../groups.js';

const ARRAY_ID = 'array_id';

interface CountRow {
  gid: string;
  state: string | null;
  n: number;
  name: string;
  tenant: string;
  created: number;
  size: number;
  map: number;
}

export class SqliteGroups implements GroupStore {
  constructor(private readonly db: Database.Database) {}

  private marks(n: number): string {
    return Array.from({ length: n }, () => '?').join(', ');
  }

  async groupsOfTasks(taskIds: readonly string[]): Promise<Map<string, GroupRef>> {
    const out = new Map<string, GroupRef>();
    for (const part of chunks([...new Set(taskIds)])) {
      const arrays = this.db
        .prepare<unknown[], { id: string; gid: string; map: number }>(
          `SELECT id, ${ARRAY_ID} AS gid, json_extract(doc, '$.spec.env.FASTGPU_INPUT') IS NOT NULL AS map FROM tasks WHERE id IN (${this.marks(part.length)}) AND ${ARRAY_ID} IS NOT NULL`,
        )
        .all(...part);
      for (const r of arrays) out.set(r.id, { kind: r.map ? 'map' : 'array', id: r.gid });
      // A trial is counted with its sweep, whatever else it is.
      const trials = this.db.prepare<unknown[], { task_id: string; sweep_id: string }>(`SELECT task_id, sweep_id FROM sweep_trials WHERE task_id IN (${this.marks(part.length)})`).all(...part);
      for (const r of trials) out.set(r.task_id, { kind: 'sweep', id: r.sweep_id });
    }
    return out;
  }

  async summarizeGroups(ids: readonly string[]): Promise<GroupSummary[]> {
    const found = new Map<string, GroupSummary>();
    const add = (r: CountRow, kind: GroupKind): void => {
      let g = found.get(r.gid);
      if (!g) found.set(r.gid, (g = { kind, id: r.gid, name: r.name, tenant: r.tenant, createdAt: r.created, size: 0, counts: {} }));
      // Rows come per state: the group began with its first element.
      g.createdAt = Math.min(g.createdAt, r.created);
      if (r.state === null || r.n === 0) return;
      g.counts[r.state] = (g.counts[r.state] ?? 0) + r.n;
      if (kind === 'sweep') g.size += r.n;
      else g.size = Math.max(g.size, r.size);
      if (r.map) g.kind = 'map';
    };
    const unique = [...new Set(ids)];
    for (const part of chunks(unique.filter((i) => i.startsWith('a_')))) {
      const rows = this.db
        .prepare<unknown[], CountRow>(
          `SELECT ${ARRAY_ID} AS gid, state, COUNT(*) AS n, MIN(name) AS name, MIN(tenant) AS tenant, MIN(created_at) AS created,
             MAX(json_extract(doc, '$.array.size')) AS size, MAX(json_extract(doc, '$.spec.env.FASTGPU_INPUT') IS NOT NULL) AS map
           FROM tasks WHERE ${ARRAY_ID} IN (${this.marks(part.length)}) GROUP BY gid, state`,
        )
        .all(...part);
      for (const r of rows) add(r, 'array');
    }
    for (const part of chunks(unique.filter((i) => !i.startsWith('a_')))) {
      const rows = this.db
        .prepare<unknown[], CountRow>(
          `SELECT s.id AS gid, json_extract(t.doc, '$.state') AS state, COUNT(t.idx) AS n, json_extract(s.doc, '$.name') AS name, s.tenant AS tenant,
             s.created_at AS created, 0 AS size, 0 AS map
           FROM sweeps s LEFT JOIN sweep_trials t ON t.sweep_id = s.id WHERE s.id IN (${this.marks(part.length)}) GROUP BY s.id, json_extract(t.doc, '$.state')`,
        )
        .all(...part);
      for (const r of rows) add(r, 'sweep');
    }
    return unique.flatMap((id) => found.get(id) ?? []);
  }
}
