// Numbered SQL migrations for the SQLite adapter: `migrations/NNN_name.sql`, applied in order
// inside one IMMEDIATE transaction, so two processes opening the same fresh file serialise on
// the write lock and the second finds the work done.
import { readdirSync, readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The database was written by a newer FastGPU; opening it with this one could lose data. */
export class SchemaTooNewError extends Error {
  constructor(
    readonly databaseVersion: number,
    readonly codeVersion: number,
  ) {
    super(`database schema version ${databaseVersion} is newer than this FastGPU (${codeVersion}); upgrade FastGPU`);
    this.name = 'SchemaTooNewError';
  }
}

/** Where the migrations of this adapter live, in src/ under tests and in dist/ once built. */
export const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

const FILE_NAME = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/**
 * Reads `NNN_name.sql` files, sorted by number. Numbers must run 1, 2, 3… without gaps or
 * repeats: a gap means a file went missing from the build, which is a bug worth stopping for.
 */
export function loadMigrations(dir: URL = MIGRATIONS_DIR): Migration[] {
  const migrations: Migration[] = [];
  for (const file of readdirSync(dir)) {
    const m = FILE_NAME.exec(file);
    if (!m) continue;
    migrations.push({ version: Number(m[1]), name: m[2] ?? file, sql: readFileSync(new URL(file, dir), 'utf8') });
  }
  migrations.sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`migrations in ${dir.pathname}: expected version ${i + 1}, found ${m.version}_${m.name}`);
    }
  });
  return migrations;
}

export interface MigrationResult {
  /** Schema version found before migrating (0 for a fresh file). */
  from: number;
  to: number;
}

/**
 * Brings the schema up to the newest migration. Refuses (SchemaTooNewError) a database whose
 * version is above the newest migration this code knows.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[], now: number): MigrationResult {
  const codeVersion = migrations.length === 0 ? 0 : (migrations[migrations.length - 1]?.version ?? 0);
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
