// `fastgpu server --store postgres://…`: one of several servers over one database. It listens at
// once and answers every request: as the leader through its own API and control loop, as a
// follower by forwarding to the leader (leadership-proxy.ts). /healthz and /v1/cluster are
// answered by every server itself, so that a load balancer and `fastgpu status` see each one.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { Gauge, type Registry } from 'prom-client';
import { openStore, PgLeadership, type StoreOptions } from '../store/index.js';
import { describeStore } from '../store/select.js';
import type { Store } from '../store/port.js';
import { systemClock, timerClock } from '../util/clock.js';
import { DEFAULT_LEASE_MS } from '../protocol/lease.js';
import { buildApp, type ServerApp } from './app.js';
import { placementPolicy, type PlacementOption } from './placement-option.js';
import { Authenticator } from './auth.js';
import { toErrorResponse } from './errors.js';
import { newId } from './ids.js';
import { Leadership, type LeaderRuntime } from './leadership.js';
import { forward, sendError } from './leadership-proxy.js';
import { leaderStore } from './leadership-store.js';
import { LISTEN_BACKLOG } from './listen.js';
import { GONE_AFTER_MS, type ClusterView } from './leadership-status.js';
import type { Clock } from '../core/types.js';
import type { SampleRetention } from './retention.js';

type PgStoreOptions = Extract<StoreOptions, { kind: 'postgres' }>;

/** What main.ts's ServerOptions give a replicated server (main.ts passes its own; no import back, no cycle). */
export interface ReplicatedOptions {
  dataDir: string;
  store: PgStoreOptions;
  host?: string;
  port?: number;
  clock?: Clock;
  tickMs?: number;
  nodeLostAfterMs?: number;
  sampleRetention?: SampleRetention;
  logsRetentionMs?: number;
  defaultTimeLimitMs?: number;
  /** `--policy default|lp` (placement-option.ts). */
  placement?: PlacementOption;
  autoscale?: unknown;
  log?: (line: string) => void;
  /** The URL other servers forward to (default: the listening address). */
  advertiseUrl?: string;
  /** Postgres ends a silent leader's lock session after this long (default 4 s): a paused leader's bound. */
  leaderIdleTimeoutMs?: number;
}

export interface ReplicatedServer {
  url: string;
  adminToken: string;
  loginUrl: string;
  /** This server's id in the pool (`fastgpu status`). */
  id: string;
  leadership: Leadership;
  close(): Promise<void>;
}

/**
 * Starts one server of a replicated pool over `opts.store` (Postgres). `ensureAdminToken` is
 * main.ts's (the same admin token file as a single server).
 */
