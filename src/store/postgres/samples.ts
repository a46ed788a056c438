// Utilisation samples on Postgres, in blocks (store/sample-blocks.ts: the layout, codec and
// read-side bucketing, shared with the SQLite adapter, whose samples.ts this follows step for
// step): appends into a block's tail in place (`bytea || bytea`), compaction that rolls raw
// blocks up into minute blocks and those into hour blocks and seals the blocks whose time is
// over, pruning by whole blocks, bucketed reads that decode as rows arrive. Compaction and
// pruning take a transaction advisory lock: two servers compacting at once would otherwise
// both read a mark and roll the same minutes (SQLite's single writer orders them for free).
import type pg from 'pg';
import type { SampleCompaction, SampleRollup, SampleSeries, SampleSeriesQuery, SampleTierStorage, UtilisationSample } from '../port.js';
import {
  BLOCK_MS,
  BucketAccumulator,
  blockRuns,
  blockStart,
  bodyOf,
  byBlock,
  decodeBlock,
  decodeInto,
  RecordColumns,
  encodeTail,
  fromRecord,
  rollUpInto,
  sealBlock,
  tailOf,
  toRecord,
  type BlockRecord,
} from '../sample-blocks.js';
import { HOUR_MS, MINUTE_MS, TIER_RESOLUTION_MS, floorTo, hourRollEnd, planSampleRead, planSources, type SampleTier, type TierCoverage } from '../sample-tiers.js';
import { POOL_NODE, PoolRollup, poolMark } from '../sample-pool.js';
import type { TableCopy } from './copy-spec.js';
import { inTx, type Queryable } from './db.js';
import { LOCK_CLASS } from './migrate.js';

type RollupTier = Exclude<SampleTier, 'raw'>;

/**
 * A compaction step's reach: one whole block of the tier it writes (6 hours of minutes, a day of
 * hours), so that behind a backlog each rollup block is written once, sealed (rollTier). SQLite
 * steps 30 minutes and 6 hours: it has one writer, and a longer step would hold heartbeats'
 * writes; here a step's transaction holds only the compaction lock. (Steps shorter than a block
 * of the finer tier read the block that straddles each edge once a step.)
 */
export const DEFAULT_COMPACT_MINUTES = 360;
export const DEFAULT_COMPACT_HOURS = 24;
/** Blocks one prune step deletes at most. */
export const DEFAULT_PRUNE_LIMIT = 1_000;

/** The sample tables as `fastgpu admin migrate` copies them from SQLite (the same layout there). */
export const SAMPLE_TABLE_COPIES: readonly TableCopy[] = [
  { table: 'sample_blocks', columns: ['tier', 'start', 'node_id', 'body', 'tail'], select: ['tier', 'start', 'node_id', 'body', 'tail'], reads: ['tier', 'start', 'node_id', 'body', 'tail'], order: 'tier, start, node_id' },
  { table: 'sample_marks', columns: ['name', 'at'], select: ['name', 'at'], reads: ['name', 'at'], order: 'name' },
];

interface BlockRowSql {
  tier: SampleTier;
  start: number;
  node_id: string;
  body: Buffer;
  tail: Buffer;
}

/** Stored bytes and samples (raw) or rollups per tier: the volume contract. */
export type SampleStorage = Record<SampleTier, SampleTierStorage>;

/** A bound for a BIGINT parameter: whole, and ±Infinity (a tier with no rows yet) as the widest safe value. */
const int = (x: number): number => Math.max(Number.MIN_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, Math.trunc(x)));

const ROW = 'tier, start, node_id, body, tail';
const APPEND = `INSERT INTO sample_blocks (tier, start, node_id, body, tail) VALUES ($1, $2, $3, '\\x', $4)
  ON CONFLICT (tier, start, node_id) DO UPDATE SET tail = sample_blocks.tail || excluded.tail`;
