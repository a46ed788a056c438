// The array id column (migration task_array_column, issue 14): a database written before it, with
// arrays in it, is upgraded so that its arrays are still found by id (listing, group counts), and
// the tasks_array index is on the column, on SQLite and on Postgres.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../core/types.js';
import { fixtureTask } from './conformance.js';
import type { Migration } from './migrations.js';
import type { Store } from './port.js';
import { loadPgMigrations } from './postgres/migrate.js';
import { pgTaskToRow } from './postgres/rows.js';
import { PgStore } from './postgres/store.js';
import { useTestPostgres, type TestPostgres } from './postgres/testing.js';
import { loadMigrations } from './sqlite/migrate.js';
import { SqliteStore } from './sqlite/store.js';

const T0 = 1_700_000_000_000;

/** The migrations before the array id column. */
const before = (all: Migration[]): Migration[] => {
  const i = all.findIndex((m) => m.name === 'task_array_column');
  expect(i).toBeGreaterThan(0);
  return all.slice(0, i);
};

function element(arrayId: string, index: number, size: number): Task {
  const t = fixtureTask(`${arrayId}-t${index}`, { createdAt: T0 + index });
  t.array = { id: arrayId, index, size };
  return t;
}

const elements = [...Array.from({ length: 5 }, (_, i) => element('a_old', i, 5)), element('a_two', 0, 1), fixtureTask('plain', { createdAt: T0 })];

async function expectArraysFound(s: Store): Promise<void> {
  expect((await s.listTasks({ arrayId: 'a_old' })).map((t) => t.array?.index).sort()).toEqual([0, 1, 2, 3, 4]);
  expect((await s.listTasks({ arrayId: 'a_two' })).map((t) => t.id)).toEqual(['a_two-t0']);
  expect(await s.getTask('a_old-t3')).toEqual(elements[3]);
  const [g] = await s.groups().summarizeGroups(['a_old']);
  expect(g).toMatchObject({ kind: 'array', id: 'a_old', size: 5, counts: { PENDING: 5 } });
  expect(await s.groups().groupsOfTasks(['a_old-t1', 'plain'])).toEqual(new Map([['a_old-t1', { kind: 'array', id: 'a_old' }]]));
  // New elements go in with their column filled.
  await s.insertTasks([element('a_new', 0, 1)]);
  expect((await s.listTasks({ arrayId: 'a_new' })).map((t) => t.id)).toEqual(['a_new-t0']);
}

describe('array id column on SQLite', () => {
  const root = mkdtempSync(join(tmpdir(), 'fastgpu-array-column-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('upgrades a database holding arrays; the index is on the column', async () => {
    const path = join(root, 'fastgpu.db');
    const old = new SqliteStore({ path, migrations: before(loadMigrations()) });
    await old.init();
    await old.insertTasks(elements);
    await old.close();
    const s = new SqliteStore({ path });
    await s.init();
    try {
      await expectArraysFound(s);
    } finally {
      await s.close();
    }
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT name FROM pragma_index_info('tasks_array') ORDER BY seqno").all()).toEqual([{ name: 'array_id' }, { name: 'created_at' }, { name: 'id' }]);
    db.close();
  });
});

describe('array id column on Postgres', () => {
  let pgt: TestPostgres;
  beforeAll(async () => {
    pgt = await useTestPostgres();
  });
  afterAll(async () => {
    await pgt.stop();
  });

  it('upgrades a database holding arrays; the index is on the column', async () => {
    const schema = pgt.freshSchema();
    const old = new PgStore({ url: pgt.url, schema, migrations: before(loadPgMigrations()) });
    await old.init();
    await old.close();
    // The rows as the code before the column wrote them.
    const c = new pg.Client({ connectionString: pgt.url });
    await c.connect();
    try {
      for (const t of elements) {
        const r = pgTaskToRow(t);
        await c.query(
          `INSERT INTO "${schema}".tasks (id, state, name, tenant, node_id, vgpu_id, gang_id, created_at, priority, version, doc, finished_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
          [r.id, r.state, r.name, r.tenant, r.node_id, r.vgpu_id, r.gang_id, r.created_at, r.priority, r.version, r.doc, r.finished_at],
        );
      }
      const s = new PgStore({ url: pgt.url, schema });
      await s.init();
      try {
        await expectArraysFound(s);
      } finally {
        await s.close();
      }
      const def = (await c.query<{ indexdef: string }>('SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = $2', [schema, 'tasks_array'])).rows[0]?.indexdef;
      expect(def).toMatch(/\(array_id, created_at, id\) WHERE \(array_id IS NOT NULL\)/);
    } finally {
      await c.end();
      await pgt.dropSchema(schema);
    }
  });
});
