// A test file's real Postgres and scratch folder for whole servers and agents over it: started
// before its tests, and after them its agents' tasks killed, the folder removed and Postgres
// stopped. Test-only (not shipped: tsconfig.build.json leaves *-testing.ts out).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { killTasks } from '../../agent/fixtures/helpers.js';
import { useTestPostgres, type TestPostgres } from './testing.js';

export interface PgSuite {
  /** The scratch folder; agents started here keep their state in `<dir>/agent`. */
  readonly dir: string;
  /** The running Postgres (after beforeAll). */
  readonly pg: TestPostgres;
}

/** Registers the file's beforeAll/afterAll; `prefix` names its temp folder. */
export function usePgSuite(prefix: string): PgSuite {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let pg: TestPostgres | undefined;
  beforeAll(async () => {
    pg = await useTestPostgres();
  }, 120_000);
  afterAll(async () => {
    killTasks(join(dir, 'agent'));
    rmSync(dir, { recursive: true, force: true });
    await pg?.stop();
  }, 60_000);
  return {
    dir,
    get pg(): TestPostgres {
      if (!pg) throw new Error('the test Postgres is not started yet (use it inside a test)');
      return pg;
    },
  };
}