const APPEND_MANY = `INSERT INTO sample_blocks (tier, start, node_id, body, tail)
  SELECT $1, u.start, u.node_id, '\\x', u.tail FROM unnest($2::bigint[], $3::text[], $4::bytea[]) AS u(start, node_id, tail)
  ON CONFLICT (tier, start, node_id) DO UPDATE SET tail = sample_blocks.tail || excluded.tail`;
/** Rollup blocks a compaction step covers whole, written sealed; a block that exists already takes them as a tail instead. */
const INSERT_SEALED = `INSERT INTO sample_blocks (tier, start, node_id, body, tail)
  SELECT $1, u.start, u.node_id, u.body, '\\x' FROM unnest($2::bigint[], $3::text[], $4::bytea[]) AS u(start, node_id, body)
  ON CONFLICT (tier, start, node_id) DO NOTHING RETURNING start, node_id`;
const SEAL_MANY = `UPDATE sample_blocks AS b SET body = u.body, tail = '\\x'
  FROM unnest($2::bigint[], $3::text[], $4::bytea[]) AS u(start, node_id, body)
  WHERE b.tier = $1 AND b.start = u.start AND b.node_id = u.node_id`;
/** Blocks of rollups one compaction step gives pool rows at most (as on SQLite). */
export const POOL_BACKFILL_BLOCKS: Readonly<Record<RollupTier, number>> = { minute: 4, hour: 30 };

/**
 * Block rows of each tier whose start lies in that tier's (lo, hi], grouped by node: per-GPU
 * rows, or for a rollup tier in `pooled` its pool rows only (sample-pool.ts).
 */
const readBlocksSql = (byNode: boolean, pooled: Readonly<Record<RollupTier, boolean>>): string => {
  const who = (t: RollupTier): string => (pooled[t] ? `node_id = ''` : `node_id <> ''`);
  return `SELECT ${ROW} FROM sample_blocks
  WHERE ((tier = 'hour' AND start > $1 AND start <= $2 AND ${who('hour')}) OR (tier = 'minute' AND start > $3 AND start <= $4 AND ${who('minute')})
    OR (tier = 'raw' AND start > $5 AND start <= $6 AND node_id <> ''))${byNode ? ' AND node_id = $7' : ''}
  ORDER BY node_id, tier, start`;
};

interface TierStep {
  rows: number;
  more: boolean;
}

async function mark(c: Queryable, name: string): Promise<number | null> {
  return (await c.query<{ at: number }>('SELECT at FROM sample_marks WHERE name = $1', [name])).rows[0]?.at ?? null;
}

async function setMark(c: Queryable, name: string, at: number): Promise<void> {
  await c.query('INSERT INTO sample_marks (name, at) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET at = excluded.at', [name, int(at)]);
}

/** Rows of `tier` whose block overlaps [lo, hi): start in (lo − block, hi). */
async function range(c: Queryable, tier: SampleTier, lo: number, hi: number, order: 'start' | 'node', nodeId?: string): Promise<BlockRowSql[]> {
  const byNode = nodeId !== undefined;
  const sql = `SELECT ${ROW} FROM sample_blocks WHERE tier = $1 AND start > $2 AND start < $3 AND node_id <> ''${byNode ? ' AND node_id = $4' : ''}
    ORDER BY ${order === 'start' ? 'start, node_id' : 'node_id, start'}`;
  return (await c.query<BlockRowSql>(sql, byNode ? [tier, int(lo), int(hi), nodeId] : [tier, int(lo), int(hi)])).rows;
}

/** Rows a batched statement carries at most (a raw block's body is a few KiB). */
const BATCH_ROWS = 500;

/**
 * Appends tails to many blocks of `tier` in a few statements rather than one round trip each
 * (compaction writes thousands). Tails for the same block are joined first, in order: one
 * statement may not update a row twice.
 */
