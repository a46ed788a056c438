// The SQLite side of sample tiers: compaction of raw samples into minute and hour rollups,
// pruning by age in short batches, and bucketed reads done by GROUP BY in SQL. store.ts
// delegates to it, and builds it on first use: it names tables of migration 005, and tests open
// stores at older versions.
import type Database from 'better-sqlite3';
import type { SampleBucket, SampleCompaction, SamplePoint, SampleRollup, SampleSeries, SampleSeriesQuery } from '../port.js';
import {
  HOUR_MS,
  MINUTE_MS,
  floorTo,
  planSampleRead,
  planSources,
  type SampleTier,
  type TierCoverage,
} from '../sample-tiers.js';

type RollupTier = Exclude<SampleTier, 'raw'>;

export const DEFAULT_COMPACT_MINUTES = 10;
export const DEFAULT_COMPACT_HOURS = 2;
export const DEFAULT_PRUNE_LIMIT = 10_000;

const TABLE: Readonly<Record<SampleTier, string>> = { raw: 'samples', minute: 'samples_1m', hour: 'samples_1h' };

interface RollupRow {
  at: number;
  node_id: string;
  gpu_index: number;
  util_mean: number;
  memory_max_mib: number;
  allocated_mean: number;
  samples: number;
}

interface BucketRow {
  bucket: number;
  gpus: number;
  util: number;
  alloc: number;
}

interface PointRow {
  bucket: number;
  node_id: string;
  gpu_index: number;
  util: number;
  mem: number;
  alloc: number;
  n: number;
}

/**
 * Integer parameters. better-sqlite3 binds a JS number as REAL, and integer division (the bucket
 * arithmetic) needs INTEGER operands; ±Infinity (a tier with no rows yet) becomes the widest safe value.
 */
const int = (x: number): bigint => BigInt(Math.max(Number.MIN_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, Math.trunc(x))));

// A rollup's means are weighted by the samples behind it; raw rows weigh 1. The finer tier's
// rows are grouped by the start of their minute (hour); integer division on INTEGER `at`.
export const ROLL_MINUTES = `INSERT OR REPLACE INTO samples_1m (at, node_id, gpu_index, util_mean, memory_max_mib, allocated_mean, samples)
  SELECT (at / ${MINUTE_MS}) * ${MINUTE_MS}, node_id, gpu_index, AVG(util_percent), MAX(memory_used_mib), AVG(allocated_milli), COUNT(*)
  FROM samples WHERE at >= @start AND at < @stop GROUP BY 1, 2, 3`;
export const ROLL_HOURS = `INSERT OR REPLACE INTO samples_1h (at, node_id, gpu_index, util_mean, memory_max_mib, allocated_mean, samples)
  SELECT (at / ${HOUR_MS}) * ${HOUR_MS}, node_id, gpu_index, SUM(util_mean * samples) / SUM(samples), MAX(memory_max_mib),
    SUM(allocated_mean * samples) / SUM(samples), SUM(samples)
  FROM samples_1m WHERE at >= @start AND at < @stop GROUP BY 1, 2, 3`;

/**
 * The bucketed read: each tier's rows in its part of the time line (planSampleRead), one
 * GROUP BY over all of them. A rollup that starts before `from` but reaches into the range
 * counts in the first bucket. `* 1.0`: raw allocation is INTEGER and must not divide as one.
 */
export function readSql(byNode: boolean, ordered = true): string {
  const node = byNode ? ' AND node_id = @node' : '';
  return `SELECT @from + MAX(0, (at - @from) / @bucket) * @bucket AS bucket, node_id, gpu_index,
      SUM(util * n) * 1.0 / SUM(n) AS util, MAX(mem) AS mem, SUM(alloc * n) * 1.0 / SUM(n) AS alloc, SUM(n) AS n
    FROM (
      SELECT at, node_id, gpu_index, util_mean AS util, memory_max_mib AS mem, allocated_mean AS alloc, samples AS n
        FROM samples_1h WHERE at > @from - ${HOUR_MS} AND at <= @to AND at < @hourBefore${node}
      UNION ALL
      SELECT at, node_id, gpu_index, util_mean, memory_max_mib, allocated_mean, samples
        FROM samples_1m WHERE at > @from - ${MINUTE_MS} AND at <= @to AND at >= @hourBefore AND at < @rawFrom${node}
      UNION ALL
      SELECT at, node_id, gpu_index, util_percent, memory_used_mib, allocated_milli, 1
        FROM samples WHERE at >= @rawLo AND at <= @to${node}
    )
    GROUP BY 1, 2, 3${ordered ? ' ORDER BY 1, 2, 3' : ''}`;
}

