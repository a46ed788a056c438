// The Fastify app: body parsers, one error handler, auth, and every route. `buildApp` is used
// in-process by tests (app.inject) and by `startServer`, which adds the listener.
import { DEFAULT_LEASE_MS } from '../protocol/lease.js';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { FastGpuError } from '../core/errors.js';
import type { SchedulerPolicy } from '../core/scheduler/types.js';
import type { Clock } from '../core/types.js';
import type { Store } from '../store/port.js';
import { RouteBook } from './api.js';
import { Authenticator } from './auth.js';
import { BODY_LIMIT, installBodyParsers } from './body.js';
import { ControlPlane } from './control.js';
import { clip, MAX_PATH_PARAM, makeErrorHandler, toErrorResponse, type ErrorBody } from './errors.js';
import { createMetrics } from './metrics.js';
import { registerLpMetrics } from './lp-metrics.js';
import { DEFAULT_SAMPLE_RETENTION, SampleMaintenance, type SampleRetention } from './retention.js';
import { adminRoutes, ensureDefaultTenant } from './routes/admin.js';
import { agentRoutes } from './routes/agent.js';
import { joinRoutes } from './routes/join.js';
import { JoinService } from './join.js';
import { autoscaleRoutes } from './autoscale-routes.js';
import type { RouteContext } from './routes/context.js';
import { poolRoutes } from './routes/pool.js';
import { pricingRoutes } from './routes/pricing.js';
import { usageRoutes } from './routes/usage.js';
import { sampleRoutes } from './routes/samples.js';
import { sweepRoutes } from './routes/sweeps.js';
import { systemRoutes } from './routes/system.js';
import { taskRoutes } from './routes/tasks.js';
import { arrayRoutes } from './arrays.js';
import { IdempotencyBook } from './idempotency.js';
import { SseHub } from './sse.js';
import { dashboardPlugin } from '../dashboard/index.js';
import { datasetRoutes } from './datasets.js';
import { BlobStore } from './datasets-blobs.js';
import { clusterRoute, singleServerView, type ClusterView } from './leadership-status.js';

export const SERVER_VERSION = '0.1.0';

export interface AppDeps {
  store: Store;
  clock: Clock;
  /** Control-loop tick in ms; 0 = none (tests drive `control.tick()`). Default 200. */
  tickMs?: number;
  nodeLostAfterMs?: number;
  policy?: Partial<SchedulerPolicy>;
  /** Grace between SIGTERM and SIGKILL sent to agents. Default 10 s. */
  graceMs?: number;
  /**
   * Log followers wait this long for late chunks once a task finished. The agent ships (and the
   * store commits) every chunk before it reports the exit, so this is only a margin; every
   * `fastgpu run` and `logs -f` waits it out at the end. Default 20 ms.
   */
  logDrainMs?: number;
  /** Time limit of a task that sets none (`--default-time-limit`); none: untimed tasks run until they end. */
  defaultTimeLimitMs?: number;
  /** Running tasks of a tenant whose budget is exhausted: `continue` (default) or `stop`. */
  budgetPolicy?: 'continue' | 'stop';
  /** Clock ms between ledger settlements of running attempts (default 30 s). */
  settleEveryMs?: number;
  /** Let waiting tasks preempt running ones (default true). */
  preemption?: boolean;
  /** How long each tier of utilisation samples is kept (compileSampleRetention); default 24 h raw, 7 d minutes, 400 d hours. */
  sampleRetention?: SampleRetention;
  /** Delete the logs of tasks finished longer ago than this (ms); default: keep logs forever. */
  logsRetentionMs?: number;
  /** Compact and prune samples on timers (retention.ts). Default true; tests call `samples.compact()` themselves. */
  sampleMaintenance?: boolean;
  log?: (line: string) => void;
  /** Streams (events, log follows) one token may hold open at once; more answer 429. Default 16. */
  maxStreamsPerToken?: number;
  /** How often open streams' tokens are re-checked for revocation (ms). Default 2 s. */
  revocationCheckMs?: number;
  /**
   * Runs after the error handler and body parsers are installed and before any route: the place
   * for root-level plugins whose hooks must run before the routes' auth (e.g. the dashboard).
   */
  /** Where dataset chunks are kept (`<dataDir>/blobs`); without it the dataset routes answer 503. */
  blobDir?: string;
  /** Serve HTTPS with this pair (PEM text); default plain HTTP. */
  https?: { cert: string; key: string };
  /** How long a joined node's credential lives (issue 11); agents renew at 2/3 of it. Default 7 days. */
  nodeCredentialTtlMs?: number;
  beforeRoutes?: (app: FastifyInstance, ctx: { auth: Authenticator; clock: Clock }) => Promise<void>;
  /** GET /v1/cluster (`fastgpu status`): the servers and the leader; default: this one alone. */
  cluster?: () => Promise<ClusterView>;
}

