// Converts the samples of a database written before sample blocks (one row per sample in
// `samples`, one per GPU and minute or hour in `samples_1m` / `samples_1h`) into blocks, in one
// transaction: a crash leaves the old tables as they were, and the next open converts again.
// Then drops the old tables and vacuums once, so the file shrinks to what the blocks take.
// Run by the store after its migrations, when the old tables are still there.
import type Database from 'better-sqlite3';
import type { SampleRollup } from '../port.js';
import { BLOCK_MS, blockStart, encodeBody, toRecord, type BlockRecord } from '../sample-blocks.js';
import { HOUR_MS, MINUTE_MS, floorTo, type SampleTier } from '../sample-tiers.js';
import { rowToSample, type SampleRow } from './rows.js';

const LEGACY: readonly [SampleTier, string][] = [
  ['raw', 'samples'],
  ['minute', 'samples_1m'],
  ['hour', 'samples_1h'],
];

interface RollupRow {
  at: number;
  node_id: string;
  gpu_index: number;
  util_mean: number;
  memory_max_mib: number;
  allocated_mean: number;
  samples: number;
}

const fromRollupRow = (r: RollupRow): SampleRollup => ({
  at: r.at,
  nodeId: r.node_id,
  gpuIndex: r.gpu_index,
  utilPercent: r.util_mean,
  memoryUsedMiB: r.memory_max_mib,
  allocatedMilli: r.allocated_mean,
  samples: r.samples,
});

/** Whether the store still has samples in the old layout (and the new tables to move them to). */
export function hasLegacySamples(db: Database.Database): boolean {
  const names = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
  return names.has('sample_blocks') && LEGACY.some(([, t]) => names.has(t));
}

export interface LegacyConversion {
  raw: number;
  minute: number;
  hour: number;
  blocks: number;
}

/** Moves every old-layout sample and rollup into blocks; returns how many of each. */
export function convertLegacySamples(db: Database.Database): LegacyConversion {
  const out: LegacyConversion = { raw: 0, minute: 0, hour: 0, blocks: 0 };
  const insert = db.prepare("INSERT INTO sample_blocks (tier, start, node_id, body, tail) VALUES (?, ?, ?, ?, x'')");
  const setMark = db.prepare('INSERT INTO sample_marks (name, at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET at = excluded.at');
  let converted = false;
  db.transaction(() => {
    // Read under the write lock (IMMEDIATE): another process opening the same file may have
    // converted and dropped the old tables since we looked.
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    if (!LEGACY.some(([, t]) => tables.has(t))) return;
    converted = true;
    for (const [tier, table] of LEGACY) {
      if (!tables.has(table)) continue;
      // A block of time at a time, in time order (the table's time index or key), skipping
      // empty stretches: the whole table never sits in memory.
      const first = db.prepare(`SELECT MIN(at) AS at FROM ${table} WHERE at >= ?`);
      const range = db.prepare(`SELECT * FROM ${table} WHERE at >= ? AND at < ?`);
      for (let next = (first.get(Number.MIN_SAFE_INTEGER) as { at: number | null }).at; next !== null; ) {
        const start = blockStart(tier, next);
        const nodes = new Map<string, BlockRecord[]>();
        for (const row of range.all(start, start + BLOCK_MS[tier]) as (SampleRow | RollupRow)[]) {
          const x = tier === 'raw' ? rowToSample(row as SampleRow) : fromRollupRow(row as RollupRow);
          const r = toRecord(tier, x);
          const list = nodes.get(x.nodeId);
          if (list) list.push(r);
          else nodes.set(x.nodeId, [r]);
          out[tier]++;
        }
        for (const [node, rs] of nodes) insert.run(tier, start, node, encodeBody(tier, start, rs));
        out.blocks += nodes.size;
        next = (first.get(start + BLOCK_MS[tier]) as { at: number | null }).at;
      }
    }
    // How far compaction got, and where pruning had eaten into a tier: the finer tier was pruned
    // when the coarser holds a unit before its oldest row, or more samples in that row's unit
    // than it does; it is whole only from its next block on.
    const marks = tables.has('sample_rollup_marks') ? (db.prepare('SELECT tier, through FROM sample_rollup_marks').all() as { tier: string; through: number }[]) : [];
    const through: Record<string, number> = {};
    for (const m of marks) {
      setMark.run(m.tier, m.through);
      through[m.tier] = m.through;
    }
    const pruned = (fine: string, coarse: string, unit: number, count: string): number | null => {
      const oldest = tables.has(fine) && tables.has(coarse) ? (db.prepare(`SELECT MIN(at) AS at FROM ${fine}`).get() as { at: number | null }).at : null;
      if (oldest === null) return null;
      const u = floorTo(oldest, unit);
      const before = db.prepare(`SELECT 1 AS x FROM ${coarse} WHERE at < ? LIMIT 1`).get(u) !== undefined;
      const want = (db.prepare(`SELECT COALESCE(SUM(samples), 0) AS n FROM ${coarse} WHERE at = ?`).get(u) as { n: number }).n;
      const have = (db.prepare(`SELECT COALESCE(${count}, 0) AS n FROM ${fine} WHERE at >= ? AND at < ?`).get(u, u + unit) as { n: number }).n;
      return before || want > have ? oldest : null;
    };
    const raw = pruned('samples', 'samples_1m', MINUTE_MS, 'COUNT(*)');
    if (raw !== null && through.minute !== undefined) setMark.run('pruned:raw', Math.min(blockStart('raw', raw) + BLOCK_MS.raw, through.minute));
    const minute = pruned('samples_1m', 'samples_1h', HOUR_MS, 'SUM(samples)');
    if (minute !== null && through.hour !== undefined) setMark.run('pruned:minute', Math.min(blockStart('minute', minute) + BLOCK_MS.minute, through.hour));
    for (const t of ['samples', 'samples_1m', 'samples_1h', 'sample_rollup_marks']) db.exec(`DROP TABLE IF EXISTS ${t}`);
  }).immediate();
  // The old rows' pages are free now; give them back to the file system, once.
  if (converted) db.exec('VACUUM');
  return out;
}
