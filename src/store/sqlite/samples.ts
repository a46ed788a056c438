// The SQLite side of utilisation samples, in blocks (store/sample-blocks.ts: the layout, codec
// and read-side bucketing, shared with every adapter): appends into a block's tail in place,
// compaction that rolls raw blocks up into minute blocks and those into hour blocks and seals
// the blocks whose time is over, pruning by whole blocks, and bucketed reads that decode and
// bucket the blocks as they stream out of SQLite. store.ts delegates to it and builds it on
// first use: it names tables of a late migration, and tests open stores at older versions.
import type Database from 'better-sqlite3';
import type { SampleCompaction, SampleRollup, SampleSeries, SampleSeriesQuery, SampleTierStorage, UtilisationSample } from '../port.js';
import {
  BLOCK_MS,
  BucketAccumulator,
  blockStart,
  byBlock,
  decodeBlock,
  decodeInto,
  RecordColumns,
  encodeTail,
  fromRecord,
  rollUpInto,
  sealBlock,
  tailsOf,
  toRecord,
  type BlockRecord,
} from '../sample-blocks.js';
import { POOL_NODE, PoolRollup, poolMark } from '../sample-pool.js';
import { HOUR_MS, MINUTE_MS, TIER_RESOLUTION_MS, floorTo, hourRollEnd, planSampleRead, planSources, type SampleTier, type TierCoverage } from '../sample-tiers.js';

type RollupTier = Exclude<SampleTier, 'raw'>;

/** A compaction step's reach: three raw blocks of minutes, one minute block of hours. */
export const DEFAULT_COMPACT_MINUTES = 30;
export const DEFAULT_COMPACT_HOURS = 6;
/** Blocks of rollups one compaction step gives pool rows at most (a day of minutes, a month of hours). */
export const POOL_BACKFILL_BLOCKS: Readonly<Record<RollupTier, number>> = { minute: 4, hour: 30 };
/** Blocks one prune step deletes at most. */
export const DEFAULT_PRUNE_LIMIT = 1_000;

interface BlockRowSql {
  tier: SampleTier;
  start: number;
  node_id: string;
  body: Buffer;
  tail: Buffer;
}

/**
 * Integer parameters. better-sqlite3 binds a JS number as REAL; ±Infinity (a tier with no rows
 * yet) becomes the widest safe value.
 */
const int = (x: number): bigint => BigInt(Math.max(Number.MIN_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, Math.trunc(x))));

/**
 * Appends records to the tail of their block, creating the row if need be. SQLite's `||` makes
 * TEXT of two BLOBs (the bytes unchanged), hence the CAST; on Postgres `bytea || bytea` is bytea.
 */
export const APPEND_SQL = `INSERT INTO sample_blocks (tier, start, node_id, body, tail) VALUES (@tier, @start, @node, x'', @tail)
  ON CONFLICT (tier, start, node_id) DO UPDATE SET tail = CAST(sample_blocks.tail || excluded.tail AS BLOB)`;

/**
 * Block rows of each tier whose start lies in that tier's (lo, hi]: one statement, grouped by
 * node. Per GPU rows, or for a rollup tier in `pooled` its pool rows only (sample-pool.ts).
 */
export function readBlocksSql(byNode: boolean, pooled: PooledTiers = NOT_POOLED): string {
  const who = (t: RollupTier): string => (pooled[t] ? `node_id = ''` : `node_id <> ''`);
  return `SELECT tier, start, node_id, body, tail FROM sample_blocks
    WHERE ((tier = 'hour' AND start > @hLo AND start <= @hHi AND ${who('hour')}) OR (tier = 'minute' AND start > @mLo AND start <= @mHi AND ${who('minute')})
      OR (tier = 'raw' AND start > @rLo AND start <= @rHi AND node_id <> ''))${byNode ? ' AND node_id = @node' : ''}
    ORDER BY node_id, tier, start`;
}

/** Which rollup tiers a read takes from pool rows. */
export type PooledTiers = Readonly<Record<RollupTier, boolean>>;
const NOT_POOLED: PooledTiers = { minute: false, hour: false };

