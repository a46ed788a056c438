// /v1/sweeps: start a sweep (JSON or YAML), list, status, best, metrics, cancel; and
// /v1/agent/metrics, where agents ship the metric lines trials append to $FASTGPU_METRICS.
// Trials are tasks of the sweep's tenant, so the task permissions apply.
import { z } from 'zod';
import { FastGpuError, invalid, notFound } from '../../core/errors.js';
import { formatMoney } from '../../core/pricing/money.js';
import { neverFits } from '../../core/scheduler/index.js';
import { parseSweepSpec, SweepFileSchema } from '../../core/sweep/spec.js';
import { NODE_CREDENTIAL_HEADER } from '../../protocol/agent.js';
import { authorize, listScope, type Principal } from '../auth.js';
import { AGENT_BODY_LIMIT } from '../body.js';
import { IdParamsSchema, OkSchema } from '../schemas.js';
import { SweepController, type SweepView, type TrialView } from '../sweeps.js';
import type { RouteContext } from './context.js';

const YAML_OR_JSON = ['application/json', 'application/yaml', 'text/yaml'];

const SweepSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  name: z.string(),
  state: z.enum(['RUNNING', 'SUCCEEDED', 'CANCELLED', 'CAPPED', 'FAILED']),
  createdAt: z.number(),
  finishedAt: z.number().nullable(),
  nextTrial: z.number(),
  trials: z.number(),
  message: z.string().nullable(),
});

