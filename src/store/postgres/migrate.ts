// Numbered SQL migrations for the Postgres adapter (`migrations/NNN_name.sql`). Several servers
// may start at once on one database: each takes a session advisory lock first, so one applies
// the files and the others wait, then find the work done. Each file runs in its own transaction
// with its row in schema_migrations (DDL is transactional here), so a crash leaves a version
// whole or not at all.
import type pg from 'pg';
import { codeVersionOf, loadMigrationDir, SchemaTooNewError, type Migration, type MigrationResult } from '../migrations.js';
import { ident } from './db.js';

export const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

export const loadPgMigrations = (dir: URL = MIGRATIONS_DIR): Migration[] => loadMigrationDir(dir);

/** First key of FastGPU's advisory locks ('FGPU'); the second names what is locked. */
export const LOCK_CLASS = 0x46475055;

/**
 * Brings the schema (the client's search_path, or `schema`, created when missing) up to the
 * newest migration, under an advisory lock keyed by the schema's name. Refuses
 * (SchemaTooNewError) a database whose version is above the newest migration this code knows.
 */
export async function migratePg(c: pg.PoolClient, migrations: readonly Migration[], now: number, schema?: string): Promise<MigrationResult> {
  const codeVersion = codeVersionOf(migrations);
  const name = schema ?? ((await c.query<{ s: string | null }>('SELECT current_schema() AS s')).rows[0]?.s ?? 'public');
  await c.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_CLASS, `migrate:${name}`]);
  try {
    if (schema !== undefined) await c.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
    await c.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at BIGINT NOT NULL
    )`);
    const from = (await c.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations')).rows[0]?.v ?? 0;
    if (from > codeVersion) throw new SchemaTooNewError(from, codeVersion);
    for (const m of migrations) {
      if (m.version <= from) continue;
      await c.query('BEGIN');
      try {
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, now]);
        await c.query('COMMIT');
      } catch (err) {
        // `err` is rethrown below; a failed ROLLBACK on a broken connection adds nothing.
        await c.query('ROLLBACK').catch(() => {});
        throw new Error(`postgres migration ${String(m.version).padStart(3, '0')}_${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
    }
    return { from, to: Math.max(from, codeVersion) };
  } finally {
    // The lock is released with the session anyway; an unlock that fails on a dead connection is moot.
    await c.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_CLASS, `migrate:${name}`]).catch(() => {});
  }
}
