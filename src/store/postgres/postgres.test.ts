import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PoolEvent } from '../../core/types.js';
import { fixtureTask, storeConformance } from '../conformance.js';
import { SchemaTooNewError } from '../migrations.js';
import { openStore } from '../index.js';
import { appendEvents } from './events.js';
import { loadPgMigrations } from './migrate.js';
import { PgStore } from './store.js';
import { useTestPostgres, type TestPostgres } from './testing.js';

let pgt: TestPostgres;
beforeAll(async () => {
  pgt = await useTestPostgres();
}, 120_000);
afterAll(async () => pgt?.stop(), 60_000);

const schemas = new WeakMap<object, string>();
storeConformance(
  'postgres',
  async () => {
    const schema = pgt.freshSchema();
    const s = new PgStore({ url: pgt.url, schema, maxConnections: 4 });
    schemas.set(s, schema);
    return s;
  },
  async (s) => pgt.dropSchema(schemas.get(s) ?? ''),
);

/** A raw connection to the test database with `schema` on its search path. */
async function connect(schema: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: pgt.url, options: `-c search_path=${schema}` });
  // Ended by the test; if the test fails first, dropping the database ends it.
  c.on('error', () => {});
  await c.connect();
  return c;
}

const ev = (i: number): Omit<PoolEvent, 'seq'> => ({ at: i, type: 'task.submitted', taskId: `t${i}`, data: { i } });

