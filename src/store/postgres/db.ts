// The connection layer of the Postgres adapter: a pg Pool whose integers come back as numbers,
// one transaction helper, and the translation of constraint errors into the port's codes.
import pg from 'pg';
import { FastGpuError, conflict } from '../../core/errors.js';

/** pg's BIGINT type oid. */
const INT8_OID = 20;

/**
 * BIGINT (times, counters, COUNT(*)) as a JS number; one past 2^53 is refused rather than
 * rounded. Money is never read through here: its queries cast it to text and take a bigint.
 */
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`postgres: integer ${text} is beyond 2^53; read it as text`);
  return n;
}

const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

/** A client or the pool: anything that runs a query. */
export type Queryable = pg.Pool | pg.ClientBase;

export interface PoolOptions {
  url: string;
  /** Tables live in this schema (search_path) rather than the user's default. */
  schema?: string;
  max?: number;
  /** Session settings every connection starts with (`-c name=value`), e.g. the leader's `fastgpu.epoch`. */
  settings?: Readonly<Record<string, string>>;
}

/** Quotes an identifier (a schema name from the user) for SQL. */
export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** libpq's `options`: the search path and the session settings, or nothing. */
export function sessionOptions(schema: string | undefined, settings: Readonly<Record<string, string>> = {}): string | undefined {
  const all = { ...(schema !== undefined ? { search_path: ident(schema) } : {}), ...settings };
  const parts = Object.entries(all).map(([k, v]) => `-c ${k}=${v}`);
  return parts.length > 0 ? parts.join(' ') : undefined;
}

export function makePool(o: PoolOptions): pg.Pool {
  const options = sessionOptions(o.schema, o.settings);
  const pool = new pg.Pool({
    connectionString: o.url,
    max: o.max ?? 10,
    types,
    // A server gone quiet must not hang a request forever; the control loop retries.
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    ...(options !== undefined ? { options } : {}),
  });
  // A connection Postgres ends while it is checked out (an idle-in-transaction timeout after the
  // process was paused) emits 'error' on its client; the query under way fails with it, so the
  // event itself is only noted here, never left unhandled (that would end the process).
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/**
 * Runs `fn` in one transaction on one client: COMMIT when it resolves, ROLLBACK when it throws
 * (the error goes on to the caller). READ COMMITTED, PostgreSQL's default: a conditional UPDATE
 * that meets a concurrent one waits for it and then re-checks its WHERE on the new row.
 */
export async function inTx<R>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<R>, begin = 'BEGIN'): Promise<R> {
  const c = await pool.connect();
  let broken: unknown = undefined;
  try {
    await c.query(begin);
    const r = await fn(c);
    await c.query('COMMIT');
    return r;
  } catch (err) {
    try {
      await c.query('ROLLBACK');
    } catch (e) {
      // The connection is unusable (the server went away): drop it from the pool.
      broken = e;
    }
    throw err;
  } finally {
    c.release(broken instanceof Error ? broken : undefined);
  }
}

export const pgCode = (err: unknown): string | undefined =>
  err instanceof pg.DatabaseError ? err.code : typeof err === 'object' && err !== null ? ((err as { code?: unknown }).code as string | undefined) : undefined;

export const UNIQUE_VIOLATION = '23505';
export const FOREIGN_KEY_VIOLATION = '23503';

/**
 * Constraint failures are the caller's mistake (a duplicate id, an unknown task), not a bug:
 * the same codes as the SQLite adapter. `what` may be a function of the offending key, which
 * PostgreSQL names in the error's detail (`Key (id)=(t1) already exists.`).
 */
export function translate(err: unknown, what: string | ((key: string | null) => string)): unknown {
  const code = pgCode(err);
  if (code !== UNIQUE_VIOLATION && code !== FOREIGN_KEY_VIOLATION) return err;
  const detail = err instanceof pg.DatabaseError ? (err.detail ?? '') : '';
  const key = /\)=\((.*)\) /.exec(detail)?.[1] ?? null;
  const name = typeof what === 'function' ? what(key) : what;
  return code === UNIQUE_VIOLATION ? conflict(`${name} already exists`) : new FastGpuError('NOT_FOUND', `${name}: no such task`);
}
