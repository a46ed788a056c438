// The SQLite side of sweeps (store/sweeps.ts): prepared on first use, since the tables come from
// a late migration and tests open stores at older versions.
import type Database from 'better-sqlite3';
import { conflict } from '../../core/errors.js';
import type { MetricRecord, SweepFilter, SweepRecord, SweepStore, TrialRecord } from '../sweeps.js';

interface SweepRow {
  doc: string;
  version: number;
}

const sweepDoc = (s: SweepRecord): string => JSON.stringify({ ...s, version: undefined });
const rowToSweep = (r: SweepRow): SweepRecord => ({ ...(JSON.parse(r.doc) as Omit<SweepRecord, 'version'>), version: r.version });
const rowToMetric = (r: { task_id: string; seq: number; at: number; step: number; doc: string }): MetricRecord => ({
  taskId: r.task_id,
  seq: r.seq,
  at: r.at,
  step: r.step,
  values: JSON.parse(r.doc) as Record<string, number>,
});

export class SqliteSweeps implements SweepStore {
  private readonly q;
  private readonly putTrialsTx;
  private readonly appendTx;

  constructor(private readonly db: Database.Database) {
    const p = <R = unknown>(sql: string) => db.prepare<unknown[], R>(sql);
    this.q = {
      insert: p('INSERT INTO sweeps (id, tenant, state, created_at, version, doc) VALUES (?, ?, ?, ?, ?, ?)'),
      get: p<SweepRow>('SELECT doc, version FROM sweeps WHERE id = ?'),
      write: p('UPDATE sweeps SET state = ?, version = ?, doc = ? WHERE id = ? AND version = ?'),
      putTrial: p('INSERT INTO sweep_trials (sweep_id, idx, task_id, doc) VALUES (?, ?, ?, ?) ON CONFLICT (sweep_id, idx) DO UPDATE SET task_id = excluded.task_id, doc = excluded.doc'),
      trials: p<{ doc: string }>('SELECT doc FROM sweep_trials WHERE sweep_id = ? ORDER BY idx'),
      trialOfTask: p<{ doc: string }>('SELECT doc FROM sweep_trials WHERE task_id = ?'),
      count: p<{ n: number }>('SELECT COUNT(*) AS n FROM task_metrics WHERE task_id = ?'),
      insertMetric: p('INSERT INTO task_metrics (task_id, seq, at, step, doc) VALUES (?, ?, ?, ?, ?) ON CONFLICT (task_id, seq) DO NOTHING'),
    };
    this.putTrialsTx = db.transaction((trials: readonly TrialRecord[]) => {
      for (const t of trials) this.q.putTrial.run(t.sweepId, t.index, t.taskId, JSON.stringify(t));
    });
    this.appendTx = db.transaction((points: readonly MetricRecord[], maxPerTask: number): number => {
      const counts = new Map<string, number>();
      let stored = 0;
      for (const m of points) {
        const have = counts.get(m.taskId) ?? this.q.count.get(m.taskId)!.n;
        if (have >= maxPerTask) {
          counts.set(m.taskId, have);
          continue;
        }
        const n = this.q.insertMetric.run(m.taskId, m.seq, m.at, m.step, JSON.stringify(m.values)).changes;
        counts.set(m.taskId, have + n);
        stored += n;
      }
      return stored;
    });
  }

  async insertSweep(s: SweepRecord): Promise<void> {
    try {
      this.q.insert.run(s.id, s.tenant, s.state, s.createdAt, s.version, sweepDoc(s));
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw conflict(`sweep ${s.id} already exists`);
      throw e;
    }
  }

  async getSweep(id: string): Promise<SweepRecord | null> {
    const r = this.q.get.get(id);
    return r ? rowToSweep(r) : null;
  }

  async listSweeps(filter: SweepFilter = {}): Promise<SweepRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.tenant !== undefined) {
      where.push('tenant = ?');
      args.push(filter.tenant);
    }
    if (filter.live === true) where.push("state = 'RUNNING'");
    const sql = `SELECT doc, version FROM sweeps${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC`;
    return this.db.prepare<unknown[], SweepRow>(sql).all(...args).map(rowToSweep);
  }

  async writeSweep(s: SweepRecord, expectedVersion: number): Promise<boolean> {
    return this.q.write.run(s.state, s.version, sweepDoc(s), s.id, expectedVersion).changes === 1;
  }

  async putTrials(trials: readonly TrialRecord[]): Promise<void> {
    this.putTrialsTx(trials);
  }

  async listTrials(sweepId: string): Promise<TrialRecord[]> {
    return this.q.trials.all(sweepId).map((r) => JSON.parse(r.doc) as TrialRecord);
  }

  async trialOfTask(taskId: string): Promise<TrialRecord | null> {
    const r = this.q.trialOfTask.get(taskId);
    return r ? (JSON.parse(r.doc) as TrialRecord) : null;
  }

  async appendMetrics(points: readonly MetricRecord[], maxPerTask: number): Promise<number> {
    return points.length === 0 ? 0 : this.appendTx(points, maxPerTask);
  }

  async listMetrics(taskIds: readonly string[], afterSeq = -1): Promise<MetricRecord[]> {
    if (taskIds.length === 0) return [];
    // json_each keeps it one statement whatever the number of ids.
    return this.db
      .prepare<unknown[], { task_id: string; seq: number; at: number; step: number; doc: string }>(
        'SELECT task_id, seq, at, step, doc FROM task_metrics WHERE task_id IN (SELECT value FROM json_each(?)) AND seq > ? ORDER BY task_id, seq',
      )
      .all(JSON.stringify(taskIds), afterSeq)
      .map(rowToMetric);
  }

  async countMetrics(taskId: string): Promise<number> {
    return this.q.count.get(taskId)!.n;
  }
}