/** Each bucket's totals over the per-GPU rows of readSql, summed in the store. */
export function poolSql(byNode: boolean): string {
  return `SELECT bucket, COUNT(*) AS gpus, AVG(util) AS util, SUM(ROUND(alloc)) AS alloc
    FROM (${readSql(byNode, false)}) GROUP BY bucket ORDER BY bucket`;
}

function prepareSamples(db: Database.Database) {
  const p = <R = unknown>(sql: string) => db.prepare<unknown[], R>(sql);
  // Oldest first by `at`: the samples_at index for raw rows, the key for rollups. Rollups have
  // no rowid, so a batch is named by its whole key.
  const prune = (tier: SampleTier) =>
    p(
      tier === 'raw'
        ? 'DELETE FROM samples WHERE rowid IN (SELECT rowid FROM samples WHERE at < @before ORDER BY at LIMIT @limit)'
        : `DELETE FROM ${TABLE[tier]} WHERE (at, node_id, gpu_index) IN
            (SELECT at, node_id, gpu_index FROM ${TABLE[tier]} WHERE at < @before ORDER BY at LIMIT @limit)`,
    );
  const rollups = (tier: RollupTier, byNode: boolean) =>
    p<RollupRow>(`SELECT * FROM ${TABLE[tier]} WHERE at >= @from AND at <= @to${byNode ? ' AND node_id = @node' : ''}
      ORDER BY at, node_id, gpu_index`);
  return {
    mark: p<{ through: number }>('SELECT through FROM sample_rollup_marks WHERE tier = ?'),
    setMark: p('INSERT INTO sample_rollup_marks (tier, through) VALUES (?, ?) ON CONFLICT (tier) DO UPDATE SET through = excluded.through'),
    // MIN over an index range: one seek each.
    firstRaw: p<{ at: number | null }>('SELECT MIN(at) AS at FROM samples WHERE at >= ?'),
    firstMinute: p<{ at: number | null }>('SELECT MIN(at) AS at FROM samples_1m WHERE at >= ?'),
    rollMinutes: p(ROLL_MINUTES),
    rollHours: p(ROLL_HOURS),
    prune: { raw: prune('raw'), minute: prune('minute'), hour: prune('hour') },
    rollups: {
      minute: [rollups('minute', false), rollups('minute', true)] as const,
      hour: [rollups('hour', false), rollups('hour', true)] as const,
    },
    read: [p<PointRow>(readSql(false)), p<PointRow>(readSql(true))] as const,
    pool: [p<BucketRow>(poolSql(false)), p<BucketRow>(poolSql(true))] as const,
  };
}

type Statements = ReturnType<typeof prepareSamples>;

interface TierStep {
  rows: number;
  more: boolean;
}

export class SqliteSamples {
  private readonly s: Statements;
  private readonly compactTx: (upTo: number, maxMinutes: number, maxHours: number) => SampleCompaction;
  private readonly pruneTx: (tier: SampleTier, before: number, limit: number) => number;
  private readonly readTx: (q: SampleSeriesQuery) => SampleSeries;