function prepareSamples(db: Database.Database) {
  const p = <R = unknown>(sql: string) => db.prepare<unknown[], R>(sql);
  return {
    mark: p<{ at: number }>('SELECT at FROM sample_marks WHERE name = ?'),
    setMark: p('INSERT INTO sample_marks (name, at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET at = excluded.at'),
    append: p(APPEND_SQL),
    firstBlock: p<{ start: number | null }>("SELECT MIN(start) AS start FROM sample_blocks WHERE tier = ? AND start >= ? AND node_id <> ''"),
    lastBlockBefore: p<{ start: number | null }>("SELECT MAX(start) AS start FROM sample_blocks WHERE tier = ? AND start < ? AND node_id <> ''"),
    // Per-GPU rows whose block overlaps [lo, hi): start in (lo − block, hi).
    range: p<BlockRowSql>(
      "SELECT tier, start, node_id, body, tail FROM sample_blocks WHERE tier = @tier AND start > @lo AND start < @hi AND node_id <> '' ORDER BY start, node_id",
    ),
    rangeByNode: p<BlockRowSql>(
      "SELECT tier, start, node_id, tail, body FROM sample_blocks WHERE tier = @tier AND start > @lo AND start < @hi AND node_id <> '' ORDER BY node_id, start",
    ),
    rangeNode: p<BlockRowSql>(
      'SELECT tier, start, node_id, body, tail FROM sample_blocks WHERE tier = @tier AND start > @lo AND start < @hi AND node_id = @node ORDER BY start',
    ),
    unsealed: p<BlockRowSql & { rowid: number }>(
      'SELECT rowid, tier, start, node_id, body, tail FROM sample_blocks WHERE tier = ? AND start >= ? AND start < ? AND length(tail) > 0',
    ),
    seal: p('UPDATE sample_blocks SET body = ?, tail = x\'\' WHERE rowid = ?'),
    prune: p("DELETE FROM sample_blocks WHERE rowid IN (SELECT rowid FROM sample_blocks WHERE tier = ? AND start < ? AND node_id <> '' ORDER BY start LIMIT ?)"),
    // Pool rows go once no node's block of their time is left (pruning goes oldest first).
    prunePool: p(`DELETE FROM sample_blocks WHERE tier = @tier AND node_id = '' AND start < @cutoff
      AND start < COALESCE((SELECT MIN(start) FROM sample_blocks WHERE tier = @tier AND node_id <> ''), @cutoff)`),
    all: p<BlockRowSql>('SELECT tier, start, node_id, body, tail FROM sample_blocks'),
    /** Reads by [byNode][pooled minute][pooled hour]. */
    read: [false, true].map((byNode) =>
      [false, true].map((minute) => [false, true].map((hour) => p<BlockRowSql>(readBlocksSql(byNode, { minute, hour })))),
    ),
  };
}

type Statements = ReturnType<typeof prepareSamples>;

interface TierStep {
  rows: number;
  more: boolean;
}

/** Stored bytes and samples (raw) or rollups per tier: the volume contract. */
export type SampleStorage = Record<SampleTier, SampleTierStorage>;

export class SqliteSamples {
  private readonly s: Statements;
  private readonly appendTx: (samples: readonly UtilisationSample[]) => void;
  private readonly compactTx: (upTo: number, maxMinutes: number, maxHours: number) => SampleCompaction;
  private readonly pruneTx: (tier: SampleTier, before: number, limit: number) => number;
  private readonly readTx: (q: SampleSeriesQuery) => SampleSeries;

