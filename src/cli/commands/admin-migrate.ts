// `fastgpu admin migrate --from sqlite:PATH --to postgres://…`: moves a one-box pool (the SQLite
// file of `fastgpu up` or `fastgpu server`) into Postgres, so that several servers can share it.
// Runs here against the two databases, not through a server: stop the server first.
import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { UsageError } from '../flags.js';
import { table } from '../format.js';
import { redactStoreUrl } from '../../store/select.js';
import { storeFlag } from '../store-flag.js';
import { adminCommand } from './admin.js';

export function register(program: Command): void {
  adminCommand(program)
    .command('migrate')
    .description('copy a stopped SQLite pool into an empty Postgres database, every row kept (then run `fastgpu server --store postgres://…`)')
    .requiredOption('--from <store>', 'the SQLite database, sqlite:PATH (e.g. sqlite:$HOME/.fastgpu/data/fastgpu.db)')
    .requiredOption('--to <store>', 'the Postgres database, postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?schema=NAME]')
    .action(async (raw: { from: string; to: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const from = storeFlag(raw.from, { ...ctx, env: {} }, '--from');
      const to = storeFlag(raw.to, { ...ctx, env: {} }, '--to');
      if (from?.kind !== 'sqlite') throw new UsageError('--from: must be sqlite:PATH, the database of a one-box pool');
      if (to?.kind !== 'postgres') throw new UsageError('--to: must be postgres://USER@HOST[:PORT]/DATABASE');
      const { existsSync } = await import('node:fs');
      if (!existsSync(from.path)) throw new UsageError(`--from: ${from.path} does not exist`);
      const { copySqliteToPostgres } = await import('../../store/postgres/import-sqlite.js');
      const report = await copySqliteToPostgres({
        from: { path: from.path },
        to: { url: to.url, ...(to.schema !== undefined ? { schema: to.schema } : {}) },
      });
      ctx.stdout.write(table(['TABLE', 'ROWS'], report.tables.map((t) => [t.table, String(t.rows)])));
      const total = report.tables.reduce((n, t) => n + t.rows, 0);
      ctx.stdout.write(`copied ${total} rows; start servers with: fastgpu server --store '${redactStoreUrl(raw.to.trim())}'\n`);
    });
}
