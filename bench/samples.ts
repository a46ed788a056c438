// Utilisation samples benchmark: a pool of 1,000 GPUs whose store holds what the default
// retention keeps (24 h of raw samples every 5 s: 17.28 M rows; 7 days of minute rollups; 400
// days of hour rollups), then the time of GET /v1/samples for the dashboard's ranges (the last
// hour, 24 hours, 7 days in 240 buckets; per GPU, and with detail=pool as the dashboard asks),
// the database's size, one compaction pass and one prune pass. `npm run bench` calls benchSamples(); alone: `node --import tsx bench/samples.ts`
// (BENCH_SAMPLES_GPUS, BENCH_SAMPLES_RAW_HOURS make it smaller).
//
// Set-up writes the rows with INSERT … SELECT in SQL, not through appendSamples, so that it takes
// a minute rather than ten; the rollups older than the raw window are made the same way (values
// as compaction would leave them), the rest by the store's own compaction, which is timed.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { buildApp } from '../src/server/app.js';
import { ensureAdminToken } from '../src/server/main.js';
import { DEFAULT_SAMPLE_RETENTION, SampleMaintenance } from '../src/server/retention.js';
import { openStore } from '../src/store/index.js';
import type { UtilisationSample } from '../src/store/port.js';
import { HOUR_MS, MINUTE_MS, floorTo } from '../src/store/sample-tiers.js';
import { ManualClock } from '../src/util/clock.js';
import type { BenchRow } from './server.js';

export interface SamplesBenchOptions {
  /** GPUs in the pool, 8 per node. Default 1000. */
  gpus?: number;
  /** Hours of raw samples (every 5 s). Default 24. */
  rawHours?: number;
  /** Days of minute rollups, the raw hours included. Default 7. */
  minuteDays?: number;
  /** Days of hour rollups. Default 400. */
  hourDays?: number;
  /** Timed runs of each request; the median is reported. Default 3. */
  runs?: number;
}

const EVERY_MS = 5_000;
const DAY_MS = 24 * HOUR_MS;
/** Where the data ends: "now" for the queries. Hour-aligned, plus a few minutes into the next hour. */
const END = floorTo(1_700_000_000_000, HOUR_MS) + 7 * MINUTE_MS;

const ms = (x: number): number => Math.round(x * 10) / 10;
const mib = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;
const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** Per GPU i: node i / 8 (its heartbeat 37 ms × node into each 5 s), GPU i % 8; values vary by tick k. */
const NODE = "printf('node-%04d', i / 8)";
const gpuRows = (n: number, gpus: number): string =>
  `WITH RECURSIVE t(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM t WHERE k < ${n - 1}),
    g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < ${gpus - 1})`;

/** Raw samples for [from, from + n × 5 s), in time order as heartbeats would write them. */
function insertRaw(db: Database.Database, from: number, n: number, gpus: number): void {
  db.prepare(`${gpuRows(n, gpus)}
    INSERT INTO samples (at, node_id, gpu_index, util_percent, memory_used_mib, allocated_milli)
    SELECT ${from} + k * ${EVERY_MS} + ((i / 8) * 37) % ${EVERY_MS}, ${NODE}, i % 8, ((k * 7 + i * 13) % 101) * 1.0,
      (k * 31 + i * 1000) % 81920, (((k / 720) + i) % 5) * 250
    FROM t, g`).run();
}

/** Rollups of `unit` for [from, from + n units), each standing for `per` samples, in key order. */
function insertRollups(db: Database.Database, table: string, unit: number, per: number, from: number, n: number, gpus: number): void {
  if (n <= 0) return;
  db.prepare(`${gpuRows(n, gpus)}
    INSERT INTO ${table} (at, node_id, gpu_index, util_mean, memory_max_mib, allocated_mean, samples)
    SELECT ${from} + k * ${unit}, ${NODE}, i % 8, ((k * 7 + i * 13) % 101) * 1.0, (k * 31 + i * 1000) % 81920,
      ((k + i) % 5) * 250.0, ${per}
    FROM t, g ORDER BY 1, 2, 3`).run();
}

/** The database and its WAL. */
const dbBytes = (path: string): number => statSync(path).size + (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0);