  constructor(db: Database.Database) {
    const s = (this.s = prepareSamples(db));
    // Nested in the caller's transaction (a state batch) as a savepoint, or IMMEDIATE alone.
    this.appendTx = db.transaction((samples: readonly UtilisationSample[]) => {
      const byNode = new Map<string, UtilisationSample[]>();
      for (const x of samples) {
        const list = byNode.get(x.nodeId);
        if (list) list.push(x);
        else byNode.set(x.nodeId, [x]);
      }
      for (const [node, xs] of byNode) this.appendRecords('raw', node, xs.map((x) => toRecord('raw', x)));
    });
    // IMMEDIATE for the writes (the lock is taken at BEGIN, as in store.ts); the read is one
    // deferred transaction, so its marks and its rows come from the same snapshot.
    this.compactTx = db.transaction((upTo: number, maxMinutes: number, maxHours: number): SampleCompaction => {
      this.initPoolMark('minute');
      this.initPoolMark('hour');
      const m = this.rollTier('minute', floorTo(upTo, MINUTE_MS), maxMinutes * MINUTE_MS);
      // Only hours whose every minute is rolled up; behind a backlog of minutes, a step of them.
      const h = this.rollTier('hour', hourRollEnd(upTo, this.mark('minute'), this.mark('hour'), m.more, maxHours * HOUR_MS), maxHours * HOUR_MS);
      // Blocks whose time is rolled up take no more appends but a late sample's: seal them.
      this.sealThrough('raw', this.mark('minute'));
      this.sealThrough('minute', this.mark('minute'));
      this.sealThrough('hour', this.mark('hour'));
      // Pool rows for rollups written before them (an upgraded store), a bounded step at a time.
      const back = this.backfillPool('minute', POOL_BACKFILL_BLOCKS.minute) || this.backfillPool('hour', POOL_BACKFILL_BLOCKS.hour);
      return { minutes: m.rows, hours: h.rows, more: m.more || h.more || back };
    }).immediate;
    this.pruneTx = db.transaction((tier: SampleTier, before: number, limit: number): number => {
      // Never past what the next tier holds: an old block that compaction has not reached yet
      // (the server was down, say) is rolled up first, then pruned.
      const guard = tier === 'raw' ? this.mark('minute') : tier === 'minute' ? this.mark('hour') : Infinity;
      const bound = Math.min(before, guard ?? -Infinity);
      if (bound === -Infinity) return 0;
      // Whole blocks only: those that end by the bound. The mark goes first, so that a read
      // between two batches already takes the coarser tier for what is being deleted.
      const cutoff = floorTo(bound, BLOCK_MS[tier]);
      if (tier !== 'hour' && cutoff > (this.mark(`pruned:${tier}`) ?? -Infinity)) s.setMark.run(`pruned:${tier}`, int(cutoff));
      const n = s.prune.run(tier, int(cutoff), limit).changes;
      // Only after nodes' blocks went: those before were pruned with theirs.
      if (n > 0) s.prunePool.run({ tier, cutoff: int(cutoff) });
      return n;
    }).immediate;
    this.readTx = db.transaction((q: SampleSeriesQuery): SampleSeries => {
      const coverage: TierCoverage = {
        minuteThrough: this.mark('minute'),
        hourThrough: this.mark('hour'),
        rawPruned: this.mark('pruned:raw'),
        minutePruned: this.mark('pruned:minute'),
      };
      const plan = planSampleRead(q.bucketMs, coverage);
      const sources = planSources(plan, q.from, q.to);
      const params: Record<string, bigint | string> = { hLo: 1n, hHi: 0n, mLo: 1n, mHi: 0n, rLo: 1n, rHi: 0n };
      for (const src of sources) {
        const k = src.tier === 'hour' ? 'h' : src.tier === 'minute' ? 'm' : 'r';
        params[`${k}Lo`] = int(src.from - BLOCK_MS[src.tier]);
        params[`${k}Hi`] = int(src.to);
      }
      if (q.nodeId !== undefined) params.node = q.nodeId;
      const detail = q.detail ?? 'gpu';
      // detail pool over the whole pool reads the rollup tiers' pool rows where they are complete.
      const pooled = (t: RollupTier): boolean => {
        const src = sources.find((x) => x.tier === t);
        return detail === 'pool' && q.nodeId === undefined && src !== undefined && src.from >= (this.mark(poolMark(t)) ?? Infinity);
      };
      const acc = new BucketAccumulator({ from: q.from, to: q.to, bucketMs: Math.max(1, q.bucketMs), detail }, sources);
      for (const r of s.read[q.nodeId === undefined ? 0 : 1]![pooled('minute') ? 1 : 0]![pooled('hour') ? 1 : 0]!.iterate(params)) acc.add({ tier: r.tier, start: r.start, nodeId: r.node_id, body: r.body, tail: r.tail });
      return { ...acc.result(), sources };
    });
  }