export interface ServerApp {
  app: FastifyInstance;
  control: ControlPlane;
  auth: Authenticator;
  metrics: Registry;
  /** Sample compaction and pruning; on timers unless `sampleMaintenance: false`. */
  samples: SampleMaintenance;
  /** Open SSE streams (events, log follows). */
  sse: SseHub;
  /** Stops the loop, ends streams and long-polls, closes the app. The store stays open. */
  close(): Promise<void>;
}

/** The whole API over `deps.store`, with its control plane loaded and started. */
export async function buildApp(deps: AppDeps): Promise<ServerApp> {
  const log = deps.log ?? (() => {});
  const control = await ControlPlane.open({
    store: deps.store,
    clock: deps.clock,
    tickMs: deps.tickMs ?? 200,
    nodeLostAfterMs: deps.nodeLostAfterMs ?? DEFAULT_LEASE_MS,
    graceMs: deps.graceMs ?? 10_000,
    log,
    ...(deps.budgetPolicy !== undefined ? { budgetPolicy: deps.budgetPolicy } : {}),
    ...(deps.settleEveryMs !== undefined ? { settleEveryMs: deps.settleEveryMs } : {}),
    ...(deps.preemption !== undefined ? { preemption: deps.preemption } : {}),
    ...(deps.policy ? { policy: deps.policy } : {}),
  });
  let assembled: { app: FastifyInstance; auth: Authenticator; metrics: Registry; sse: SseHub };
  try {
    assembled = await assemble(deps, control, log);
  } catch (e) {
    await control.close();
    throw e;
  }
  const { app, auth, metrics, sse } = assembled;
  const samples = new SampleMaintenance({
    store: deps.store,
    clock: deps.clock,
    retention: deps.sampleRetention ?? DEFAULT_SAMPLE_RETENTION,
    ...(deps.logsRetentionMs !== undefined ? { logsRetentionMs: deps.logsRetentionMs } : {}),
    log,
  });
  if (deps.sampleMaintenance !== false) samples.start();

  let closing: Promise<void> | null = null;
  return {
    app,
    control,
    auth,
    metrics,
    samples,
    sse,
    close: () =>
      (closing ??= (async () => {
        sse.closeAll();
        await samples.close();
        await control.close();
        await app.close();
      })()),
  };
}

