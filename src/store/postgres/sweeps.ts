// The Postgres side of sweeps (store/sweeps.ts), as ../sqlite/sweeps.ts. Metric appends take a
// transaction advisory lock per task so two servers appending for one task keep its cap.
import type pg from 'pg';
import { conflict } from '../../core/errors.js';
import type { MetricRecord, SweepFilter, SweepRecord, SweepStore, TrialRecord } from '../sweeps.js';
import type { TableCopy } from './copy-spec.js';
import { inTx, pgCode, UNIQUE_VIOLATION } from './db.js';
import { LOCK_CLASS } from './migrate.js';

const same = (...cols: string[]): Pick<TableCopy, 'columns' | 'select' | 'reads'> => ({ columns: cols, select: cols, reads: cols });

/** The sweep tables as `fastgpu admin migrate` copies them from SQLite (the same layout there). */
export const SWEEP_TABLE_COPIES: readonly TableCopy[] = [
  { table: 'sweeps', ...same('id', 'tenant', 'state', 'created_at', 'version', 'doc'), order: 'id' },
  { table: 'sweep_trials', ...same('sweep_id', 'idx', 'task_id', 'doc'), order: 'sweep_id, idx' },
  { table: 'task_metrics', ...same('task_id', 'seq', 'at', 'step', 'doc'), order: 'task_id, seq' },
];

interface SweepRow {
  doc: string;
  version: number;
}

const sweepDoc = (s: SweepRecord): string => JSON.stringify({ ...s, version: undefined });
const rowToSweep = (r: SweepRow): SweepRecord => ({ ...(JSON.parse(r.doc) as Omit<SweepRecord, 'version'>), version: r.version });

export class PgSweeps implements SweepStore {
  constructor(private readonly pool: pg.Pool) {}

  async insertSweep(s: SweepRecord): Promise<void> {
    try {
      await this.pool.query('INSERT INTO sweeps (id, tenant, state, created_at, version, doc) VALUES ($1, $2, $3, $4, $5, $6)', [s.id, s.tenant, s.state, s.createdAt, s.version, sweepDoc(s)]);
    } catch (e) {
      if (pgCode(e) === UNIQUE_VIOLATION) throw conflict(`sweep ${s.id} already exists`);
      throw e;
    }
  }

  async getSweep(id: string): Promise<SweepRecord | null> {
    const r = (await this.pool.query<SweepRow>('SELECT doc, version FROM sweeps WHERE id = $1', [id])).rows[0];
    return r ? rowToSweep(r) : null;
  }

  async listSweeps(filter: SweepFilter = {}): Promise<SweepRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.tenant !== undefined) {
      args.push(filter.tenant);
      where.push(`tenant = $${args.length}`);
    }
    if (filter.live === true) where.push("state = 'RUNNING'");
    const sql = `SELECT doc, version FROM sweeps${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC`;
    return (await this.pool.query<SweepRow>(sql, args)).rows.map(rowToSweep);
  }

  async writeSweep(s: SweepRecord, expectedVersion: number): Promise<boolean> {
    const r = await this.pool.query('UPDATE sweeps SET state = $1, version = $2, doc = $3 WHERE id = $4 AND version = $5', [s.state, s.version, sweepDoc(s), s.id, expectedVersion]);
    return r.rowCount === 1;
  }

  async putTrials(trials: readonly TrialRecord[]): Promise<void> {
    if (trials.length === 0) return;
    await this.pool.query(
      `INSERT INTO sweep_trials (sweep_id, idx, task_id, doc)
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[])
       ON CONFLICT (sweep_id, idx) DO UPDATE SET task_id = excluded.task_id, doc = excluded.doc`,
      [trials.map((t) => t.sweepId), trials.map((t) => t.index), trials.map((t) => t.taskId), trials.map((t) => JSON.stringify(t))],
    );
  }

  async listTrials(sweepId: string): Promise<TrialRecord[]> {
    return (await this.pool.query<{ doc: string }>('SELECT doc FROM sweep_trials WHERE sweep_id = $1 ORDER BY idx', [sweepId])).rows.map((r) => JSON.parse(r.doc) as TrialRecord);
  }

  async trialOfTask(taskId: string): Promise<TrialRecord | null> {
    const r = (await this.pool.query<{ doc: string }>('SELECT doc FROM sweep_trials WHERE task_id = $1', [taskId])).rows[0];
    return r ? (JSON.parse(r.doc) as TrialRecord) : null;
  }

  async appendMetrics(points: readonly MetricRecord[], maxPerTask: number): Promise<number> {
    if (points.length === 0) return 0;
    const byTask = new Map<string, MetricRecord[]>();
    for (const m of points) byTask.set(m.taskId, [...(byTask.get(m.taskId) ?? []), m]);
    return inTx(this.pool, async (c) => {
      let stored = 0;
      for (const [taskId, list] of [...byTask].sort(([a], [b]) => (a < b ? -1 : 1))) {
        await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, `metrics:${taskId}`]);
        const have = (await c.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM task_metrics WHERE task_id = $1', [taskId])).rows[0]!.n;
        const room = Math.max(0, maxPerTask - have);
        if (room === 0) continue;
        // Duplicates are skipped before the cap is applied, as the SQLite adapter does one by one.
        const r = await c.query(
          `INSERT INTO task_metrics (task_id, seq, at, step, doc)
           SELECT $1, m.seq, m.at, m.step, m.doc FROM unnest($2::int[], $3::bigint[], $4::float8[], $5::text[]) WITH ORDINALITY AS m(seq, at, step, doc, o)
           WHERE NOT EXISTS (SELECT 1 FROM task_metrics x WHERE x.task_id = $1 AND x.seq = m.seq)
           ORDER BY m.o LIMIT $6
           ON CONFLICT (task_id, seq) DO NOTHING`,
          [taskId, list.map((m) => m.seq), list.map((m) => m.at), list.map((m) => m.step), list.map((m) => JSON.stringify(m.values)), room],
        );
        stored += r.rowCount ?? 0;
      }
      return stored;
    });
  }

  async listMetrics(taskIds: readonly string[], afterSeq = -1): Promise<MetricRecord[]> {
    if (taskIds.length === 0) return [];
    const r = await this.pool.query<{ task_id: string; seq: number; at: number; step: number; doc: string }>(
      'SELECT task_id, seq, at, step, doc FROM task_metrics WHERE task_id = ANY($1::text[]) AND seq > $2 ORDER BY task_id, seq',
      [taskIds, afterSeq],
    );
    return r.rows.map((x) => ({ taskId: x.task_id, seq: x.seq, at: x.at, step: x.step, values: JSON.parse(x.doc) as Record<string, number> }));
  }

  async countMetrics(taskId: string): Promise<number> {
    return (await this.pool.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM task_metrics WHERE task_id = $1', [taskId])).rows[0]!.n;
  }
}