export async function startReplicatedServer(
  opts: ReplicatedOptions,
  ensureAdminToken: (dataDir: string, store: Store, clock: Clock, log: (line: string) => void) => Promise<string>,
): Promise<ReplicatedServer> {
  const clock = timerClock(opts.clock ?? systemClock);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (opts.autoscale !== undefined) throw new Error('--autoscale runs with one server only for now; start it without --store postgres://…, or without --autoscale');
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const placement = await placementPolicy(opts.placement);
  const { exclusive: _ignored, ...pgOpts } = opts.store;
  const storeName = describeStore(pgOpts);
  // Unfenced, for what every server does whatever its role: the schema, its admin token, tokens
  // for /v1/cluster. It never writes the control plane's tables.
  const base = openStore({ ...pgOpts, maxConnections: 2 });
  await base.init();
  const id = newId('srv');
  const adminToken = await ensureAdminToken(opts.dataDir, base, clock, log).catch(async (e: unknown) => {
    await base.close();
    throw e;
  });
  const auth = new Authenticator(base, clock);
  let leaderApp: ServerApp | null = null;
  // While this server rebuilds the control plane after winning the lock, requests wait for it
  // (forwarding them would send them back to this server).
  let takingOver: Promise<unknown> | null = null;
  let ha: Leadership | null = null;
  let url = '';
  const elect = new PgLeadership({
    url: pgOpts.url,
    ...(pgOpts.schema !== undefined ? { schema: pgOpts.schema } : {}),
    id,
    idleTimeoutMs: opts.leaderIdleTimeoutMs ?? 4_000,
    onLost: (why) => ha?.lose(why),
  });

  const http = createServer((req, res) => void dispatch(req, res));
  http.keepAliveTimeout = 65_000;
  http.requestTimeout = 0;
  const dispatch = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (path === '/healthz' && ha) return health(res, ha, leaderApp);
      if (path === '/v1/cluster' && req.method === 'GET' && !leaderApp) {
        await auth.authenticateFor('/v1/cluster', req.headers.authorization);
        return json(res, 200, await view());
      }
    } catch (e) {
      const { status, body } = toErrorResponse(e);
      return json(res, status, body);
    }
    if (!leaderApp && takingOver) await takingOver.catch(() => {}); // a failed takeover is logged where it runs
    if (leaderApp) return leaderApp.app.routing(req, res);
    forward(req, res, { url: ha?.leader?.url ?? null, self: id, unreachable: () => void ha?.refreshLeader() });
  };

  const view = async (): Promise<ClusterView> => {
    const now = clock.now();
    const [state, leader, replicas] = await Promise.all([elect.state(), elect.leader(), elect.replicas(now - 10 * 60_000)]);
    return {
      store: storeName,
      mode: 'replicated',
      leader: leader ? { id: leader.id, url: leader.url, epoch: leader.epoch, since: state.since } : null,
      servers: replicas.map((r) => ({
        id: r.id,
        url: r.url,
        role: now - r.seenAt > GONE_AFTER_MS ? 'gone' : r.id === leader?.id ? 'leader' : r.id === id && ha?.role === 'degraded' ? 'degraded' : 'follower',
        startedAt: r.startedAt,
        seenAt: r.seenAt,
      })),
      answeredBy: id,
    };
  };

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen({ port: opts.port ?? 7070, host, backlog: LISTEN_BACKLOG }, () => resolve());
  }).catch(async (e: unknown) => {
    await elect.close();
    await base.close();
    throw e;
  });
  const addr = http.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 7070);
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  url = `http://${shownHost}:${port}`;
  const advertised = opts.advertiseUrl ?? url;

  ha = new Leadership({
    election: elect,
    id,
    url: advertised,
    clock,
    log,
    becomeLeader: (epoch) => {
      const p = takeOver(epoch);
      takingOver = p;
      return p.finally(() => {
        if (takingOver === p) takingOver = null;
      });
    },
  });
  async function takeOver(epoch: number): Promise<LeaderRuntime> {
    {
      const fenced = openStore({ ...pgOpts, fenceEpoch: epoch });
      const store = leaderStore(fenced, epoch);
      await store.init();
      let app: ServerApp;
      try {
        app = await buildApp({
          store,
          clock,
          tickMs: opts.tickMs ?? 200,
          nodeLostAfterMs: opts.nodeLostAfterMs ?? DEFAULT_LEASE_MS,
          ...(opts.sampleRetention !== undefined ? { sampleRetention: opts.sampleRetention } : {}),
          ...(opts.logsRetentionMs !== undefined ? { logsRetentionMs: opts.logsRetentionMs } : {}),
          ...(opts.defaultTimeLimitMs !== undefined ? { defaultTimeLimitMs: opts.defaultTimeLimitMs } : {}),
          cluster: view,
          ...(placement.policy ? { policy: placement.policy } : {}),
          log,
        });
      } catch (e) {
        await closeQuietly(store);
        throw e;
      }
      haMetrics(app.metrics, () => ha);
      leaderApp = app;
      return {
        close: async () => {
          leaderApp = null;
          await app.close();
          await closeQuietly(store);
        },
      };
    }
  }
  try {
    await ha.start();
    await ha.settled(5_000);
  } catch (e) {
    await ha.stop().catch(() => {}); // already failing: the first error is the one thrown
    await elect.close();
    await base.close();
    await new Promise<void>((r) => http.close(() => r()));
    throw e;
  }
  log(`fastgpu server ${id} listening on ${url} (data dir ${opts.dataDir}; store ${storeName}; one of several servers: the elected leader runs the control loop)`);
  let closing: Promise<void> | null = null;
  const running = ha;
  return {
    url,
    adminToken,
    id,
    leadership: running,
    // Dashboard login codes live in the leader's memory: log in with the token there.
    loginUrl: `${url}/`,
    close: () =>
      (closing ??= (async () => {
        await running.stop();
        http.closeAllConnections();
        await new Promise<void>((r) => http.close(() => r()));
        await elect.close();
        await base.close();
        await placement.close();
      })()),
  };
}

async function closeQuietly(store: Store): Promise<void> {
  // A deposed leader's store may already be cut off; closing it cannot fail anything that matters.
  await store.close().catch(() => {});
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** /healthz: 200 for a working leader or follower (with which it is), 503 when degraded. */
function health(res: ServerResponse, ha: Leadership, app: ServerApp | null): void {
  const d = app?.control.degraded ?? null;
  if (d) return sendError(res, 503, 'UNAVAILABLE', `degraded leader (epoch ${ha.epoch}): store writes have failed since ${new Date(d.since).toISOString()} (${d.error}); retrying`);
  if (ha.role === 'degraded' || ha.role === 'stopped') {
    return sendError(res, 503, 'UNAVAILABLE', `degraded follower: cannot reach the database${ha.degradedSince ? ` since ${new Date(ha.degradedSince.at).toISOString()} (${ha.degradedSince.error})` : ''}`);
  }
  json(res, 200, { ok: true, role: ha.role, epoch: ha.leader?.epoch ?? null, leader: ha.leader?.url ?? null });
}

/** fastgpu_leader and fastgpu_leader_epoch on the leader's /metrics. */
function haMetrics(registry: Registry, ha: () => Leadership | null): void {
  new Gauge({
    name: 'fastgpu_leader',
    help: '1 on the server that leads the pool (runs the control loop), 0 on followers',
    registers: [registry],
    collect() {
      this.set(ha()?.role === 'leader' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'fastgpu_leader_epoch',
    help: 'the fencing epoch of the current leader',
    registers: [registry],
    collect() {
      this.set(ha()?.leader?.epoch ?? 0);
    },
  });
  new Gauge({
    name: 'fastgpu_leader_takeover_ms',
    help: 'how long this server took to rebuild the control plane from the store at its last takeover',
    registers: [registry],
    collect() {
      this.set(ha()?.takeovers.at(-1)?.loadMs ?? 0);
    },
  });
}