  constructor(db: Database.Database) {
    const s = (this.s = prepareSamples(db));
    // IMMEDIATE for the writes (the lock is taken at BEGIN, as in store.ts); the read is one
    // deferred transaction, so its coverage and its rows come from the same snapshot.
    this.compactTx = db.transaction((upTo: number, maxMinutes: number, maxHours: number): SampleCompaction => {
      const m = this.rollTier('minute', floorTo(upTo, MINUTE_MS), maxMinutes * MINUTE_MS);
      // Only hours whose every minute is rolled up.
      const minuteThrough = this.mark('minute') ?? -Infinity;
      const h = this.rollTier('hour', floorTo(Math.min(upTo, minuteThrough), HOUR_MS), maxHours * HOUR_MS);
      return { minutes: m.rows, hours: h.rows, more: m.more || h.more };
    }).immediate;
    this.pruneTx = db.transaction((tier: SampleTier, before: number, limit: number): number => {
      // Never past what the next tier holds: an old sample that compaction has not reached yet
      // (the server was down, say) is rolled up first, then pruned.
      const guard = tier === 'raw' ? this.mark('minute') : tier === 'minute' ? this.mark('hour') : Infinity;
      const bound = Math.min(before, guard ?? -Infinity);
      if (bound === -Infinity) return 0;
      return s.prune[tier].run({ before: int(bound), limit }).changes;
    }).immediate;
    this.readTx = db.transaction((q: SampleSeriesQuery): SampleSeries => {
      const coverage: TierCoverage = {
        minuteThrough: this.mark('minute'),
        hourThrough: this.mark('hour'),
        oldestRaw: s.firstRaw.get(int(-Infinity))?.at ?? null,
        oldestMinute: s.firstMinute.get(int(-Infinity))?.at ?? null,
      };
      const plan = planSampleRead(q.bucketMs, coverage);
      const params: Record<string, bigint | string> = {
        from: int(q.from),
        to: int(q.to),
        bucket: int(Math.max(1, q.bucketMs)),
        hourBefore: int(plan.hourBefore),
        rawFrom: int(plan.rawFrom),
        rawLo: int(Math.max(q.from, plan.rawFrom)),
      };
      if (q.nodeId !== undefined) params.node = q.nodeId;
      const sources = planSources(plan, q.from, q.to);
      if (q.detail === 'pool') {
        const buckets = s.pool[q.nodeId === undefined ? 0 : 1]
          .all(params)
          .map((r): SampleBucket => ({ at: r.bucket, gpus: r.gpus, utilPercent: r.util, allocatedMilli: r.alloc }));
        return { points: [], buckets, sources };
      }
      const rows = s.read[q.nodeId === undefined ? 0 : 1].all(params);
      const points = rows.map(
        (r): SamplePoint => ({ at: r.bucket, nodeId: r.node_id, gpuIndex: r.gpu_index, utilPercent: r.util, memoryUsedMiB: r.mem, allocatedMilli: r.alloc, samples: r.n }),
      );
      return { points, sources };
    });
  }

  compact(upTo: number, maxMinutes = DEFAULT_COMPACT_MINUTES, maxHours = DEFAULT_COMPACT_HOURS): SampleCompaction {
    return this.compactTx(upTo, Math.max(1, Math.trunc(maxMinutes)), Math.max(1, Math.trunc(maxHours)));
  }

  prune(tier: SampleTier, before: number, limit = DEFAULT_PRUNE_LIMIT): number {
    return this.pruneTx(tier, before, Math.max(1, Math.trunc(limit)));
  }

  read(q: SampleSeriesQuery): SampleSeries {
    return this.readTx(q);
  }

  rollups(tier: RollupTier, from: number, to: number, nodeId?: string): SampleRollup[] {
    const [all, byNode] = this.s.rollups[tier];
    const rows = nodeId === undefined ? all.all({ from, to }) : byNode.all({ from, to, node: nodeId });
    return rows.map((r) => ({
      at: r.at,
      nodeId: r.node_id,
      gpuIndex: r.gpu_index,
      utilPercent: r.util_mean,
      memoryUsedMiB: r.memory_max_mib,
      allocatedMilli: r.allocated_mean,
      samples: r.samples,
    }));
  }

  private mark(tier: RollupTier): number | null {
    return this.s.mark.get(tier)?.through ?? null;
  }

  /**
   * Rolls the finer tier up into `tier` from where the last step stopped (or the oldest finer
   * row) up to `end`, at most `span` of time; empty stretches are skipped, not walked.
   */
  private rollTier(tier: RollupTier, end: number, span: number): TierStep {
    const s = this.s;
    const through = this.mark(tier);
    // -Infinity: no minute is rolled up yet, so no hour can be.
    if (!Number.isFinite(end) || (through !== null && through >= end)) return { rows: 0, more: false };
    const unit = tier === 'minute' ? MINUTE_MS : HOUR_MS;
    const first = (tier === 'minute' ? s.firstRaw : s.firstMinute).get(int(through ?? -Infinity))?.at ?? null;
    if (first === null || first >= end) {
      // Nothing to roll before `end`: the mark moves on, so that hours of a pool gone quiet
      // still complete, and so that the next step starts from new samples.
      s.setMark.run(tier, end);
      return { rows: 0, more: false };
    }
    const start = Math.max(through ?? -Infinity, floorTo(first, unit));
    const stop = Math.min(end, start + span);
    const rows = (tier === 'minute' ? s.rollMinutes : s.rollHours).run({ start: int(start), stop: int(stop) }).changes;
    s.setMark.run(tier, stop);
    return { rows, more: stop < end };
  }
}