async function appendMany(c: Queryable, tier: SampleTier, rows: readonly { start: number; node: string; tail: Buffer }[]): Promise<void> {
  const joined = new Map<string, { start: number; node: string; tails: Buffer[] }>();
  for (const r of rows) {
    const k = `${r.start}|${r.node}`;
    const j = joined.get(k);
    if (j) j.tails.push(r.tail);
    else joined.set(k, { start: r.start, node: r.node, tails: [r.tail] });
  }
  const all = [...joined.values()];
  for (let i = 0; i < all.length; i += BATCH_ROWS) {
    const part = all.slice(i, i + BATCH_ROWS);
    await c.query(APPEND_MANY, [tier, part.map((r) => int(r.start)), part.map((r) => r.node), part.map((r) => (r.tails.length === 1 ? r.tails[0]! : Buffer.concat(r.tails)))]);
  }
}

async function appendRecords(c: Queryable, tier: SampleTier, node: string, records: readonly BlockRecord[]): Promise<void> {
  for (const [start, rs] of byBlock(tier, records)) await c.query(APPEND, [tier, int(start), node, encodeTail(tier, start, rs)]);
}

export class PgSamples {
  constructor(private readonly pool: pg.Pool) {}

  /** Inside the caller's transaction (commitBatch) or on its own (one statement per block touched). */
  async append(c: Queryable, samples: readonly UtilisationSample[]): Promise<void> {
    if (samples.length === 0) return;
    const byNode = new Map<string, UtilisationSample[]>();
    for (const x of samples) {
      const list = byNode.get(x.nodeId);
      if (list) list.push(x);
      else byNode.set(x.nodeId, [x]);
    }
    const run = async (q: Queryable): Promise<void> => {
      for (const [node, xs] of byNode) await appendRecords(q, 'raw', node, xs.map((x) => toRecord('raw', x)));
    };
    // Several blocks: one transaction, so that a batch is stored whole or not at all.
    if (c === this.pool && byNode.size > 1) await inTx(this.pool, run);
    else await run(c);
  }

  async list(from: number, to: number, nodeId?: string): Promise<UtilisationSample[]> {
    return (await this.records(this.pool, 'raw', from, to, nodeId)).map((r) => {
      const { samples: _n, ...sample } = r;
      return sample;
    });
  }

  async rollups(tier: RollupTier, from: number, to: number, nodeId?: string): Promise<SampleRollup[]> {
    return this.records(this.pool, tier, from, to, nodeId);
  }