describe('PgStore specifics', () => {
  it('is what openStore makes for kind postgres', async () => {
    const schema = pgt.freshSchema();
    const s = openStore({ kind: 'postgres', url: pgt.url, schema });
    await s.init();
    await s.setMeta('k', 'v');
    expect(await s.getMeta('k')).toBe('v');
    await s.close();
    await pgt.dropSchema(schema);
  });

  it('migrates once when several servers start together, and refuses a schema newer than the code', async () => {
    const schema = pgt.freshSchema();
    const stores = Array.from({ length: 4 }, () => new PgStore({ url: pgt.url, schema, maxConnections: 2 }));
    await Promise.all(stores.map((s) => s.init()));
    const c = await connect(schema);
    const versions = (await c.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
    expect(versions).toEqual(loadPgMigrations().map((m) => m.version));
    await Promise.all(stores.map((s) => s.close()));

    const newest = versions[versions.length - 1] ?? 0;
    await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)', [newest + 1, 'from_the_future']);
    const late = new PgStore({ url: pgt.url, schema });
    const err = await late.init().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SchemaTooNewError);
    expect((err as Error).message).toBe(`database schema version ${newest + 1} is newer than this FastGPU (${newest}); upgrade FastGPU`);
    // Refused without touching the data, and the store stays closed.
    await expect(late.getMeta('x')).rejects.toThrow(/init\(\) has not run/);
    await c.end();
    await pgt.dropSchema(schema);
  });

  it('says which server it could not reach, without its password', async () => {
    const u = new URL(pgt.url);
    u.password = 'sekrit';
    u.port = '1'; // nothing listens on port 1 of loopback
    const s = new PgStore({ url: u.toString() });
    const err = (await s.init().catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^cannot connect to PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\//);
    expect(err.message).not.toContain('sekrit');
  });

  it('keeps NUL and invalid-looking text in log chunks exactly', async () => {
    const schema = pgt.freshSchema();
    const s = new PgStore({ url: pgt.url, schema });
    await s.init();
    await s.insertTasks([fixtureTask('t1')]);
    const data = 'a\u0000b\r\n\u001b[31mred\u001b[0m ✓ 日本 \\x00';
    await s.appendLogs([{ taskId: 't1', attempt: 1, stream: 'stdout', seq: 0, at: 1, data }]);
    expect((await s.readLogs('t1')).chunks[0]?.data).toBe(data);
    await s.close();
    await pgt.dropSchema(schema);
  });

  it('an event number taken by an open transaction holds back later ones until it commits', async () => {
    const schema = pgt.freshSchema();
    const s = new PgStore({ url: pgt.url, schema });
    await s.init();
    const first = await connect(schema);
    await first.query('BEGIN');
    const [early] = await appendEvents(first, [ev(1)]);
    // A second writer takes its number after the first: it waits on the counter's row lock.
    const second = s.appendEvents([ev(2)]);
    const watcher = await connect(schema);
    for (;;) {
      const waiting = await watcher.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
      if (waiting.rowCount) break;
    }
    // Nothing is visible yet: a reader cannot move past the open transaction's number.
    expect(await s.listEvents(0)).toEqual([]);
    await first.query('COMMIT');
    const [late] = await second;
    expect(late!.seq).toBeGreaterThan(early!.seq);
    expect((await s.listEvents(0)).map((e) => e.seq)).toEqual([early!.seq, late!.seq]);
    await Promise.all([first.end(), watcher.end(), s.close()]);
    await pgt.dropSchema(schema);
  });

  it('a reader tailing events and logs by number never skips one, with eight writers at once', async () => {
    const schema = pgt.freshSchema();
    const s = new PgStore({ url: pgt.url, schema, maxConnections: 12 });
    await s.init();
    await s.insertTasks([fixtureTask('t1')]);
    const WRITERS = 8;
    const BATCHES = 25;
    let writing = true;
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      for (let b = 0; b < BATCHES; b++) {
        await s.commitBatch({ events: [ev(w * 1000 + b * 2), ev(w * 1000 + b * 2 + 1)] });
        await s.appendLogs([{ taskId: 't1', attempt: w, stream: 'stdout', seq: b, at: b, data: `${w}:${b}` }]);
      }
    });
    const seenEvents: number[] = [];
    const seenLogs: string[] = [];
    const reader = (async () => {
      let after = 0;
      let pos = 0;
      for (;;) {
        const done = !writing;
        const page = await s.listEvents(after, 7);
        for (const e of page) seenEvents.push(e.data.i as number);
        after = page[page.length - 1]?.seq ?? after;
        const logs = await s.readLogs('t1', { after: pos, limit: 5 });
        seenLogs.push(...logs.chunks.map((c) => c.data));
        pos = logs.next;
        if (done && page.length === 0 && logs.chunks.length === 0) return;
      }
    })();
    await Promise.all(writers);
    writing = false;
    await reader;
    expect(seenEvents).toHaveLength(WRITERS * BATCHES * 2);
    expect(new Set(seenEvents).size).toBe(WRITERS * BATCHES * 2);
    expect(seenLogs).toHaveLength(WRITERS * BATCHES);
    expect(new Set(seenLogs).size).toBe(WRITERS * BATCHES);
    // What the tail saw is the stored order.
    expect((await s.listEvents(0, 10_000)).map((e) => e.data.i)).toEqual(seenEvents);
    await s.close();
    await pgt.dropSchema(schema);
  });
});

describe('samples benchmark on Postgres', () => {
  it('runs at a small size and reports every metric, sizing the sample tables', async () => {
    // Keeps bench/samples.ts's Postgres path from rotting; the timings themselves are not asserted.
    const { benchSamples } = await import('../../../bench/samples.js');
    const rows = await benchSamples({ gpus: 16, rawHours: 2, minuteDays: 2, hourDays: 3, runs: 1, pgUrl: pgt.url });
    const value = (prefix: string): number | undefined => rows.find((r) => r.name.startsWith(prefix))?.value;
    expect(value('raw samples held')).toBeGreaterThan(0);
    expect(value('sample tables size')).toBeGreaterThan(0);
    expect(rows.find((r) => r.name.includes('and compaction each minute'))?.name).toMatch(/\(160 minute rollups\)/);
    expect(rows.filter((r) => r.name.startsWith('GET /v1/samples'))).toHaveLength(3);
    // Its schema is dropped at the end.
    const c = new pg.Client({ connectionString: pgt.url });
    await c.connect();
    const left = await c.query("SELECT 1 FROM information_schema.schemata WHERE schema_name LIKE 'bench_samples_%'");
    await c.end();
    expect(left.rowCount).toBe(0);
  }, 120_000);
});