  append(samples: readonly UtilisationSample[]): void {
    if (samples.length > 0) this.appendTx(samples);
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

  /** Stored raw samples in [from, to], by time, node, GPU. */
  list(from: number, to: number, nodeId?: string): UtilisationSample[] {
    return this.records('raw', from, to, nodeId).map((r) => {
      const { samples: _n, ...sample } = r;
      return sample;
    });
  }

  rollups(tier: RollupTier, from: number, to: number, nodeId?: string): SampleRollup[] {
    return this.records(tier, from, to, nodeId);
  }

  /** What each tier holds and takes on disk (bodies and tails). */
  storage(): SampleStorage {
    const out: SampleStorage = { raw: { records: 0, bytes: 0, blocks: 0 }, minute: { records: 0, bytes: 0, blocks: 0 }, hour: { records: 0, bytes: 0, blocks: 0 } };
    const cols = new RecordColumns();
    for (const r of this.s.all.iterate()) {
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

  private records(tier: SampleTier, from: number, to: number, nodeId?: string): SampleRollup[] {
    const params = { tier, lo: int(from - BLOCK_MS[tier]), hi: int(to + 1), ...(nodeId !== undefined ? { node: nodeId } : {}) };
    const rows = nodeId === undefined ? this.s.range.all(params) : this.s.rangeNode.all(params);
    const out: SampleRollup[] = [];
    for (const r of rows) {
      for (const x of decodeBlock(tier, r.start, r.body, r.tail)) if (x.at >= from && x.at <= to) out.push(fromRecord(r.node_id, x));
    }
    return out.sort((a, b) => a.at - b.at || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : a.gpuIndex - b.gpuIndex));
  }

  private appendRecords(tier: SampleTier, node: string, records: readonly BlockRecord[]): void {
    for (const [start, rs] of byBlock(tier, records)) this.s.append.run({ tier, start: int(start), node, tail: encodeTail(tier, start, rs) });
  }

  private mark(name: string): number | null {
    return this.s.mark.get(name)?.at ?? null;
  }

  /**
   * Where the records of `tier` at or after `from` begin: `from` itself while it lies in a
   * stored block (the steady case: no decoding), else the oldest record of the next block, so
   * that a gap (a pool gone quiet, the first samples) is skipped rather than walked.
   */
  private firstRecord(tier: SampleTier, from: number): number | null {
    for (let b = blockStart(tier, from); ; b += BLOCK_MS[tier]) {
      const start = this.s.firstBlock.get(tier, int(b))?.start ?? null;
      if (start === null) return null;
      if (start <= from) return from;
      let first = Infinity;
      for (const r of this.s.range.iterate({ tier, lo: int(start - 1), hi: int(start + 1) })) {
        for (const x of decodeBlock(tier, r.start, r.body, r.tail)) if (x.at >= from && x.at < first) first = x.at;
      }
      if (first !== Infinity) return first;
      b = start;
    }
  }

  /** Seals the blocks of `tier` that end by `through` and were not sealed yet. */
  private sealThrough(tier: SampleTier, through: number | null): void {
    if (through === null) return;
    const cutoff = floorTo(through, BLOCK_MS[tier]);
    const from = this.mark(`sealed:${tier}`) ?? -Infinity;
    if (cutoff <= from) return;
    for (const r of this.s.unsealed.all(tier, int(from), int(cutoff))) {
      this.s.seal.run(sealBlock(tier, r.start, r.body, r.tail), r.rowid);
    }
    this.s.setMark.run(`sealed:${tier}`, int(cutoff));
  }

  /**
   * Rolls the finer tier up into `tier` from where the last step stopped (or the oldest finer
   * block) up to `end`, at most `span` of time; empty stretches are skipped, not walked.
   */
  private rollTier(tier: RollupTier, end: number, span: number): TierStep {
    const s = this.s;
    const through = this.mark(tier);
    // -Infinity: no minute is rolled up yet, so no hour can be.
    if (!Number.isFinite(end) || (through !== null && through >= end)) return { rows: 0, more: false };
    const fine: SampleTier = tier === 'minute' ? 'raw' : 'minute';
    const first = this.firstRecord(fine, through ?? -Infinity);
    if (first === null || first >= end) {
      // Nothing to roll before `end`: the mark moves on, so that hours of a pool gone quiet
      // still complete, and so that the next step starts from new samples.
      s.setMark.run(tier, int(end));
      return { rows: 0, more: false };
    }
    const start = Math.max(through ?? -Infinity, floorTo(first, TIER_RESOLUTION_MS[tier]));
    const stop = Math.min(end, start + span);
    let rows = 0;
    // Node by node: one node's blocks decoded into reused columns, rolled up, appended.
    const cols = new RecordColumns();
    const rolled = new RecordColumns();
    const pool = new PoolRollup();
    let node: string | null = null;
    const flush = (): void => {
      if (node === null) return;
      rolled.clear();
      rollUpInto(tier, cols, start, stop, rolled);
      rows += rolled.length;
      for (const [b, tail] of tailsOf(tier, rolled)) s.append.run({ tier, start: int(b), node, tail });
      pool.addColumns(rolled, -Infinity, Infinity);
      cols.clear();
    };
    const blocks = s.rangeByNode.all({ tier: fine, lo: int(start - BLOCK_MS[fine]), hi: int(stop) });
    for (const r of blocks) {
      if (r.node_id !== node) {
        flush();
        node = r.node_id;
      }
      decodeInto(fine, r.start, r.body, r.tail, cols);
    }
    flush();
    // The pool's totals of the same units (sample-pool.ts), written once as the units are.
    this.appendRecords(tier, POOL_NODE, pool.records());
    s.setMark.run(tier, int(stop));
    return { rows, more: stop < end };
  }

  /**
   * A store that has no pool mark yet: pool rows are complete from the tier's mark on (its
   * rollups before were written without them: an upgraded store), or from the start if the tier
   * holds no rollup.
   */
  private initPoolMark(tier: RollupTier): void {
    if (this.mark(poolMark(tier)) !== null) return;
    const newest = this.s.lastBlockBefore.get(tier, int(Infinity))?.start ?? null;
    // Rollups exist only below the tier's mark; blocks written without one (a bench, a
    // conversion) reach to the end of the newest block.
    const from = this.mark(tier) ?? (newest === null ? Number.MIN_SAFE_INTEGER : newest + BLOCK_MS[tier]);
    this.s.setMark.run(poolMark(tier), int(from));
  }

  /**
   * Writes the pool rows of up to `blocks` blocks of `tier` below its pool mark, newest first,
   * and moves the mark down; true while older blocks are left.
   */
  private backfillPool(tier: RollupTier, blocks: number): boolean {
    for (let k = 0; k < blocks; k++) {
      const through = this.mark(poolMark(tier)) ?? Number.MIN_SAFE_INTEGER;
      if (through <= Number.MIN_SAFE_INTEGER) return false;
      const start = this.s.lastBlockBefore.get(tier, int(through))?.start ?? null;
      if (start === null) {
        this.s.setMark.run(poolMark(tier), int(Number.MIN_SAFE_INTEGER));
        return false;
      }
      const pool = new PoolRollup();
      const cols = new RecordColumns();
      for (const r of this.s.range.iterate({ tier, lo: int(start - 1), hi: int(start + 1) })) {
        cols.clear();
        decodeInto(tier, r.start, r.body, r.tail, cols);
        pool.addColumns(cols, start, through);
      }
      this.appendRecords(tier, POOL_NODE, pool.records());
      this.s.setMark.run(poolMark(tier), int(start));
    }
    return true;
  }
}
