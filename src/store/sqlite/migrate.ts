// Numbered SQL migrations for the SQLite adapter: `migrations/NNN_name.sql`, applied in order
// inside one IMMEDIATE transaction, so two processes opening the same fresh file serialise on
// the write lock and the second finds the work done.
import type Database from 'better-sqlite3';
import { codeVersionOf, loadMigrationDir, SchemaTooNewError, type Migration, type MigrationResult } from '../migrations.js';

export { SchemaTooNewError, type Migration, type MigrationResult } from '../migrations.js';

/** Where the migrations of this adapter live, in src/ under tests and in dist/ once built. */
export const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

/** This adapter's numbered files (`NNN_name.sql`), in order. */
export const loadMigrations = (dir: URL = MIGRATIONS_DIR): Migration[] => loadMigrationDir(dir);

/**
 * Brings the schema up to the newest migration. Refuses (SchemaTooNewError) a database whose
 * version is above the newest migration this code knows.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[], now: number): MigrationResult {
  const codeVersion = codeVersionOf(migrations);
  const run = db.transaction((): MigrationResult => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    const from = row.v ?? 0;
    if (from > codeVersion) throw new SchemaTooNewError(from, codeVersion);
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of migrations) {
      if (m.version <= from) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, now);
    }
    return { from, to: Math.max(from, codeVersion) };
  });
  // IMMEDIATE takes the write lock before reading the version, so a second migrator waits
  // (busy_timeout) instead of reading a stale version and applying the same file twice.
  return run.immediate();
}
