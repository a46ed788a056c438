// Utilisation samples on Postgres, in today's layout (one row per sample; per-GPU minute and
// hour rollups; how far compaction got), the SQL of ../sqlite/samples.ts ported. Everything
// about samples is in this file and migration 002, so the compressed block layout of issue 24
// replaces them here and nowhere else. Compaction and pruning take a transaction advisory lock:
// two servers compacting at once would otherwise both read a mark and roll the same minutes.
import type pg from 'pg';
import type {
  SampleBucket,
  SampleCompaction,
  SamplePoint,
  SampleRollup,
  SampleSeries,
  SampleSeriesQuery,
  UtilisationSample,
} from '../port.js';
import { HOUR_MS, MINUTE_MS, floorTo, planSampleRead, planSources, type SampleTier, type TierCoverage } from '../sample-tiers.js';
import type { TableCopy } from './copy-spec.js';
import { inTx, type Queryable } from './db.js';
import { LOCK_CLASS } from './migrate.js';

type RollupTier = Exclude<SampleTier, 'raw'>;

export const DEFAULT_COMPACT_MINUTES = 10;
export const DEFAULT_COMPACT_HOURS = 2;
export const DEFAULT_PRUNE_LIMIT = 10_000;

const TABLE: Readonly<Record<SampleTier, string>> = { raw: 'samples', minute: 'samples_1m', hour: 'samples_1h' };

const ROLLUP_COLUMNS = ['at', 'node_id', 'gpu_index', 'util_mean', 'memory_max_mib', 'allocated_mean', 'samples'];
const RAW_COLUMNS = ['at', 'node_id', 'gpu_index', 'util_percent', 'memory_used_mib', 'allocated_milli'];

/** The sample tables as `fastgpu admin migrate` copies them from SQLite (the same layout there). */
export const SAMPLE_TABLE_COPIES: readonly TableCopy[] = [
  { table: 'samples', columns: RAW_COLUMNS, select: RAW_COLUMNS, reads: RAW_COLUMNS, order: 'at, node_id, gpu_index' },
  { table: 'samples_1m', columns: ROLLUP_COLUMNS, select: ROLLUP_COLUMNS, reads: ROLLUP_COLUMNS, order: 'at, node_id, gpu_index' },
  { table: 'samples_1h', columns: ROLLUP_COLUMNS, select: ROLLUP_COLUMNS, reads: ROLLUP_COLUMNS, order: 'at, node_id, gpu_index' },
  { table: 'sample_rollup_marks', columns: ['tier', 'through'], select: ['tier', 'through'], reads: ['tier', 'through'], order: 'tier' },
];

/** A bound for a BIGINT parameter: whole, and ±Infinity (a tier with no rows yet) as the widest safe value. */
const int = (x: number): number => Math.max(Number.MIN_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, Math.trunc(x)));

interface SampleRow {
  at: number;
  node_id: string;
  gpu_index: number;
  util_percent: number;
  memory_used_mib: number;
  allocated_milli: number;
}

interface RollupRow {
  at: number;
  node_id: string;
  gpu_index: number;
  util_mean: number;
  memory_max_mib: number;
  allocated_mean: number;
  samples: number;
}

// Means weighted by the samples behind each row; raw rows weigh 1. `at` is BIGINT, so `/` is
// integer division, as in SQLite.
const UPSERT = `ON CONFLICT (at, node_id, gpu_index) DO UPDATE SET util_mean = excluded.util_mean,
  memory_max_mib = excluded.memory_max_mib, allocated_mean = excluded.allocated_mean, samples = excluded.samples`;
const ROLL_MINUTES = `INSERT INTO samples_1m (at, node_id, gpu_index, util_mean, memory_max_mib, allocated_mean, samples)
  SELECT (at / ${MINUTE_MS}) * ${MINUTE_MS}, node_id, gpu_index, AVG(util_percent), MAX(memory_used_mib), AVG(allocated_milli::float8), COUNT(*)
  FROM samples WHERE at >= $1 AND at < $2 GROUP BY 1, 2, 3 ${UPSERT}`;
const ROLL_HOURS = `INSERT INTO samples_1h (at, node_id, gpu_index, util_mean, memory_max_mib, allocated_mean, samples)
  SELECT (at / ${HOUR_MS}) * ${HOUR_MS}, node_id, gpu_index, SUM(util_mean * samples) / SUM(samples)::float8, MAX(memory_max_mib),
    SUM(allocated_mean * samples) / SUM(samples)::float8, SUM(samples)
  FROM samples_1m WHERE at >= $1 AND at < $2 GROUP BY 1, 2, 3 ${UPSERT}`;

/**
 * The bucketed read, as SQLite's readSql: each tier's rows in its part of the time line, one
 * GROUP BY over all of them. $1 from, $2 to, $3 bucket, $4 hourBefore, $5 rawFrom, $6 rawLo, $7 node.
 */
