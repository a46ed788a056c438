// startServer: the data dir, the SQLite store, the admin token, the app and its listener.
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../core/types.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/port.js';
import { systemClock } from '../util/clock.js';
import { buildApp } from './app.js';
import { hashToken } from './auth.js';
import { newId, newSecret } from './ids.js';
import type { SampleRetention } from './retention.js';

export { buildApp } from './app.js';
export type { AppDeps, ServerApp } from './app.js';

export interface ServerOptions {
  dataDir: string; // holds fastgpu.db and admin.token
  host?: string; // default 127.0.0.1
  port?: number; // default 7070; 0 = any free port
  clock?: Clock; // default systemClock
  tickMs?: number; // control-loop tick, default 200
  nodeLostAfterMs?: number; // default 15000
  sampleRetention?: SampleRetention; // default 24 h raw, 7 d minute rollups, 400 d hour rollups
  logsRetentionMs?: number; // delete logs of tasks finished longer ago; default: keep forever
  defaultTimeLimitMs?: number; // time limit of a task that sets none; default: none
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  adminToken: string;
  /** The dashboard with a one-time login code (`/?token=…`): what `fastgpu up` prints. */
  loginUrl: string;
  close(): Promise<void>;
}

export const ADMIN_TOKEN_FILE = 'admin.token';
export const DB_FILE = 'fastgpu.db';

/**
 * The admin token: read from `<dataDir>/admin.token`, or made on first start (mode 0600). Only
 * its hash goes into the store; it is inserted again if the store lost it (a fresh database).
 */
export async function ensureAdminToken(dataDir: string, store: Store, clock: Clock): Promise<string> {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  let secret: string | null = null;
  try {
    secret = (await readFile(file, 'utf8')).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (!secret) {
    secret = newSecret();
    await writeFile(file, `${secret}\n`, { mode: 0o600 });
  }
  await chmod(file, 0o600);
  const hash = hashToken(secret);
  if (!(await store.findTokenByHash(hash))) {
    await store.insertToken({ id: newId('tok'), hash, tenant: 'default', role: 'admin', name: 'admin', createdAt: clock.now(), revokedAt: null });
  }
  return secret;
}

/** Start the server on `opts.dataDir`; `url` is the real address (port 0 = ephemeral). */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  // WAL checkpoints (and their fsync) run in a worker thread, off the request path.
  const store = openStore({ kind: 'sqlite', path: join(opts.dataDir, DB_FILE), backgroundCheckpointMs: 1_000, log });
  await store.init();
  let server: Awaited<ReturnType<typeof buildApp>> | null = null;
  try {
    const adminToken = await ensureAdminToken(opts.dataDir, store, clock);
    server = await buildApp({
      store,
      clock,
      tickMs: opts.tickMs ?? 200,
      nodeLostAfterMs: opts.nodeLostAfterMs ?? 15_000,
      ...(opts.sampleRetention !== undefined ? { sampleRetention: opts.sampleRetention } : {}),
      ...(opts.logsRetentionMs !== undefined ? { logsRetentionMs: opts.logsRetentionMs } : {}),
      ...(opts.defaultTimeLimitMs !== undefined ? { defaultTimeLimitMs: opts.defaultTimeLimitMs } : {}),
      log,
    });
    const host = opts.host ?? '127.0.0.1';
    await server.app.listen({ host, port: opts.port ?? 7070 });
    const addr = server.app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 7070);
    const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
    const url = `http://${shownHost}:${port}`;
    log(`fastgpu server listening on ${url} (data dir ${opts.dataDir})`);
    const loginUrl = `${url}/?token=${server.app.dashboard.issueLoginCode(adminToken)}`;
    const running = server;
    let closing: Promise<void> | null = null;
    return {
      url,
      adminToken,
      loginUrl,
      close: () =>
        (closing ??= (async () => {
          await running.close();
          await store.close();
        })()),
    };
  } catch (e) {
    await server?.close().catch(() => {});
    await store.close().catch(() => {});
    throw e;
  }
}
