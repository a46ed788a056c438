// startServer: the data dir, the SQLite store, the admin token, the app and its listener.
import { DEFAULT_LEASE_MS } from '../protocol/lease.js';
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../core/types.js';
import { openStore, type StoreOptions } from '../store/index.js';
import { describeStore } from '../store/select.js';
import type { Store } from '../store/port.js';
import { systemClock } from '../util/clock.js';
import { LISTEN_BACKLOG } from './listen.js';
import { buildApp } from './app.js';
import { singleServerView } from './leadership-status.js';
import { hashToken } from './auth.js';
import { newId, newSecret } from './ids.js';
import type { SampleRetention } from './retention.js';
import { JoinTokenAccess } from './autoscale-join.js';
import { retireSharedAutoscaleToken } from './autoscale-legacy.js';
import { DEFAULT_JOIN_TTL_MS, JoinService } from './join.js';
import { placementPolicy, type PlacementOption } from './placement-option.js';
import { autoscalePolicy, buildProvider, type AutoscaleSpec, type PolicyFlags } from './providers/config.js';

export { buildApp } from './app.js';
export type { AppDeps, ServerApp } from './app.js';
import type { ServerApp } from './app.js';


export interface ServerOptions {
  dataDir: string; // holds fastgpu.db and admin.token
  host?: string; // default 127.0.0.1
  port?: number; // default 7070; 0 = any free port
  clock?: Clock; // default systemClock
  tickMs?: number; // control-loop tick, default 200
  nodeLostAfterMs?: number; // the node lease, default DEFAULT_LEASE_MS (40 s; src/protocol/lease.ts)
  sampleRetention?: SampleRetention; // default 24 h raw, 7 d minute rollups, 400 d hour rollups
  logsRetentionMs?: number; // delete logs of tasks finished longer ago; default: keep forever
  /** Grow and shrink the pool through a node provider (`--autoscale`). */
  autoscale?: { spec: AutoscaleSpec; policy: PolicyFlags };
  store?: StoreOptions; // default: SQLite, fastgpu.db in dataDir (`--store postgres://…` for many servers)
  defaultTimeLimitMs?: number; // time limit of a task that sets none; default: none
  /** Serve HTTPS with this pair (src/server/tls.ts); default plain HTTP. */
  tls?: { cert: string; key: string; fingerprint: string };
  /** How long a joined node's credential lives (issue 11); default 7 days. */
  nodeCredentialTtlMs?: number;
  /** `--policy default|lp` (placement-option.ts); default: default. */
  placement?: PlacementOption;
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
export async function ensureAdminToken(dataDir: string, store: Store, clock: Clock, log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<string> {
  await retireSharedAutoscaleToken(dataDir, store, clock, log);
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
  // Over Postgres: one of several servers, under an elected leader (leadership-server.ts).
  if (opts.store?.kind === 'postgres' && opts.store.exclusive !== true) {
    const { startReplicatedServer } = await import('./leadership-server.js');
    return startReplicatedServer({ ...opts, store: opts.store }, ensureAdminToken);
  }
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  // WAL checkpoints (and their fsync) run in a worker thread, off the request path.
  // `exclusive` Postgres (one server owns the database) is still allowed for a caller that asks.
  const storeOptions: StoreOptions =
    opts.store?.kind === 'postgres' ? opts.store : { backgroundCheckpointMs: 1_000, log, ...(opts.store ?? { kind: 'sqlite', path: join(opts.dataDir, DB_FILE) }) };
  const placement = await placementPolicy(opts.placement);
  const store = openStore(storeOptions);
  await store.init();
  let server: Awaited<ReturnType<typeof buildApp>> | null = null;
  try {
    const adminToken = await ensureAdminToken(opts.dataDir, store, clock, log);
    let shownUrl = '';
    server = await buildApp({
      store,
      clock,
      cluster: singleServerView(describeStore(storeOptions), () => shownUrl, clock.now(), () => clock.now()),
      tickMs: opts.tickMs ?? 200,
      blobDir: join(opts.dataDir, 'blobs'),
      nodeLostAfterMs: opts.nodeLostAfterMs ?? DEFAULT_LEASE_MS,
      ...(opts.sampleRetention !== undefined ? { sampleRetention: opts.sampleRetention } : {}),
      ...(opts.logsRetentionMs !== undefined ? { logsRetentionMs: opts.logsRetentionMs } : {}),
      ...(opts.defaultTimeLimitMs !== undefined ? { defaultTimeLimitMs: opts.defaultTimeLimitMs } : {}),
      ...(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key } } : {}),
      ...(opts.nodeCredentialTtlMs !== undefined ? { nodeCredentialTtlMs: opts.nodeCredentialTtlMs } : {}),
      ...(placement.policy ? { policy: placement.policy } : {}),
      log,
    });
    const host = opts.host ?? '127.0.0.1';
    await server.app.listen({ host, port: opts.port ?? 7070, backlog: LISTEN_BACKLOG });
    const addr = server.app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 7070);
    const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
    const url = `${opts.tls ? 'https' : 'http'}://${shownHost}:${port}`;
    shownUrl = url;
    log(`fastgpu server listening on ${url} (data dir ${opts.dataDir}; store ${describeStore(storeOptions)}; ${placement.note})${transportNote(host, opts.tls)}`);
    const loginUrl = `${url}/?token=${server.app.dashboard.issueLoginCode(adminToken)}`;
    const autoscaler = opts.autoscale === undefined ? null : await startAutoscaler(opts.autoscale, server, url, opts.dataDir, clock, log, opts.nodeCredentialTtlMs);
    const running = server;
    let closing: Promise<void> | null = null;
    return {
      url,
      adminToken,
      loginUrl,
      close: () =>
        (closing ??= (async () => {
          await autoscaler?.stop();
          await running.close();
          await store.close();
          await placement.close();
        })()),
    };
  } catch (e) {
    // Start-up already failed with `e`, which is what the caller must see; a failure to close
    // what was half-opened would only hide it (the process is about to report `e` and exit).
    await server?.close().catch(() => {});
    await store.close().catch(() => {});
    await placement.close().catch(() => {});
    throw e;
  }
}