function readSql(byNode: boolean, ordered = true): string {
  const node = byNode ? ' AND node_id = $7' : '';
  return `SELECT $1::bigint + GREATEST(0, (at - $1::bigint) / $3::bigint) * $3::bigint AS bucket, node_id, gpu_index,
      SUM(util * n) / SUM(n)::float8 AS util, MAX(mem) AS mem, SUM(alloc * n) / SUM(n)::float8 AS alloc, SUM(n)::bigint AS n
    FROM (
      SELECT at, node_id, gpu_index, util_mean AS util, memory_max_mib AS mem, allocated_mean AS alloc, samples AS n
        FROM samples_1h WHERE at > $1::bigint - ${HOUR_MS} AND at <= $2::bigint AND at < $4::bigint${node}
      UNION ALL
      SELECT at, node_id, gpu_index, util_mean, memory_max_mib, allocated_mean, samples
        FROM samples_1m WHERE at > $1::bigint - ${MINUTE_MS} AND at <= $2::bigint AND at >= $4::bigint AND at < $5::bigint${node}
      UNION ALL
      SELECT at, node_id, gpu_index, util_percent, memory_used_mib, allocated_milli::float8, 1::bigint
        FROM samples WHERE at >= $6::bigint AND at <= $2::bigint${node}
    ) AS r
    GROUP BY 1, 2, 3${ordered ? ' ORDER BY 1, 2, 3' : ''}`;
}

/**
 * Each bucket's totals over the per-GPU rows, summed in the store. round() on numeric: half
 * away from zero, as SQLite's ROUND (round on a double rounds half to even here).
 */
function poolSql(byNode: boolean): string {
  return `SELECT bucket, COUNT(*) AS gpus, AVG(util) AS util, SUM(round(alloc::numeric))::float8 AS alloc
    FROM (${readSql(byNode, false)}) AS p GROUP BY bucket ORDER BY bucket`;
}

const toRollup = (r: RollupRow): SampleRollup => ({
  at: r.at,
  nodeId: r.node_id,
  gpuIndex: r.gpu_index,
  utilPercent: r.util_mean,
  memoryUsedMiB: r.memory_max_mib,
  allocatedMilli: r.allocated_mean,
  samples: r.samples,
});

export class PgSamples {
  constructor(private readonly pool: pg.Pool) {}

  /** Inside the caller's transaction (commitBatch) or on its own. */
  async append(c: Queryable, samples: readonly UtilisationSample[]): Promise<void> {
    if (samples.length === 0) return;
    await c.query(
      `INSERT INTO samples (at, node_id, gpu_index, util_percent, memory_used_mib, allocated_milli)
        SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[], $4::float8[], $5::bigint[], $6::bigint[])`,
      [
        samples.map((x) => x.at),
        samples.map((x) => x.nodeId),
        samples.map((x) => x.gpuIndex),
        samples.map((x) => x.utilPercent),
        samples.map((x) => x.memoryUsedMiB),
        samples.map((x) => x.allocatedMilli ?? 0),
      ],
    );
  }

  async list(from: number, to: number, nodeId?: string): Promise<UtilisationSample[]> {
    const res =
      nodeId === undefined
        ? await this.pool.query<SampleRow>('SELECT * FROM samples WHERE at >= $1 AND at <= $2 ORDER BY at, node_id, gpu_index', [int(from), int(to)])
        : await this.pool.query<SampleRow>('SELECT * FROM samples WHERE node_id = $1 AND at >= $2 AND at <= $3 ORDER BY at, gpu_index', [nodeId, int(from), int(to)]);
    return res.rows.map((r) => ({
      at: r.at,
      nodeId: r.node_id,
      gpuIndex: r.gpu_index,
      utilPercent: r.util_percent,
      memoryUsedMiB: r.memory_used_mib,
      allocatedMilli: r.allocated_milli,
    }));
  }