async function assemble(
  deps: AppDeps,
  control: ControlPlane,
  log: (line: string) => void,
): Promise<{ app: FastifyInstance; auth: Authenticator; metrics: Registry; sse: SseHub }> {
  const app = Fastify({
    ...(deps.https ? { https: { cert: deps.https.cert, key: deps.https.key } } : {}),
    logger: false,
    bodyLimit: BODY_LIMIT,
    // Ids of up to the spec's 128 characters reach the route (find-my-way measures the decoded value).
    routerOptions: { maxParamLength: MAX_PATH_PARAM },
    // Keep-alive clients (agents, benchmarks) reuse connections; long-polls need long requests.
    keepAliveTimeout: 65_000,
    requestTimeout: 0,
    forceCloseConnections: true,
    return503OnClosing: true,
    frameworkErrors: (err, _req, reply) => {
      const { status, body } = toErrorResponse(err);
      void (reply as unknown as FastifyReply).code(status).send(body);
    },
  });
  app.decorateRequest('principal', null);
  installBodyParsers(app);
  app.setErrorHandler(makeErrorHandler(log));
  // Set once the routes are: a known path asked with an undeclared method is a 405 with Allow.
  let book: RouteBook | null = null;
  const noRoute = (req: FastifyRequest, reply: FastifyReply): void => {
    const path = req.url.split('?')[0] ?? '';
    const allow = book?.allowed(path) ?? null;
    if (allow) {
      const body: ErrorBody = { error: { code: 'METHOD_NOT_ALLOWED', message: `${clip(req.method, 16)} is not allowed here; allowed: ${allow.join(', ')}` } };
      void reply.code(405).header('allow', allow.join(', ')).send(body);
      return;
    }
    const { status, body } = toErrorResponse(new FastGpuError('NOT_FOUND', `no route ${clip(req.method, 16)} ${clip(path, 200)}`));
    void reply.code(status).send(body);
  };
  // Before any body is read: a method that carries one (QUERY, PUT) on a path without that route
  // is a 405 or 404, not a complaint about its content type.
  app.addHook('onRequest', async (req, reply) => {
    if (!req.is404) return;
    noRoute(req, reply);
    return reply;
  });
  app.setNotFoundHandler(noRoute);

  const auth = new Authenticator(deps.store, deps.clock);
  await ensureDefaultTenant(deps.store, deps.clock);
  // The control plane read the tenants before "default" was made at a first start: again now.
  await control.tenantsChanged();
  if (deps.beforeRoutes) await deps.beforeRoutes(app, { auth, clock: deps.clock });
  const sse = new SseHub(deps.maxStreamsPerToken !== undefined ? { maxStreamsPerToken: deps.maxStreamsPerToken } : {});
  // A revoked token's open streams end (revocations through this server end them at once).
  sse.watchRevocations(async (id) => (await deps.store.getToken(id))?.revokedAt != null, deps.revocationCheckMs ?? 2_000);
  book = new RouteBook(app, auth);
  const metrics = createMetrics(control, deps.store);
  registerLpMetrics(metrics, deps.policy?.batch);
  const ctx: RouteContext = { book, store: deps.store, control, clock: deps.clock, auth, sse, idempotency: new IdempotencyBook(deps.store, deps.clock, log), log, logDrainMs: deps.logDrainMs ?? 20, ...(deps.defaultTimeLimitMs !== undefined ? { defaultTimeLimitMs: deps.defaultTimeLimitMs } : {}) };
  systemRoutes(ctx, metrics, SERVER_VERSION);
  taskRoutes(ctx);
  arrayRoutes(ctx);
  poolRoutes(ctx);
  agentRoutes(ctx);
  joinRoutes(ctx, new JoinService(deps.store, deps.clock, deps.nodeCredentialTtlMs));
  adminRoutes(ctx);
  pricingRoutes(ctx);
  usageRoutes(ctx);
  autoscaleRoutes(ctx);
  sampleRoutes(ctx);
  await app.register(datasetRoutes(ctx, deps.blobDir !== undefined ? new BlobStore(deps.blobDir) : null));
  clusterRoute(book, deps.cluster ?? singleServerView('embedded', () => '', deps.clock.now(), () => deps.clock.now()));
  // Sweeps: their controller follows task events until the app closes.
  const sweeps = sweepRoutes(ctx);
  await sweeps.start();
  app.addHook('onClose', () => sweeps.close());
  // The web dashboard at / (src/dashboard): its session cookie authenticates /v1 calls as the token it was opened with.
  await app.register(dashboardPlugin, { authenticate: (h) => auth.authenticate(h), clock: deps.clock });
  await app.ready();
  return { app, auth, metrics, sse };
}