/** What the start-up line says about the transport: the pin for TLS, a warning for plain HTTP off loopback. */
export function transportNote(host: string, tls: { fingerprint: string } | undefined): string {
  if (tls) return `; TLS certificate sha256 ${tls.fingerprint}`;
  return isLoopback(host) ? '' : `; PLAIN HTTP on ${host}, not loopback: tokens and tasks cross the network unencrypted (use --tls-cert/--tls-key or --tls-self-signed)`;
}

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The autoscaler of `--autoscale`: its provider, and how its nodes get in: each with a join token
 * of its own (autoscale-join.ts), passed to its agent in the environment, never a shared secret.
 */
async function startAutoscaler(
  cfg: { spec: AutoscaleSpec; policy: PolicyFlags },
  server: ServerApp,
  url: string,
  dataDir: string,
  clock: Clock,
  log: (line: string) => void,
  nodeCredentialTtlMs: number | undefined,
): Promise<{ stop(): Promise<void> }> {
  const { control } = server;
  const bin = fileURLToPath(new URL('../../bin/fastgpu', import.meta.url));
  const provider = buildProvider(cfg.spec, {
    dataDir,
    poolId: createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12),
    fastgpu: [process.execPath, bin],
    log,
  });
  const { Autoscaler } = await import('./autoscaler.js');
  const a = new Autoscaler({
    control,
    provider,
    policy: autoscalePolicy(cfg.spec, cfg.policy),
    priceBook: () => control.billing.pricing.book,
    launch: (nodeName) => ({
      nodeName,
      args: ['agent', '--server', url, '--name', nodeName, '--state-dir', join(dataDir, 'autoscale', nodeName), '--ephemeral', '--quiet'],
      env: {},
    }),
    access: new JoinTokenAccess({
      join: new JoinService(control.store, clock, nodeCredentialTtlMs),
      store: control.store,
      clock,
      ttlMs: cfg.policy.joinTimeoutMs ?? DEFAULT_JOIN_TTL_MS,
      invalidate: () => server.auth.invalidate(),
    }),
    log,
  });
  // A first pass before the server says it is up: the offers it reads let submit accept a task
  // that only a node still to come can hold.
  await a.tick();
  a.start();
  log(`autoscaling with ${provider.name}: at most ${cfg.spec.max} node(s), ${cfg.spec.min} kept warm`);
  return {
    stop: async () => {
      await a.stop();
      await provider.close?.();
    },
  };
}