  async compact(upTo: number, maxMinutes = DEFAULT_COMPACT_MINUTES, maxHours = DEFAULT_COMPACT_HOURS): Promise<SampleCompaction> {
    const minutes = Math.max(1, Math.trunc(maxMinutes));
    const hours = Math.max(1, Math.trunc(maxHours));
    return inTx(this.pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, 'samples']);
      const m = await this.rollTier(c, 'minute', floorTo(upTo, MINUTE_MS), minutes * MINUTE_MS);
      // Only hours whose every minute is rolled up.
      const minuteThrough = (await mark(c, 'minute')) ?? -Infinity;
      const h = await this.rollTier(c, 'hour', floorTo(Math.min(upTo, minuteThrough), HOUR_MS), hours * HOUR_MS);
      return { minutes: m.rows, hours: h.rows, more: m.more || h.more };
    });
  }

  async prune(tier: SampleTier, before: number, limit = DEFAULT_PRUNE_LIMIT): Promise<number> {
    const n = Math.max(1, Math.trunc(limit));
    return inTx(this.pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, 'samples']);
      // Never past what the next tier holds (see the SQLite adapter).
      const guard = tier === 'raw' ? await mark(c, 'minute') : tier === 'minute' ? await mark(c, 'hour') : Infinity;
      const bound = Math.min(before, guard ?? -Infinity);
      if (bound === -Infinity) return 0;
      const sql =
        tier === 'raw'
          ? 'DELETE FROM samples WHERE ctid IN (SELECT ctid FROM samples WHERE at < $1 ORDER BY at LIMIT $2)'
          : `DELETE FROM ${TABLE[tier]} WHERE (at, node_id, gpu_index) IN
              (SELECT at, node_id, gpu_index FROM ${TABLE[tier]} WHERE at < $1 ORDER BY at LIMIT $2)`;
      return (await c.query(sql, [int(bound), n])).rowCount ?? 0;
    });
  }

  async rollups(tier: RollupTier, from: number, to: number, nodeId?: string): Promise<SampleRollup[]> {
    const byNode = nodeId !== undefined;
    const res = await this.pool.query<RollupRow>(
      `SELECT * FROM ${TABLE[tier]} WHERE at >= $1 AND at <= $2${byNode ? ' AND node_id = $3' : ''} ORDER BY at, node_id, gpu_index`,
      byNode ? [int(from), int(to), nodeId] : [int(from), int(to)],
    );
    return res.rows.map(toRollup);
  }

  /** One REPEATABLE READ transaction: the coverage and the rows come from the same snapshot. */
  async read(q: SampleSeriesQuery): Promise<SampleSeries> {
    return inTx(
      this.pool,
      async (c) => {
        const first = async (table: string) => (await c.query<{ at: number | null }>(`SELECT MIN(at) AS at FROM ${table}`)).rows[0]?.at ?? null;
        const coverage: TierCoverage = {
          minuteThrough: await mark(c, 'minute'),
          hourThrough: await mark(c, 'hour'),
          oldestRaw: await first('samples'),
          oldestMinute: await first('samples_1m'),
        };
        const plan = planSampleRead(q.bucketMs, coverage);
        const params: unknown[] = [
          int(q.from),
          int(q.to),
          int(Math.max(1, q.bucketMs)),
          int(plan.hourBefore),
          int(plan.rawFrom),
          int(Math.max(q.from, plan.rawFrom)),
        ];
        const byNode = q.nodeId !== undefined;
        if (byNode) params.push(q.nodeId);
        const sources = planSources(plan, q.from, q.to);
        if (q.detail === 'pool') {
          const rows = (await c.query<{ bucket: number; gpus: number; util: number; alloc: number }>(poolSql(byNode), params)).rows;
          const buckets = rows.map((r): SampleBucket => ({ at: r.bucket, gpus: r.gpus, utilPercent: r.util, allocatedMilli: r.alloc }));
          return { points: [], buckets, sources };
        }
        const rows = (await c.query<{ bucket: number; node_id: string; gpu_index: number; util: number; mem: number; alloc: number; n: number }>(readSql(byNode), params)).rows;
        const points = rows.map(
          (r): SamplePoint => ({ at: r.bucket, nodeId: r.node_id, gpuIndex: r.gpu_index, utilPercent: r.util, memoryUsedMiB: r.mem, allocatedMilli: r.alloc, samples: r.n }),
        );
        return { points, sources };
      },
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    );
  }

  /**
   * Rolls the finer tier up into `tier` from where the last step stopped (or the oldest finer
   * row) up to `end`, at most `span` of time; empty stretches are skipped, not walked.
   */
  private async rollTier(c: pg.PoolClient, tier: RollupTier, end: number, span: number): Promise<{ rows: number; more: boolean }> {
    const through = await mark(c, tier);
    if (!Number.isFinite(end) || (through !== null && through >= end)) return { rows: 0, more: false };
    const unit = tier === 'minute' ? MINUTE_MS : HOUR_MS;
    const finer = tier === 'minute' ? 'samples' : 'samples_1m';
    const first = (await c.query<{ at: number | null }>(`SELECT MIN(at) AS at FROM ${finer} WHERE at >= $1`, [int(through ?? -Infinity)])).rows[0]?.at ?? null;
    if (first === null || first >= end) {
      // Nothing to roll before `end`: the mark moves on (see the SQLite adapter).
      await setMark(c, tier, end);
      return { rows: 0, more: false };
    }
    const start = Math.max(through ?? -Infinity, floorTo(first, unit));
    const stop = Math.min(end, start + span);
    const rows = (await c.query(tier === 'minute' ? ROLL_MINUTES : ROLL_HOURS, [int(start), int(stop)])).rowCount ?? 0;
    await setMark(c, tier, stop);
    return { rows, more: stop < end };
  }
}

async function mark(c: Queryable, tier: RollupTier): Promise<number | null> {
  return (await c.query<{ through: number }>('SELECT through FROM sample_rollup_marks WHERE tier = $1', [tier])).rows[0]?.through ?? null;
}

async function setMark(c: Queryable, tier: RollupTier, through: number): Promise<void> {
  await c.query('INSERT INTO sample_rollup_marks (tier, through) VALUES ($1, $2) ON CONFLICT (tier) DO UPDATE SET through = excluded.through', [tier, int(through)]);
}