  async compact(upTo: number, maxMinutes = DEFAULT_COMPACT_MINUTES, maxHours = DEFAULT_COMPACT_HOURS): Promise<SampleCompaction> {
    const minutes = Math.max(1, Math.trunc(maxMinutes));
    const hours = Math.max(1, Math.trunc(maxHours));
    return inTx(this.pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, 'samples']);
      await this.initPoolMark(c, 'minute');
      await this.initPoolMark(c, 'hour');
      const m = await this.rollTier(c, 'minute', floorTo(upTo, MINUTE_MS), minutes * MINUTE_MS);
      // Only hours whose every minute is rolled up; behind a backlog of minutes, a step of them.
      const hourEnd = hourRollEnd(upTo, await mark(c, 'minute'), await mark(c, 'hour'), m.more, hours * HOUR_MS);
      const h = await this.rollTier(c, 'hour', hourEnd, hours * HOUR_MS);
      // Blocks whose time is rolled up take no more appends but a late sample's: seal them.
      await this.sealThrough(c, 'raw', await mark(c, 'minute'));
      await this.sealThrough(c, 'minute', await mark(c, 'minute'));
      await this.sealThrough(c, 'hour', await mark(c, 'hour'));
      // Pool rows for rollups written before them (an upgraded store), a bounded step at a time.
      const back = (await this.backfillPool(c, 'minute', POOL_BACKFILL_BLOCKS.minute)) || (await this.backfillPool(c, 'hour', POOL_BACKFILL_BLOCKS.hour));
      return { minutes: m.rows, hours: h.rows, more: m.more || h.more || back };
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
      // Whole blocks only; the mark first, so that a read between two batches takes the coarser tier.
      const cutoff = floorTo(bound, BLOCK_MS[tier]);
      if (tier !== 'hour' && cutoff > ((await mark(c, `pruned:${tier}`)) ?? -Infinity)) await setMark(c, `pruned:${tier}`, cutoff);
      const res = await c.query(
        `DELETE FROM sample_blocks WHERE (tier, start, node_id) IN
          (SELECT tier, start, node_id FROM sample_blocks WHERE tier = $1 AND start < $2 AND node_id <> '' ORDER BY start LIMIT $3)`,
        [tier, int(cutoff), n],
      );
      // Pool rows go once no node's block of their time is left (pruning goes oldest first),
      // so only after nodes' blocks went: those before were pruned with theirs.
      if ((res.rowCount ?? 0) > 0) {
        await c.query(
          `DELETE FROM sample_blocks WHERE tier = $1 AND node_id = '' AND start < $2
            AND start < COALESCE((SELECT MIN(start) FROM sample_blocks WHERE tier = $1 AND node_id <> ''), $2)`,
          [tier, int(cutoff)],
        );
      }
      return res.rowCount ?? 0;
    });
  }

  /** One REPEATABLE READ transaction: the marks and the blocks come from the same snapshot. */
  async read(q: SampleSeriesQuery): Promise<SampleSeries> {
    return inTx(
      this.pool,
      async (c) => {
        const coverage: TierCoverage = {
          minuteThrough: await mark(c, 'minute'),
          hourThrough: await mark(c, 'hour'),
          rawPruned: await mark(c, 'pruned:raw'),
          minutePruned: await mark(c, 'pruned:minute'),
        };
        const plan = planSampleRead(q.bucketMs, coverage);
        const sources = planSources(plan, q.from, q.to);
        // Empty ranges (lo 1, hi 0) for tiers the plan does not read.
        const bounds: Record<SampleTier, [number, number]> = { hour: [1, 0], minute: [1, 0], raw: [1, 0] };
        for (const src of sources) bounds[src.tier] = [int(src.from - BLOCK_MS[src.tier]), int(src.to)];
        const params: unknown[] = [...bounds.hour, ...bounds.minute, ...bounds.raw];
        if (q.nodeId !== undefined) params.push(q.nodeId);
        const detail = q.detail ?? 'gpu';
        // detail pool over the whole pool reads the rollup tiers' pool rows where they are complete.
        const pooled = async (t: RollupTier): Promise<boolean> => {
          const src = sources.find((x) => x.tier === t);
          return detail === 'pool' && q.nodeId === undefined && src !== undefined && src.from >= ((await mark(c, poolMark(t))) ?? Infinity);
        };
        const sql = readBlocksSql(q.nodeId !== undefined, { minute: await pooled('minute'), hour: await pooled('hour') });
        const acc = new BucketAccumulator({ from: q.from, to: q.to, bucketMs: Math.max(1, q.bucketMs), detail }, sources);
        for (const r of (await c.query<BlockRowSql>(sql, params)).rows) {
          acc.add({ tier: r.tier, start: r.start, nodeId: r.node_id, body: r.body, tail: r.tail });
        }
        return { ...acc.result(), sources };
      },
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    );
  }

  /** What each tier holds and takes on disk (bodies and tails). */
  async storage(): Promise<SampleStorage> {
    const out: SampleStorage = { raw: { records: 0, bytes: 0, blocks: 0 }, minute: { records: 0, bytes: 0, blocks: 0 }, hour: { records: 0, bytes: 0, blocks: 0 } };
    const cols = new RecordColumns();
    for (const r of (await this.pool.query<BlockRowSql>(`SELECT ${ROW} FROM sample_blocks`)).rows) {
      const t = out[r.tier];
      cols.clear();
      decodeInto(r.tier, r.start, r.body, r.tail, cols);
      // Pool rows take bytes in their tier; their records are not GPUs' samples or rollups.
      if (r.node_id !== POOL_NODE) t.records += cols.length;
      t.bytes += r.body.length + r.tail.length;
      t.blocks++;
    }
    return out;
  }

  private async records(c: Queryable, tier: SampleTier, from: number, to: number, nodeId?: string): Promise<SampleRollup[]> {
    const out: SampleRollup[] = [];
    for (const r of await range(c, tier, from - BLOCK_MS[tier], to + 1, 'start', nodeId)) {
      for (const x of decodeBlock(tier, r.start, r.body, r.tail)) if (x.at >= from && x.at <= to) out.push(fromRecord(r.node_id, x));
    }
    return out.sort((a, b) => a.at - b.at || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : a.gpuIndex - b.gpuIndex));
  }

  /** The time of the oldest record of `tier` at or after `from`: the first block's, decoded. */
  private async firstRecord(c: Queryable, tier: SampleTier, from: number): Promise<number | null> {
    for (let b = blockStart(tier, from); ; b += BLOCK_MS[tier]) {
      const start =
        (await c.query<{ start: number | null }>("SELECT MIN(start) AS start FROM sample_blocks WHERE tier = $1 AND start >= $2 AND node_id <> ''", [tier, int(b)])).rows[0]?.start ?? null;
      if (start === null) return null;
      // A block that starts by `from` may hold records from `from` on: a bound low enough (the
      // roll-up starts there and finds what there is), without decoding every node's block.
      if (start <= from) return from;
      let first = Infinity;
      for (const r of await range(c, tier, start - 1, start + 1, 'start')) {
        for (const x of decodeBlock(tier, r.start, r.body, r.tail)) if (x.at >= from && x.at < first) first = x.at;
      }
      if (first !== Infinity) return first;
      b = start;
    }
  }

  /** Seals the blocks of `tier` that end by `through` and were not sealed yet. */
  private async sealThrough(c: Queryable, tier: SampleTier, through: number | null): Promise<void> {
    if (through === null) return;
    const cutoff = floorTo(through, BLOCK_MS[tier]);
    const from = (await mark(c, `sealed:${tier}`)) ?? -Infinity;
    if (cutoff <= from) return;
    const rows = (
      await c.query<BlockRowSql>(`SELECT ${ROW} FROM sample_blocks WHERE tier = $1 AND start >= $2 AND start < $3 AND length(tail) > 0`, [tier, int(from), int(cutoff)])
    ).rows;
    // A few statements, not a round trip a block (a first pass seals tens of thousands).
    for (let i = 0; i < rows.length; i += BATCH_ROWS) {
      const part = rows.slice(i, i + BATCH_ROWS);
      await c.query(SEAL_MANY, [tier, part.map((r) => r.start), part.map((r) => r.node_id), part.map((r) => sealBlock(tier, r.start, r.body, r.tail))]);
    }
    await setMark(c, `sealed:${tier}`, cutoff);
  }

  /**
   * Rolls the finer tier up into `tier` from where the last step stopped (or the oldest finer
   * block) up to `end`, at most `span` of time; empty stretches are skipped, not walked.
   */
  private async rollTier(c: Queryable, tier: RollupTier, end: number, span: number): Promise<TierStep> {
    const through = await mark(c, tier);
    if (!Number.isFinite(end) || (through !== null && through >= end)) return { rows: 0, more: false };
    const fine: SampleTier = tier === 'minute' ? 'raw' : 'minute';
    const first = await this.firstRecord(c, fine, through ?? -Infinity);
    if (first === null || first >= end) {
      // Nothing to roll before `end`: the mark moves on (see the SQLite adapter).
      await setMark(c, tier, end);
      return { rows: 0, more: false };
    }
    const start = Math.max(through ?? -Infinity, floorTo(first, TIER_RESOLUTION_MS[tier]));
    // A step ends on a block edge of `tier` where its span reaches one, so that behind a backlog
    // a step covers whole blocks, written once, sealed (below), rather than appended to step
    // after step: each append rewrites the block's whole tail.
    const edge = floorTo(start + span, BLOCK_MS[tier]);
    const stop = Math.min(end, edge > start ? edge : start + span);
    let rows = 0;
    // Node by node: one node's blocks decoded into reused columns, rolled up, appended.
    const cols = new RecordColumns();
    const rolled = new RecordColumns();
    const pool = new PoolRollup();
    // The step's rollups, written together once every node is rolled: the blocks this step
    // covers whole as sealed bodies (with their tail form, should the block hold rollups
    // already), the others as tails (appendMany).
    const tails: { start: number; node: string; tail: Buffer }[] = [];
    const bodies: { start: number; node: string; body: Buffer; tail: Buffer }[] = [];
    let node: string | null = null;
    const flush = async (): Promise<void> => {
      if (node === null) return;
      rolled.clear();
      rollUpInto(tier, cols, start, stop, rolled);
      rows += rolled.length;
      for (const run of blockRuns(tier, rolled)) {
        const tail = tailOf(tier, rolled, run);
        if (run.start >= start && run.start + BLOCK_MS[tier] <= stop) bodies.push({ start: run.start, node, body: bodyOf(tier, rolled, run), tail });
        else tails.push({ start: run.start, node, tail });
      }
      pool.addColumns(rolled, -Infinity, Infinity);
      cols.clear();
    };
    for (const r of await range(c, fine, start - BLOCK_MS[fine], stop, 'node')) {
      if (r.node_id !== node) {
        await flush();
        node = r.node_id;
      }
      decodeInto(fine, r.start, r.body, r.tail, cols);
    }
    await flush();
    for (let i = 0; i < bodies.length; i += BATCH_ROWS) {
      const part = bodies.slice(i, i + BATCH_ROWS);
      const made = await c.query<{ start: string; node_id: string }>(INSERT_SEALED, [tier, part.map((b) => int(b.start)), part.map((b) => b.node), part.map((b) => b.body)]);
      const done = new Set(made.rows.map((r) => `${Number(r.start)}|${r.node_id}`));
      for (const b of part) if (!done.has(`${b.start}|${b.node}`)) tails.push(b);
    }
    await appendMany(c, tier, tails);
    // The pool's totals of the same units (sample-pool.ts), written once as the units are.
    await appendRecords(c, tier, POOL_NODE, pool.records());
    await setMark(c, tier, stop);
    return { rows, more: stop < end };
  }

  /** The newest per-GPU block of `tier` that starts before `before`. */
  private async lastBlockBefore(c: Queryable, tier: RollupTier, before: number): Promise<number | null> {
    const r = await c.query<{ start: string | null }>("SELECT MAX(start) AS start FROM sample_blocks WHERE tier = $1 AND start < $2 AND node_id <> ''", [tier, int(before)]);
    const v = r.rows[0]?.start ?? null;
    return v === null ? null : Number(v);
  }

  /** No pool mark yet: pool rows are complete from the tier's mark on, or from the start (see the SQLite adapter). */
  private async initPoolMark(c: Queryable, tier: RollupTier): Promise<void> {
    if ((await mark(c, poolMark(tier))) !== null) return;
    const newest = await this.lastBlockBefore(c, tier, Infinity);
    const from = (await mark(c, tier)) ?? (newest === null ? Number.MIN_SAFE_INTEGER : newest + BLOCK_MS[tier]);
    await setMark(c, poolMark(tier), from);
  }

  /** Pool rows of up to `blocks` blocks below the pool mark, newest first; true while older ones are left. */
  private async backfillPool(c: Queryable, tier: RollupTier, blocks: number): Promise<boolean> {
    for (let k = 0; k < blocks; k++) {
      const through = (await mark(c, poolMark(tier))) ?? Number.MIN_SAFE_INTEGER;
      if (through <= Number.MIN_SAFE_INTEGER) return false;
      const start = await this.lastBlockBefore(c, tier, through);
      if (start === null) {
        await setMark(c, poolMark(tier), Number.MIN_SAFE_INTEGER);
        return false;
      }
      const pool = new PoolRollup();
      const cols = new RecordColumns();
      for (const r of await range(c, tier, start - 1, start + 1, 'node')) {
        cols.clear();
        decodeInto(tier, r.start, r.body, r.tail, cols);
        pool.addColumns(cols, start, through);
      }
      await appendRecords(c, tier, POOL_NODE, pool.records());
      await setMark(c, poolMark(tier), start);
    }
    return true;
  }
}
