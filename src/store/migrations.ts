// What every adapter's migrations share: numbered SQL files (`NNN_name.sql`) read in order, and
// the refusal of a schema newer than the code. Each adapter applies them its own way (SQLite in
// one IMMEDIATE transaction, Postgres under an advisory lock).
import { readdirSync, readFileSync } from 'node:fs';

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

const FILE_NAME = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/**
 * Reads `NNN_name.sql` files, sorted by number. Numbers must run 1, 2, 3… without gaps or
 * repeats: a gap means a file went missing from the build, which is a bug worth stopping for.
 */
export function loadMigrationDir(dir: URL): Migration[] {
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

/** The newest version a list of migrations reaches (0 for none). */
export const codeVersionOf = (migrations: readonly Migration[]): number => migrations[migrations.length - 1]?.version ?? 0;

export interface MigrationResult {
  /** Schema version found before migrating (0 for a fresh database). */
  from: number;
  to: number;
}
