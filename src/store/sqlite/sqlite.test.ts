import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { openEntry } from '../../core/pricing/ledger.js';
import type { PricedUsage } from '../../core/pricing/types.js';
import { fixtureBook, fixturePromo } from '../conformance-billing.js';
import { fixtureNode, fixtureTask, storeConformance } from '../conformance.js';
import { openStore } from '../index.js';
import type { SamplePoint, Store } from '../port.js';
import { loadMigrations, migrate, SchemaTooNewError, type Migration } from './migrate.js';
import { H0, NOW, referenceSeries, twoDays } from '../conformance-samples.js';
import { HOUR_MS, MINUTE_MS, floorTo } from '../sample-tiers.js';
import { readBlocksSql } from './samples.js';
import { LIVE_TASKS_SQL, SqliteStore } from './store.js';

const root = mkdtempSync(join(tmpdir(), 'fastgpu-store-'));
let n = 0;
const freshPath = (): string => join(root, `db${n++}`, 'nested', 'fastgpu.db');

afterAll(() => rmSync(root, { recursive: true, force: true }));

storeConformance('sqlite', async () => openStore({ kind: 'sqlite', path: freshPath() }));

describe('SqliteStore specifics', () => {
  it('sets WAL, synchronous=NORMAL and foreign keys on a file it creates with its folder', async () => {
    const path = freshPath();
    const s = new SqliteStore({ path });
    await s.init();
    await s.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    // synchronous and foreign_keys are per connection: check on the store's own.
    const s2 = new SqliteStore({ path });
    await s2.init();
    const conn = (s2 as unknown as { db: Database.Database }).db;
    expect(conn.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(conn.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(conn.pragma('busy_timeout', { simple: true })).toBeGreaterThan(0);
    expect(conn.pragma('wal_autocheckpoint', { simple: true })).toBe(10_000);
    await s2.close();
  });

  it('finds everything again after close and reopen', async () => {
    const path = freshPath();
    const a = openStore({ kind: 'sqlite', path });
    await a.init();
    await a.upsertNode(fixtureNode('n1'));
    await a.insertTasks([fixtureTask('t1', { nodeId: 'n1', state: 'RUNNING' }), fixtureTask('t2', { createdAt: 2e12 })]);
    await a.appendLogs([{ taskId: 't1', attempt: 1, stream: 'stdout', seq: 0, at: 1, data: 'héllo\n' }]);
    const [ev] = await a.appendEvents([{ at: 1, type: 'task.submitted', taskId: 't1', data: {} }]);
    await a.insertToken({ id: 'k', hash: 'h', tenant: 't', role: 'admin', name: 'admin', createdAt: 1, revokedAt: null });
    await a.setMeta('cluster', 'c1');
    await a.close();

    const b = openStore({ kind: 'sqlite', path });
    await b.init();
    expect(await b.getNode('n1')).toEqual(fixtureNode('n1'));
    expect(await b.getTask('t1')).toEqual(fixtureTask('t1', { nodeId: 'n1', state: 'RUNNING' }));
    expect((await b.listLiveTasks()).map((t) => t.id)).toEqual(['t1', 't2']);
    expect((await b.readLogs('t1')).chunks[0]?.data).toBe('héllo\n');
    expect(await b.listEvents(0)).toEqual([ev]);
    expect((await b.findTokenByHash('h'))?.role).toBe('admin');
    expect(await b.getMeta('cluster')).toBe('c1');
    // Sequences continue where they stopped rather than restarting.
    const [ev2] = await b.appendEvents([{ at: 2, type: 'task.started', taskId: 't1', data: {} }]);
    expect(ev2!.seq).toBeGreaterThan(ev!.seq);
    await b.close();
  });

  it('refuses a database written by a newer FastGPU and leaves it alone', async () => {
    const path = freshPath();
    const s = new SqliteStore({ path });
    await s.init();
    await s.close();
    // One past the newest migration this code knows, whatever that number is.
    const code = loadMigrations().length;
    const future = code + 1;
    const db = new Database(path);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)").run(future);
    db.close();

    const again = new SqliteStore({ path });
    const err = await again.init().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaTooNewError);
    expect((err as Error).message).toBe(`database schema version ${future} is newer than this FastGPU (${code}); upgrade FastGPU`);
    await expect(again.getTask('x')).rejects.toThrow(/init/);
    await again.close();
    const check = new Database(path, { readonly: true });
    expect(check.prepare('SELECT MAX(version) AS v FROM schema_migrations').get()).toEqual({ v: future });
    check.close();
  });

  it('applies only the missing migrations, in order, and records each', async () => {
    const path = freshPath();
    const v1: Migration[] = [{ version: 1, name: 'one', sql: 'CREATE TABLE a (x INTEGER);' }];
    const v3: Migration[] = [
      ...v1,
      { version: 2, name: 'two', sql: 'ALTER TABLE a ADD COLUMN y INTEGER;' },
      { version: 3, name: 'three', sql: 'CREATE INDEX a_y ON a (y); INSERT INTO a (x, y) VALUES (1, 2);' },
    ];
    mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    expect(migrate(db, v1, 10)).toEqual({ from: 0, to: 1 });
    expect(migrate(db, v3, 20)).toEqual({ from: 1, to: 3 });
    expect(migrate(db, v3, 30)).toEqual({ from: 3, to: 3 });
    expect(db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all()).toEqual([
      { version: 1, name: 'one', applied_at: 10 },
      { version: 2, name: 'two', applied_at: 20 },
      { version: 3, name: 'three', applied_at: 20 },
    ]);
    // A failing migration rolls back entirely: no half-applied schema, no version row.
    const bad: Migration[] = [...v3, { version: 4, name: 'bad', sql: 'CREATE TABLE b (x); INSERT INTO nope VALUES (1);' }];
    expect(() => migrate(db, bad, 40)).toThrow(/nope/);
    expect(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'b'").get()).toEqual({ n: 0 });
    expect(db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get()).toEqual({ v: 3 });
    db.close();
  });

  it('ships numbered migration files without gaps', () => {
    const ms = loadMigrations();
    expect(ms.length).toBeGreaterThanOrEqual(1);
    expect(ms.map((m) => m.version)).toEqual(ms.map((_, i) => i + 1));
    expect(ms[0]?.name).toBe('init');
    expect(ms[1]?.name).toBe('tenancy');
  });

  it('serialises two stores migrating one fresh file at the same time', async () => {
    // Real processes, so that the two migrations truly overlap (better-sqlite3 is synchronous:
    // two stores in one process would just take turns).
    const path = freshPath();
    const storeModule = fileURLToPath(new URL('../index.ts', import.meta.url));
    const script = `
      const { openStore } = await import(${JSON.stringify(storeModule)});
      const s = openStore({ kind: 'sqlite', path: ${JSON.stringify(path)} });
      await s.init();
      await s.insertTasks([{ ...${JSON.stringify(fixtureTask('x'))}, id: 'task-' + process.pid }]);
      await s.close();
    `;
    const run = promisify(execFile);
    await Promise.all(
      [0, 1, 2].map(() => run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 60_000 })),
    );
    const s = openStore({ kind: 'sqlite', path });
    await s.init();
    expect(await s.countTasks()).toBe(3);
    await s.close();
    const db = new Database(path, { readonly: true });
    const rows = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all();
    expect(rows).toEqual(loadMigrations().map((m) => ({ version: m.version })));
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });

  it('keeps every acknowledged write through a kill -9 of the writer', async () => {
    const path = freshPath();
    const storeModule = fileURLToPath(new URL('../index.ts', import.meta.url));
    // The child writes one task (and a log line) at a time and prints each id once the
    // store has acknowledged it; it is killed mid-stream.
    const script = `
      const { openStore } = await import(${JSON.stringify(storeModule)});
      const s = openStore({ kind: 'sqlite', path: ${JSON.stringify(path)} });
      await s.init();
      const base = ${JSON.stringify(fixtureTask('x'))};
      for (let i = 0; ; i++) {
        const id = 'k' + i;
        await s.insertTasks([{ ...base, id }]);
        await s.appendLogs([{ taskId: id, attempt: 1, stream: 'stdout', seq: 0, at: i, data: 'x'.repeat(2000) }]);
        process.stdout.write(id + '\\n');
      }
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    // Never leave the endless writer behind, whatever happens (a timeout included).
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const acked: string[] = [];
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        acked.push(...lines);
        // 100 acknowledged writes (200 fsyncs): on a box whose disk other suites keep busy, 300
        // of them once took over the test's two minutes.
        if (acked.length >= 100) child.kill('SIGKILL');
      });
      child.on('exit', () => resolve());
      child.on('error', reject);
    });
    const s = openStore({ kind: 'sqlite', path });
    await s.init();
    const stored = new Set((await s.listTasks({ limit: 1_000_000 })).map((t) => t.id));
    expect(acked.filter((id) => !stored.has(id))).toEqual([]);
    expect((await s.readLogs(acked[acked.length - 1]!)).chunks).toHaveLength(1);
    await s.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });

  it('two stores on one file see each other and lose no conditional write', async () => {
    const path = freshPath();
    const a: Store = openStore({ kind: 'sqlite', path });
    const b: Store = openStore({ kind: 'sqlite', path });
    await Promise.all([a.init(), b.init()]);
    await a.insertTasks([fixtureTask('t')]);
    const t = (await b.getTask('t'))!;
    expect(await a.writeTasks([{ task: { ...t, state: 'SCHEDULED', version: 2 }, expectedVersion: 1 }])).toEqual([]);
    expect(await b.writeTasks([{ task: { ...t, state: 'CANCELLED', version: 2 }, expectedVersion: 1 }])).toEqual(['t']);
    expect((await b.getTask('t'))?.state).toBe('SCHEDULED');
    await a.close();
    await b.close();
  });

  it('loads live tasks through the partial index', async () => {
    const path = freshPath();
    const s = new SqliteStore({ path });
    await s.init();
    const conn = (s as unknown as { db: Database.Database }).db;
    const plan = conn.prepare(`EXPLAIN QUERY PLAN ${LIVE_TASKS_SQL}`).all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join('\n')).toMatch(/USING INDEX tasks_live/);
    await s.close();
  });

  it('lists by any single filter from an index already in newest-first order', async () => {
    const s = new SqliteStore({ path: freshPath() });
    await s.init();
    await s.insertTasks([fixtureTask('t')]);
    const filters = [{}, { tenant: 'a' }, { nodeId: 'n' }, { vgpuId: 'v' }, { gangId: 'g' }, { states: ['PENDING' as const] }, { before: 't' }];
    for (const f of filters) await s.listTasks(f);
    const { db, shaped } = s as unknown as { db: Database.Database; shaped: Map<string, unknown> };
    expect(shaped.size).toBe(filters.length);
    for (const sql of shaped.keys()) {
      const params = Object.fromEntries([...sql.matchAll(/@(\w+)/g)].map((m) => [m[1], m[1] === 'limit' ? 10 : 'x']));
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((p) => p.detail).join(' | ');
      expect(plan, sql).not.toMatch(/TEMP B-TREE|SCAN tasks$/);
    }
    await s.close();
  });

  it('reads one task’s events from the events_task index, already in seq order', async () => {
    const s = new SqliteStore({ path: freshPath() });
    await s.init();
    await s.appendEvents([{ at: 1, type: 'task.submitted', taskId: 't', data: {} }]);
    const db = (s as unknown as { db: Database.Database }).db;
    const plan = (db.prepare('EXPLAIN QUERY PLAN SELECT * FROM events WHERE task_id = @taskId AND seq > @after ORDER BY seq LIMIT @limit').all({ taskId: 't', after: 0, limit: 10 }) as { detail: string }[])
      .map((p) => p.detail)
      .join(' | ');
    expect(plan).toMatch(/USING INDEX events_task/);
    expect(plan).not.toMatch(/TEMP B-TREE/);
    await s.close();
  });

  it('adds the events_task index to a version-3 database, keeping its events', async () => {
    const path = freshPath();
    const v3 = new SqliteStore({ path, migrations: loadMigrations().slice(0, 3) });
    await v3.init();
    const old = await v3.appendEvents([
      { at: 1, type: 'task.submitted', taskId: 't1', data: {} },
      { at: 2, type: 'node.registered', nodeId: 'n1', data: {} },
      { at: 3, type: 'task.started', taskId: 't1', nodeId: 'n1', data: { attempt: 1 } },
    ]);
    await v3.close();
    const s = openStore({ kind: 'sqlite', path });
    await s.init();
    expect(await s.listTaskEvents('t1')).toEqual([old[0], old[2]]);
    await s.close();
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'").all()).toEqual([{ name: 'events_task' }]);
    db.close();
  });
});

describe('SqliteStore sample block specifics', () => {
  const planOf = (db: Database.Database, sql: string, params: unknown): string =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((p) => p.detail).join(' | ');
  /** The migrations of the schema before sample blocks: today's on main. */
  const beforeBlocks = (): Migration[] => {
    const all = loadMigrations();
    return all.slice(0, all.findIndex((m) => m.sql.includes('CREATE TABLE sample_blocks')));
  };
  // The previous code's compaction, as it wrote the rollup tables.
  const OLD_ROLL_MINUTES = `INSERT OR REPLACE INTO samples_1m (at, node_id, gpu_index, util_mean, memory_max_mib, allocated_mean, samples)
    SELECT (at / 60000) * 60000, node_id, gpu_index, AVG(util_percent), MAX(memory_used_mib), AVG(allocated_milli), COUNT(*)
    FROM samples WHERE at >= @start AND at < @stop GROUP BY 1, 2, 3`;
  const OLD_ROLL_HOURS = `INSERT OR REPLACE INTO samples_1h (at, node_id, gpu_index, util_mean, memory_max_mib, allocated_mean, samples)
    SELECT (at / 3600000) * 3600000, node_id, gpu_index, SUM(util_mean * samples) / SUM(samples), MAX(memory_max_mib),
      SUM(allocated_mean * samples) / SUM(samples), SUM(samples)
    FROM samples_1m WHERE at >= @start AND at < @stop GROUP BY 1, 2, 3`;

  it('converts the samples and rollups of a database written by the previous schema into blocks', async () => {
    const path = freshPath();
    const old = new SqliteStore({ path, migrations: beforeBlocks() });
    await old.init();
    await old.close();
    // What the previous code left: two days of raw samples, rolled up through H0 + 40 h, raw
    // samples pruned (in a batch that stopped mid-minute) before H0 + 20 h.
    const raw = twoDays();
    const db = new Database(path);
    const insert = db.prepare(`INSERT INTO samples (at, node_id, gpu_index, util_percent, memory_used_mib, allocated_milli)
      VALUES (@at, @nodeId, @gpuIndex, @utilPercent, @memoryUsedMiB, @allocatedMilli)`);
    db.transaction(() => raw.forEach((x) => insert.run(x)))();
    const through = H0 + 40 * HOUR_MS;
    db.prepare(OLD_ROLL_MINUTES).run({ start: 0, stop: through });
    db.prepare(OLD_ROLL_HOURS).run({ start: 0, stop: through });
    db.prepare("INSERT INTO sample_rollup_marks (tier, through) VALUES ('minute', ?), ('hour', ?)").run(through, through);
    const prunedBefore = H0 + 20 * HOUR_MS + 15_000;
    db.prepare('DELETE FROM samples WHERE at < ?').run(prunedBefore);
    const oldMinutes = db.prepare('SELECT COUNT(*) AS n FROM samples_1m').get() as { n: number };
    db.close();
    const sizeBefore = statSync(path).size;

    const s = openStore({ kind: 'sqlite', path });
    await s.init();
    const check = new Database(path, { readonly: true });
    const tables = (check.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'sample%'").all() as { name: string }[]).map((r) => r.name);
    check.close();
    expect(tables.sort()).toEqual(['sample_blocks', 'sample_marks']);
    const kept = raw.filter((x) => x.at >= prunedBefore);
    expect(await s.listSamples(0, NOW)).toEqual(referenceSeries(kept, 0, NOW, 1).map(({ samples: _n, ...x }) => ({ ...x, at: x.at })));
    const minutes = await s.listSampleRollups('minute', 0, NOW);
    expect(minutes).toHaveLength(oldMinutes.n);
    // Rollup means as the old code computed them, to the 0.01 the blocks keep.
    const within = (got: SamplePoint[], want: SamplePoint[]) => {
      expect(got.map((p) => [p.at, p.nodeId, p.gpuIndex, p.samples, p.memoryUsedMiB])).toEqual(want.map((p) => [p.at, p.nodeId, p.gpuIndex, p.samples, p.memoryUsedMiB]));
      got.forEach((p, i) => {
        expect(Math.abs(p.utilPercent - want[i]!.utilPercent)).toBeLessThanOrEqual(0.005 + 1e-9);
        expect(Math.abs(p.allocatedMilli - want[i]!.allocatedMilli)).toBeLessThanOrEqual(0.005 + 1e-9);
      });
    };
    within(minutes, referenceSeries(raw, floorTo(H0 - 10 * MINUTE_MS, MINUTE_MS), through - 1, MINUTE_MS));
    within(await s.listSampleRollups('hour', 0, NOW), referenceSeries(raw, H0 - HOUR_MS, through - 1, HOUR_MS).map((p) => ({ ...p, at: floorTo(p.at, HOUR_MS) })));
    // Reads take the minutes where the raw samples were pruned, and count every sample once.
    const r = await s.readSampleSeries({ from: H0, to: NOW, bucketMs: 30_000 });
    expect(r.sources[0]).toEqual({ tier: 'minute', from: H0, to: floorTo(prunedBefore, 10 * MINUTE_MS) + 10 * MINUTE_MS - 1 });
    expect(r.points.reduce((n, p) => n + p.samples, 0)).toBe(raw.filter((x) => x.at >= H0).length);
    // Compaction goes on from the old marks.
    while ((await s.compactSamples(NOW - 30_000)).more);
    const hours = await s.listSampleRollups('hour', 0, NOW);
    expect(hours.reduce((n, h) => n + h.samples, 0)).toBe(raw.filter((x) => x.at < floorTo(NOW - 30_000, HOUR_MS)).length);
    await s.close();
    expect(statSync(path).size).toBeLessThan(sizeBefore / 3);
  });

  it('gives a store upgraded without pool rollups its pool rows, and reads per GPU until they are whole', async () => {
    const path = freshPath();
    const s = new SqliteStore({ path });
    await s.init();
    await s.appendSamples(twoDays());
    while ((await s.compactSamples(NOW - 30_000)).more);
    const q = { from: H0, to: NOW, bucketMs: HOUR_MS, detail: 'pool' as const };
    const pooled = await s.readSampleSeries(q);
    const db = (s as unknown as { db: Database.Database }).db;
    const poolRows = (): number => (db.prepare("SELECT COUNT(*) AS n FROM sample_blocks WHERE node_id = ''").get() as { n: number }).n;
    expect(poolRows()).toBeGreaterThan(0);
    // What a store written before pool rollups holds: the per-GPU blocks and marks only.
    db.exec("DELETE FROM sample_blocks WHERE node_id = ''; DELETE FROM sample_marks WHERE name LIKE 'pool:%'");
    const perGpu = await s.readSampleSeries({ ...q, detail: 'series' });
    const round = (b: { at: number; gpus: number; utilPercent: number; allocatedMilli: number }[] | undefined) =>
      (b ?? []).map((x) => ({ ...x, utilPercent: Math.round(x.utilPercent * 1e4) / 1e4 }));
    // Without pool rows, detail pool is the per-GPU totals.
    expect(round((await s.readSampleSeries(q)).buckets)).toEqual(round(perGpu.buckets));
    // Compaction marks the pool rows whole from its own mark on, then fills in back, step by step.
    const first = await s.compactSamples(NOW - 30_000);
    expect(first.more).toBe(true);
    expect(db.prepare("SELECT at FROM sample_marks WHERE name = 'pool:hour'").get()).toBeDefined();
    while ((await s.compactSamples(NOW - 30_000)).more);
    expect(db.prepare("SELECT at FROM sample_marks WHERE name IN ('pool:minute', 'pool:hour')").all()).toEqual([
      { at: Number.MIN_SAFE_INTEGER },
      { at: Number.MIN_SAFE_INTEGER },
    ]);
    expect(poolRows()).toBeGreaterThan(0);
    expect(await s.readSampleSeries(q)).toEqual(pooled);
    // Pruning takes a tier's pool rows with its last nodes' blocks of their time.
    while ((await s.pruneSamples('hour', NOW + 400 * 24 * HOUR_MS, 2)) > 0);
    expect((db.prepare("SELECT COUNT(*) AS n FROM sample_blocks WHERE tier = 'hour'").get() as { n: number }).n).toBe(0);
    await s.close();
  });

  it('reads, rolls up, seals and prunes through the primary key, scanning no table whole', async () => {
    const s = new SqliteStore({ path: freshPath() });
    await s.init();
    await s.compactSamples(H0); // prepares the statements
    const db = (s as unknown as { db: Database.Database }).db;
    const range = { hLo: 0, hHi: 1, mLo: 0, mHi: 1, rLo: 0, rHi: 1, node: 'n' };
    const plans = [
      planOf(db, readBlocksSql(false), range),
      planOf(db, readBlocksSql(true), range),
      planOf(db, readBlocksSql(false, { minute: true, hour: true }), range),
      planOf(db, 'SELECT tier, start, node_id, body, tail FROM sample_blocks WHERE tier = @tier AND start > @lo AND start < @hi ORDER BY start, node_id', { tier: 'raw', lo: 0, hi: 1 }),
      planOf(db, 'DELETE FROM sample_blocks WHERE rowid IN (SELECT rowid FROM sample_blocks WHERE tier = ? AND start < ? ORDER BY start LIMIT ?)', ['raw', 0, 1]),
    ];
    for (const plan of plans) {
      expect(plan).not.toMatch(/SCAN sample_blocks( |$)/);
      expect(plan).toMatch(/SEARCH sample_blocks USING (COVERING )?INDEX sqlite_autoindex_sample_blocks_1/);
    }
    await s.close();
  });
});

describe('SqliteStore billing specifics', () => {
  const T0 = Date.UTC(2025, 2, 1);
  const entry = (taskId: string) =>
    openEntry({ tenant: 'a', taskId, attempt: 1, gpuModel: 'H100-80GB', gpuMilli: 500, gpuCount: 1, cpuMilli: 1000, memoryMiB: 1024 }, T0);
  const usage = (taskId: string, charged: bigint): PricedUsage => ({
    segment: { tenant: 'a', taskId, attempt: 1, gpuModel: 'H100-80GB', gpuMilli: 500, gpuCount: 1, from: T0, to: T0 + 1000, anchor: T0 },
    gpuModel: 'H100-80GB',
    unitPrice: 1n,
    lines: [{ from: T0, to: T0 + 1000, seconds: 1, listAmount: charged + 5n, discountAmount: 5n, chargedAmount: charged, promotion: 'night' }],
    listAmount: charged + 5n,
    discountAmount: 5n,
    chargedAmount: charged,
    promoSpent: new Map([['night', 5n]]),
  });

  it('finds tenants, prices, promotions, the ledger and its totals again after close and reopen', async () => {
    const path = freshPath();
    const a = openStore({ kind: 'sqlite', path });
    await a.init();
    const tenant = { name: 'a', guaranteeMilli: 1500, limitMilli: null, weight: 3, budget: 2n ** 62n, createdAt: T0, defaultTimeLimitMs: 86_400_000 };
    await a.upsertTenant(tenant);
    await a.setPriceBook(fixtureBook());
    await a.insertPromotion(fixturePromo());
    const e = { ...entry('t1'), settledTo: T0 + 1000, chargedAmount: 2n ** 62n, listAmount: 2n ** 62n + 5n, discountAmount: 5n };
    expect(await a.settleLedger({ writes: [{ entry: e, expectedSettledTo: null }], priced: [usage('t1', 2n ** 62n)], promoSpent: new Map([['night', 5n]]) })).toEqual([]);
    const lines = await a.listPricedUsage();
    await a.close();

    const b = openStore({ kind: 'sqlite', path });
    await b.init();
    expect(await b.getTenant('a')).toEqual(tenant);
    expect(await b.getPriceBook()).toEqual(fixtureBook());
    expect(await b.listPromotions()).toEqual([fixturePromo()]);
    expect(await b.listLedgerEntries({ open: true })).toEqual([e]);
    expect(await b.listPricedUsage()).toEqual(lines);
    expect(await b.spendByTenant()).toEqual(new Map([['a', 2n ** 62n]]));
    expect(await b.getPromoSpent()).toEqual(new Map([['night', 5n]]));
    // The stored state is where the next settlement starts: replaying the last one is refused.
    expect(await b.settleLedger({ writes: [{ entry: e, expectedSettledTo: null }], priced: [], promoSpent: new Map([['night', 5n]]) })).toEqual(['t1/1/0']);
    await b.close();
  });

  it('upgrades a version-1 database, keeping its data', async () => {
    const path = freshPath();
    const v1 = new SqliteStore({ path, migrations: loadMigrations().slice(0, 1) });
    await v1.init();
    await v1.insertTasks([fixtureTask('old')]);
    await v1.close();

    const s = openStore({ kind: 'sqlite', path });
    await s.init();
    expect(await s.getTask('old')).toEqual(fixtureTask('old'));
    await s.upsertTenant({ name: 'x', guaranteeMilli: 0, limitMilli: null, weight: 1, budget: null, createdAt: 1 });
    expect(await s.listTenants()).toHaveLength(1);
    await s.close();
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all()).toEqual(
      loadMigrations().map((m) => ({ version: m.version, name: m.name })),
    );
    db.close();
  });

  it('rolls a settlement back whole when a write fails midway (an amount past 2^63)', async () => {
    const s = openStore({ kind: 'sqlite', path: freshPath() });
    await s.init();
    await s.openLedgerEntry(entry('t0'));
    const moved = { ...entry('t0'), settledTo: T0 + 1000 };
    // The entry write and the first line succeed; the second line's amount does not fit INTEGER.
    const err = await s
      .settleLedger({
        writes: [{ entry: moved, expectedSettledTo: T0 }, { entry: entry('t1'), expectedSettledTo: null }],
        priced: [usage('t1', 10n), usage('t2', 2n ** 63n)],
        promoSpent: new Map([['night', 10n]]),
      })
      .catch((x: unknown) => x);
    expect(err).toBeInstanceOf(Error);
    expect(await s.listLedgerEntries()).toEqual([entry('t0')]);
    expect(await s.listPricedUsage()).toEqual([]);
    expect(await s.spendByTenant()).toEqual(new Map());
    expect(await s.getPromoSpent()).toEqual(new Map());
    // Nothing is left half-open: the store goes on working.
    expect(await s.settleLedger({ writes: [{ entry: moved, expectedSettledTo: T0 }], priced: [usage('t0', 10n)], promoSpent: new Map([['night', 5n]]) })).toEqual([]);
    expect(await s.spendByTenant()).toEqual(new Map([['a', 10n]]));
    await s.close();
  });

  it('reads open entries from the partial index and probes lines by attempt', async () => {
    const s = new SqliteStore({ path: freshPath() });
    await s.init();
    await s.listLedgerEntries({ open: true });
    const db = (s as unknown as { db: Database.Database }).db;
    const plan = (sql: string, params: Record<string, unknown> = {}): string =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((p) => p.detail).join(' | ');
    expect(plan('SELECT * FROM ledger_entries WHERE to_ms IS NULL ORDER BY task_id, attempt, seq')).toMatch(/USING INDEX ledger_open/);
    expect(plan('SELECT * FROM ledger_entries WHERE tenant = @t ORDER BY task_id, attempt, seq', { t: 'a' })).toMatch(/USING INDEX ledger_tenant/);
    expect(
      plan('SELECT to_ms FROM priced_lines WHERE task_id = @a AND attempt = @b AND from_ms < @c ORDER BY from_ms DESC LIMIT 1', { a: 't', b: 1, c: 2 }),
    ).toMatch(/USING INDEX priced_lines_attempt/);
    expect(plan('SELECT * FROM priced_lines WHERE tenant = @t AND to_ms > @f', { t: 'a', f: 0 })).toMatch(/USING INDEX priced_lines_tenant/);
    await s.close();
  });
});

describe('store benchmark', () => {
  it('runs at a small size and reports every metric', async () => {
    // Keeps bench/store.ts from rotting; the timings themselves are not asserted here.
    const { benchStore } = await import('../../../bench/store.js');
    const r = await benchStore({ singleInserts: 200, total: 2000 });
    expect(r).toMatchObject({ 'tasks in store': 2000, 'live tasks': 200 });
    expect(r['single-task inserts/s']).toBeGreaterThan(0);
  });
});

describe('samples benchmark', () => {
  it('runs at a small size and reports every metric', async () => {
    // Keeps bench/samples.ts from rotting; the timings themselves are not asserted here.
    const { benchSamples } = await import('../../../bench/samples.js');
    const rows = await benchSamples({ gpus: 16, rawHours: 2, minuteDays: 2, hourDays: 3, runs: 1 });
    const value = (prefix: string): number | undefined => rows.find((r) => r.name.startsWith(prefix))?.value;
    expect(value('raw samples held')).toBeGreaterThan(0);
    expect(rows.filter((r) => r.name.startsWith('GET /v1/samples')).map((r) => r.name.replace(/, detail=pool.*/, ''))).toEqual([
      'GET /v1/samples, last hour, 240 buckets',
      'GET /v1/samples, last 24 h, 240 buckets',
      'GET /v1/samples, last 7 days, 240 buckets',
    ]);
    expect(rows.find((r) => r.name.includes('and compaction each minute'))?.name).toMatch(/\(160 minute rollups\)/);
    expect(rows.find((r) => r.name.startsWith('prune pass, 10 minutes'))?.name).toMatch(/\(\d+ raw, \d+ minute, \d+ hour blocks\)/);
    for (const r of rows.filter((x) => x.target.startsWith('≤'))) expect(r.value, r.name).toBeGreaterThanOrEqual(0);
  });
});

describe('SqliteStore background checkpoints', () => {
  it('a worker thread checkpoints the WAL into the database file; close ends it', async () => {
    const path = freshPath();
    const s = new SqliteStore({ path, backgroundCheckpointMs: 3_600_000 }); // its timer never fires here
    await s.init();
    await s.insertTasks(Array.from({ length: 300 }, (_, i) => fixtureTask(`t${i}`)));
    const before = statSync(`${path}-wal`).size;
    expect(before).toBeGreaterThan(0);
    const r = await s.backgroundCheckpointer!.checkpointNow();
    expect(r.busy).toBe(0);
    expect(r.log).toBeGreaterThan(0);
    expect(r.checkpointed).toBe(r.log);
    // Everything is in the main file now: a copy of it alone (no WAL) has the tasks.
    const copy = freshPath();
    mkdirSync(dirname(copy), { recursive: true });
    copyFileSync(path, copy);
    const db = new Database(copy, { readonly: true });
    expect(db.prepare('SELECT count(*) AS n FROM tasks').get()).toEqual({ n: 300 });
    db.close();
    await s.close();
    expect(s.backgroundCheckpointer).toBeNull();
  });

  it('a process whose last act is closing the store still finishes the close (the worker holds it open until then)', async () => {
    const storeModule = fileURLToPath(new URL('../index.ts', import.meta.url));
    const script = `
      const { openStore } = await import(${JSON.stringify(storeModule)});
      const s = openStore({ kind: 'sqlite', path: ${JSON.stringify(freshPath())}, backgroundCheckpointMs: 1000 });
      await s.init();
      await s.close();
      console.log('closed');
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 60_000 });
    expect(stdout).toBe('closed\n');
  });
});
