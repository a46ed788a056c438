// Which store a server uses, from what a person types: `--store postgres://…` (or
// FASTGPU_STORE), `sqlite:PATH`, or nothing (the SQLite file in the data dir, the default of
// `fastgpu up`). Parsed here once so that the CLI, the server and `admin migrate` agree.
import { isAbsolute, resolve } from 'node:path';
import { invalid } from '../core/errors.js';

/** Which store to open (openStore): a tagged union, one member per adapter. */
export type StoreOptions =
  | { kind: 'sqlite'; path: string; busyTimeoutMs?: number; backgroundCheckpointMs?: number; log?: (line: string) => void }
  | { kind: 'postgres'; url: string; schema?: string; maxConnections?: number; exclusive?: boolean; fenceEpoch?: number };

/** Postgres URLs as libpq writes them; `?schema=NAME` (ours) keeps FastGPU's tables in that schema. */
const POSTGRES = /^postgres(ql)?:\/\//i;

/**
 * A store spec → options for openStore. `cwd` resolves a relative `sqlite:` path. Anything else
 * is refused with a message naming the forms it takes.
 * @example parseStoreSpec('postgres://fastgpu@db.internal:5432/fastgpu', '/') // { kind: 'postgres', url: … }
 * @example parseStoreSpec('sqlite:./data/fastgpu.db', '/srv') // { kind: 'sqlite', path: '/srv/data/fastgpu.db' }
 */
export function parseStoreSpec(spec: string, cwd: string, field = 'store'): StoreOptions {
  const s = spec.trim();
  if (POSTGRES.test(s)) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw invalid(field, `${redactStoreUrl(s)} is not a valid URL (postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)`);
    }
    if (u.hostname === '' && !u.searchParams.has('host')) throw invalid(field, 'a postgres:// URL needs a host: postgres://USER@HOST[:PORT]/DATABASE');
    if (u.pathname === '' || u.pathname === '/') throw invalid(field, 'a postgres:// URL needs a database name: postgres://USER@HOST[:PORT]/DATABASE');
    const schema = u.searchParams.get('schema');
    if (schema !== null) {
      if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) throw invalid(field, `schema ${JSON.stringify(schema)}: letters, digits and _ only, not starting with a digit`);
      u.searchParams.delete('schema');
    }
    return { kind: 'postgres', url: u.toString(), ...(schema !== null ? { schema } : {}) };
  }
  if (s.startsWith('sqlite:')) {
    const path = s.slice('sqlite:'.length);
    if (path === '') throw invalid(field, 'sqlite: needs a file path, e.g. sqlite:/var/lib/fastgpu/fastgpu.db');
    return { kind: 'sqlite', path: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  throw invalid(field, `${JSON.stringify(redactStoreUrl(s))} is not a store: use postgres://USER@HOST[:PORT]/DATABASE or sqlite:PATH`);
}

/** The URL with any password hidden, for logs and messages. */
export function redactStoreUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

/** One line saying which store is open, without secrets. */
export function describeStore(o: StoreOptions): string {
  return o.kind === 'sqlite' ? `SQLite ${o.path}` : `PostgreSQL ${redactStoreUrl(o.url)}${o.schema !== undefined ? ` (schema ${o.schema})` : ''}`;
}