const TrialSchema = z.object({
  index: z.number(),
  taskId: z.string(),
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  state: z.enum(['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'PRUNED', 'CANCELLED']),
  taskState: z.string().nullable(),
  slice: z.object({ gpuMilli: z.number(), memoryMiB: z.number(), node: z.string(), gpus: z.array(z.number()) }).nullable(),
  cost: z.number(),
  costMicros: z.string(),
  best: z.object({ value: z.number(), step: z.number() }).nullable(),
  lastStep: z.number().nullable(),
  points: z.number(),
  message: z.string().nullable(),
});

const SweepDetailSchema = z.object({
  sweep: SweepSchema,
  backend: z.enum(['native', 'optuna']).describe('optuna: a driver asks for trials and prunes them (POST /v1/sweeps/:id/trials)'),
  metric: z.string(),
  goal: z.enum(['minimize', 'maximize']),
  maxConcurrent: z.number(),
  costCap: z.number().nullable(),
  cost: z.number(),
  currency: z.string(),
  counts: z.record(z.string(), z.number()),
  best: TrialSchema.nullable(),
  trials: z.array(TrialSchema),
});

const MetricsSchema = z.object({
  metric: z.string(),
  series: z.array(z.object({ index: z.number(), taskId: z.string(), state: z.string(), points: z.array(z.object({ step: z.number(), at: z.number(), values: z.record(z.string(), z.number()) })) })),
});

const AgentMetricsSchema = z.strictObject({
  nodeId: z.string().min(1).max(128),
  points: z
    .array(
      z.strictObject({
        taskId: z.string().min(1).max(128),
        attempt: z.number().int().min(1).max(100),
        index: z.number().int().min(0).max(9_999),
        at: z.number().int().min(0),
        step: z.number().min(0).max(1e15),
        values: z.record(z.string().max(64), z.number()).refine((v) => Object.keys(v).length <= 32, 'at most 32 metrics a point'),
      }),
    )
    .max(5_000),
});

const trialOut = (t: TrialView) => ({
  index: t.index,
  taskId: t.taskId,
  params: t.params,
  state: t.state,
  taskState: t.taskState,
  slice: t.slice,
  cost: Number(formatMoney(t.cost, 6)),
  costMicros: t.cost.toString(),
  best: t.best,
  lastStep: t.lastStep,
  points: t.points,
  message: t.message,
});

function detailOut(v: SweepView, currency: string) {
  return {
    sweep: { ...sweepOut(v.sweep), trials: v.spec.trials },
    backend: v.spec.backend,
    metric: v.spec.objective.metric,
    goal: v.spec.objective.goal,
    maxConcurrent: v.spec.maxConcurrent,
    costCap: v.spec.costCap === null ? null : Number(formatMoney(v.spec.costCap, 6)),
    cost: Number(formatMoney(v.cost, 6)),
    currency,
    counts: v.counts,
    best: v.best ? trialOut(v.best) : null,
    trials: v.trials.map(trialOut),
  };
}

function sweepOut(s: { id: string; tenant: string; name: string; state: z.infer<typeof SweepSchema>['state']; createdAt: number; finishedAt: number | null; nextTrial: number; message: string | null; input: unknown }) {
  const trials = (s.input as { trials?: unknown }).trials;
  return { id: s.id, tenant: s.tenant, name: s.name, state: s.state, createdAt: s.createdAt, finishedAt: s.finishedAt, nextTrial: s.nextTrial, trials: typeof trials === 'number' ? trials : s.nextTrial, message: s.message };
}

/** The sweep routes and their controller (started here; the caller closes it). */
export function sweepRoutes(ctx: RouteContext): SweepController {
  const { book, store, control, clock } = ctx;
  const sweeps = new SweepController({ store, control, clock, log: ctx.log, ...(ctx.defaultTimeLimitMs !== undefined ? { defaultTimeLimitMs: ctx.defaultTimeLimitMs } : {}) });

  const mustGet = async (id: string, principal: Principal, action: 'task.get' | 'task.cancel') => {
    const s = await store.sweeps().getSweep(id);
    if (!s) throw notFound('sweep', id);
    authorize(principal, action, s.tenant, { what: 'sweep', id });
    return s;
  };

  book.add({
    method: 'POST',
    url: '/v1/sweeps',
    tag: 'sweeps',
    summary: 'Start a hyper-parameter sweep: a search space, a trial command, trials, max_concurrent, each trial’s slice, a metric, early stopping and a cost cap',
    query: z.strictObject({ tenant: z.string().min(1).max(64).optional() }),
    bodyDoc: SweepFileSchema,
    bodyTypes: YAML_OR_JSON,
    response: SweepDetailSchema,
    status: 201,
    handler: async ({ query, req, principal }) => {
      const tenant = query.tenant ?? principal.tenant;
      authorize(principal, 'task.submit', tenant);
      if (req.body === undefined || req.body === null) throw invalid('body', 'a sweep file is required (JSON or YAML)');
      const spec = parseSweepSpec(req.body, { tenant });
      const nodes = [...control.nodes.values()];
      if (nodes.length > 0) {
        const why = neverFits(spec.template.resources, nodes);
        if (why) throw new FastGpuError('UNSCHEDULABLE', `a trial can never run: ${why.field.replace('resources.', '')}: ${why.message}`, why.field.replace('resources.', ''));
      }
      const s = await sweeps.create(req.body, tenant);
      return detailOut(await sweeps.view(s.id), control.billing.pricing.book.currency);
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/sweeps',
    tag: 'sweeps',
    summary: 'Sweeps, newest first',
    query: z.strictObject({ tenant: z.string().min(1).max(64).optional(), live: z.enum(['true', 'false']).optional() }),
    response: z.object({ sweeps: z.array(SweepSchema) }),
    handler: async ({ query, principal }) => {
      const tenant = listScope(principal, 'task.list', query.tenant);
      const list = await store.sweeps().listSweeps({ ...(tenant !== null ? { tenant } : {}), ...(query.live === 'true' ? { live: true } : {}) });
      return { sweeps: list.map(sweepOut) };
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/sweeps/:id',
    tag: 'sweeps',
    summary: 'A sweep’s status: every trial with its state, slice, cost and best value, and the best trial',
    params: IdParamsSchema,
    response: SweepDetailSchema,
    handler: async ({ params, principal }) => {
      await mustGet(params.id, principal, 'task.get');
      return detailOut(await sweeps.view(params.id), control.billing.pricing.book.currency);
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/sweeps/:id/metrics',
    tag: 'sweeps',
    summary: 'Every trial’s reported metric points, by step (for charts)',
    params: IdParamsSchema,
    response: MetricsSchema,
    handler: async ({ params, principal }) => {
      await mustGet(params.id, principal, 'task.get');
      const v = await sweeps.view(params.id);
      const points = await store.sweeps().listMetrics(v.trials.map((t) => t.taskId));
      return {
        metric: v.spec.objective.metric,
        series: v.trials.map((t) => ({
          index: t.index,
          taskId: t.taskId,
          state: t.state,
          points: points.filter((p) => p.taskId === t.taskId).map((p) => ({ step: p.step, at: p.at, values: p.values })),
        })),
      };
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/sweeps/:id/cancel',
    tag: 'sweeps',
    summary: 'Cancel a sweep: its live trials are stopped and no more start',
    params: IdParamsSchema,
    response: SweepSchema,
    handler: async ({ params, principal }) => {
      await mustGet(params.id, principal, 'task.cancel');
      const s = await sweeps.cancel(params.id);
      return sweepOut(s);
    },
  });

  // backend: optuna: the driver (fastgpu.Sweep(..., backend="optuna").run() in Python) asks its
  // sampler for each trial and its pruner whether to stop one; the server runs them.
  book.add({
    method: 'POST',
    url: '/v1/sweeps/:id/trials',
    tag: 'sweeps',
    summary: 'backend optuna: run a trial with the parameters the driver’s sampler chose (within the space); CONFLICT at max_concurrent live trials or once every trial was made',
    params: IdParamsSchema,
    body: z.strictObject({ params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])) }),
    response: z.object({ index: z.number(), taskId: z.string(), params: TrialSchema.shape.params, state: TrialSchema.shape.state }),
    status: 201,
    handler: async ({ params, body, principal }) => {
      await mustGet(params.id, principal, 'task.cancel');
      const t = await sweeps.addTrial(params.id, body.params);
      return { index: t.index, taskId: t.taskId, params: t.params, state: t.state };
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/sweeps/:id/trials/:index/prune',
    tag: 'sweeps',
    summary: 'backend optuna: the driver’s pruner stopped this trial; it ends PRUNED and its slice is freed at once',
    params: z.strictObject({ id: IdParamsSchema.shape.id, index: z.string().max(7).regex(/^\d+$/, 'a trial index: a whole number from 0').describe('the trial’s index') }),
    response: z.object({ index: z.number(), taskId: z.string(), state: TrialSchema.shape.state }),
    handler: async ({ params, principal }) => {
      await mustGet(params.id, principal, 'task.cancel');
      const t = await sweeps.pruneTrial(params.id, Number(params.index));
      return { index: t.index, taskId: t.taskId, state: t.state };
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/agent/metrics',
    tag: 'agent',
    summary: 'Metric points trials appended to $FASTGPU_METRICS (idempotent by task, attempt and line)',
    body: AgentMetricsSchema,
    bodyLimit: AGENT_BODY_LIMIT,
    response: OkSchema,
    handler: async ({ body, req }) => {
      const cred = req.headers[NODE_CREDENTIAL_HEADER];
      await control.authNode(body.nodeId, typeof cred === 'string' && cred.length > 0 ? cred : undefined);
      await sweeps.ingest(body.nodeId, body.points);
      return { ok: true };
    },
  });

  return sweeps;
}