export async function benchSamples(o: SamplesBenchOptions = {}): Promise<BenchRow[]> {
  const gpus = o.gpus ?? 1000;
  const rawHours = o.rawHours ?? 24;
  const minuteDays = o.minuteDays ?? 7;
  const hourDays = o.hourDays ?? 400;
  const runs = o.runs ?? 3;
  const size = `${gpus} GPUs, ${rawHours} h raw`;
  const dir = mkdtempSync(join(tmpdir(), 'fastgpu-bench-samples-'));
  const path = join(dir, 'fastgpu.db');
  const rows: BenchRow[] = [];
  const row = (name: string, value: number, unit: string, target = ''): void => {
    rows.push({ name, value, unit, target });
  };
  try {
    // ---- set-up: the schema by the store, the rows in SQL, an hour at a time
    const setup = openStore({ kind: 'sqlite', path });
    await setup.init();
    await setup.close();
    let t0 = performance.now();
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    const rawFrom = END - rawHours * HOUR_MS;
    // Hours and minutes older than what compaction will roll up from the raw samples below.
    const hourFrom = floorTo(END - hourDays * DAY_MS, HOUR_MS);
    const minuteFrom = floorTo(END - minuteDays * DAY_MS, HOUR_MS);
    insertRollups(db, 'samples_1h', HOUR_MS, 720, hourFrom, (minuteFrom - hourFrom) / HOUR_MS, gpus);
    db.pragma('wal_checkpoint(TRUNCATE)');
    insertRollups(db, 'samples_1m', MINUTE_MS, 12, minuteFrom, (floorTo(rawFrom, MINUTE_MS) - minuteFrom) / MINUTE_MS, gpus);
    db.pragma('wal_checkpoint(TRUNCATE)');
    // As if compaction had run up to the raw window (hours) and through the old minutes.
    db.prepare("INSERT INTO sample_rollup_marks (tier, through) VALUES ('hour', ?)").run(minuteFrom);
    const perHour = HOUR_MS / EVERY_MS;
    for (let h = 0; h < rawHours; h++) {
      insertRaw(db, rawFrom + h * HOUR_MS, perHour, gpus);
      db.pragma('wal_checkpoint(TRUNCATE)');
    }
    const count = (table: string): number => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    const rawRows = count('samples');
    db.close();
    process.stderr.write(`bench: samples: ${rawRows} raw samples written in ${Math.round((performance.now() - t0) / 1000)} s\n`);

    const store = openStore({ kind: 'sqlite', path });
    await store.init();
    const clock = new ManualClock(END);
    const maintenance = new SampleMaintenance({ store, clock, retention: DEFAULT_SAMPLE_RETENTION, log: (l) => process.stderr.write(`${l}\n`) });

    // ---- compaction: the backlog (what an upgraded store meets first), then one steady pass
    t0 = performance.now();
    const backlog = await maintenance.compact();
    row(`compaction, first pass over ${rawHours} h raw and ${minuteDays} d of minutes (${backlog.steps} steps)`, Math.round(performance.now() - t0), 'ms');
    // One more minute of heartbeats, written as the server does (one call per node and 5 s).
    clock.advance(MINUTE_MS);
    for (let at = END; at < END + MINUTE_MS; at += EVERY_MS) {
      for (let node = 0; node < gpus / 8; node++) {
        const batch: UtilisationSample[] = [];
        for (let g = 0; g < 8 && node * 8 + g < gpus; g++) batch.push({ at: at + node * 37, nodeId: `node-${String(node).padStart(4, '0')}`, gpuIndex: g, utilPercent: 50, memoryUsedMiB: 1000, allocatedMilli: 500 });
        await store.appendSamples(batch);
      }
    }
    t0 = performance.now();
    const pass = await maintenance.compact();
    row(`compaction pass, 1 minute of new samples (${pass.minutes} minute rows written)`, ms(performance.now() - t0), 'ms');
    t0 = performance.now();
    await maintenance.compact();
    row('compaction pass, nothing new', ms(performance.now() - t0), 'ms');

    // ---- size
    const check = new Database(path, { readonly: true });
    const n = (table: string): number => (check.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    const counts = { raw: n('samples'), minute: n('samples_1m'), hour: n('samples_1h') };
    check.close();
    const millions = (x: number): number => Math.round(x / 1e4) / 100;
    row('rows: raw samples', millions(counts.raw), 'M');
    row('rows: minute rollups', millions(counts.minute), 'M');
    row('rows: hour rollups', millions(counts.hour), 'M');
    row(`database size (${size}, ${minuteDays} d minutes, ${hourDays} d hours)`, mib(dbBytes(path)), 'MiB');

    // ---- GET /v1/samples over HTTP (in process, JSON included), and the store's read alone
    const token = await ensureAdminToken(dir, store, clock);
    const server = await buildApp({ store, clock, tickMs: 0, sampleMaintenance: false, log: () => {} });
    try {
      const now = clock.now();
      const ranges: [string, number][] = [['last hour', HOUR_MS], ['last 24 h', DAY_MS], ['last 7 days', 7 * DAY_MS]];
      for (const [label, span] of ranges) {
        const url = `/v1/samples?from=${now - span}&to=${now}&buckets=240`;
        const times: number[] = [];
        let body = '';
        for (let i = 0; i < runs; i++) {
          t0 = performance.now();
          const res = await server.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
          times.push(performance.now() - t0);
          if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${res.payload.slice(0, 200)}`);
          body = res.payload;
        }
        const answer = JSON.parse(body) as { samples: unknown[]; sources: { tier: string }[] };
        const tiers = answer.sources.map((s) => s.tier).join('+');
        row(`GET /v1/samples, ${label}, 240 buckets (${tiers}; ${answer.samples.length} points, ${mib(body.length)} MiB)`, Math.round(median(times)), 'ms');
        const bucketMs = Math.ceil((span + 1) / 240);
        const reads: number[] = [];
        for (let i = 0; i < runs; i++) {
          t0 = performance.now();
          await store.readSampleSeries({ from: now - span, to: now, bucketMs });
          reads.push(performance.now() - t0);
        }
        row(`  of which the store's read (GROUP BY in SQL, rows into JS)`, Math.round(median(reads)), 'ms');
        // What the dashboard asks: each bucket's totals only, summed in SQL.
        const pool: number[] = [];
        let poolBytes = 0;
        for (let i = 0; i < runs; i++) {
          t0 = performance.now();
          const res = await server.app.inject({ method: 'GET', url: `${url}&detail=pool`, headers: { authorization: `Bearer ${token}` } });
          pool.push(performance.now() - t0);
          if (res.statusCode !== 200) throw new Error(`GET ${url}&detail=pool: ${res.statusCode}`);
          poolBytes = res.payload.length;
        }
        row(`  the same with detail=pool, as the dashboard asks (${Math.round(poolBytes / 1024)} KiB)`, Math.round(median(pool)), 'ms');
      }
      // For comparison: 7 days from minute rollups (what 42-minute buckets would read if minutes
      // were used up to hour-long buckets), and the old way of the last hour (every raw row into JS).
      t0 = performance.now();
      await store.readSampleSeries({ from: now - 7 * DAY_MS, to: now, bucketMs: 29 * MINUTE_MS });
      row('  for comparison: store read of 7 days from minute rollups', Math.round(performance.now() - t0), 'ms');
      t0 = performance.now();
      const old = await store.listSamples(now - HOUR_MS, now);
      row(`  for comparison: the last hour's ${old.length} raw rows loaded into JS (before)`, Math.round(performance.now() - t0), 'ms');
    } finally {
      await server.close();
    }

    // ---- pruning: 10 minutes past each window (what every 10-minute pass meets), then idle
    clock.set(END + 10 * MINUTE_MS);
    t0 = performance.now();
    const pruned = await maintenance.prune();
    row(`prune pass, 10 minutes expired (${pruned.raw} raw, ${pruned.minute} minute, ${pruned.hour} hour rows)`, Math.round(performance.now() - t0), 'ms');
    t0 = performance.now();
    await maintenance.prune();
    row('prune pass, nothing expired', ms(performance.now() - t0), 'ms');
    await maintenance.close();
    await store.close();
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const env = (k: string): number | undefined => (process.env[k] ? Number(process.env[k]) : undefined);
  const result = await benchSamples({ gpus: env('BENCH_SAMPLES_GPUS'), rawHours: env('BENCH_SAMPLES_RAW_HOURS') });
  const w = Math.max(...result.map((r) => r.name.length));
  for (const r of result) console.log(`${r.name.padEnd(w)}  ${String(r.value).padStart(10)}  ${r.unit.padEnd(8)}  ${r.target}`);
}
