// /v1/tasks: submit (JSON or YAML, dry run, gangs), list, get, events, cancel, wait, logs (page + SSE).
import { z } from 'zod';
import { FastGpuError, invalid, notFound } from '../../core/errors.js';
import { parseTaskSpec } from '../../core/spec.js';
import { newPendingTask } from '../../core/state.js';
import { TERMINAL_STATES, type Task, type TaskState } from '../../core/types.js';
import type { Action } from '../../core/tenancy/index.js';
import type { TaskEventPage } from '../../protocol/api.js';
import { TaskSubmitAnswerSchema } from '../../protocol/arrays.js';
import type { IdempotencyRecord, LogPage } from '../../store/port.js';
import { authorize, listScope, type Principal } from '../auth.js';
import { checkDependencies, expandSubmit, submitAnswer, takeSubmitExtras } from '../arrays-submit.js';
import { pinInputs } from '../datasets-inputs.js';
import { whyGangNeverFits } from '../feasibility.js';
import { offerHolds } from '../../core/autoscale/index.js';
import { IDEMPOTENCY_HEADER, idempotencyKeyOf } from '../idempotency.js';
import { newId } from '../ids.js';
import { specContextFor } from '../time-limits.js';
import {
  IdParamsSchema,
  LogPageSchema,
  LogsQuerySchema,
  SubmitQuerySchema,
  TASK_EVENTS_DEFAULT_LIMIT,
  TaskDetailViewSchema,
  TaskEventPageSchema,
  TaskEventsQuerySchema,
  TaskListQuerySchema,
  TaskPageSchema,
  TaskSubmitBodySchema,
  TaskViewSchema,
  WaitQuerySchema,
} from '../schemas.js';
import { taskDetailView, taskView } from '../views.js';
import { outputsOfTask } from '../datasets-outputs.js';
import type { RouteContext } from './context.js';
import { QuoteViewSchema, quoteFor, refuseOverBudget } from './pricing.js';
import { clientGone, wantsSse } from './util.js';

const YAML_OR_JSON = ['application/json', 'application/yaml', 'text/yaml'];
const isTerminal = (s: TaskState): boolean => TERMINAL_STATES.includes(s);
const DEFAULT_FINISHED = 100;
/**
 * Chunks a log follower reads from the store at a time. Agents ship chunks of at most 64 KiB, so
 * a follower holds at most this page (about 1 MiB, 6× that as SSE if every byte needs escaping)
 * plus FOLLOW_HIGH_WATER queued on its socket.
 */
const FOLLOW_PAGE_CHUNKS = 16;
const newestFirst = (a: Task, b: Task): number => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

const chunkView = (c: LogPage['chunks'][number]) => ({
  pos: c.pos,
  attempt: c.attempt,
  stream: c.stream,
  seq: c.seq,
  at: new Date(c.at).toISOString(),
  data: c.data,
});

export function taskRoutes(ctx: RouteContext): void {
  const { book, control, store, clock } = ctx;

  /** The task, if `principal` may do `action` on it; another tenant's task is NOT_FOUND. */
  async function mustGet(id: string, principal: Principal, action: Action): Promise<Task> {
    const t = await control.getTask(id);
    if (!t) throw notFound('task', id);
    authorize(principal, action, t.spec.tenant, { what: 'task', id });
    return t;
  }

  book.add({
    method: 'POST',
    url: '/v1/tasks',
    tag: 'tasks',
    summary: 'Submit a task (a gang of N makes N tasks); ?dryRun=true validates and checks feasibility only',
    query: SubmitQuerySchema,
    bodyDoc: TaskSubmitBodySchema,
    bodyTypes: YAML_OR_JSON,
    response: TaskSubmitAnswerSchema,
    status: 201,
    headers: [
      {
        name: 'Idempotency-Key',
        description:
          'Makes a retried submit safe: the same key (per token, for 24 h, kept in the store with the tasks, so also across a server restart) with the same body answers the tasks the first request made (with `Idempotent-Replayed: true`) and creates none; with another body it is a 409. The SDKs and the CLI send one.',
      },
    ],
    also: [
      {
        status: 200,
        description: '?dryRun: the tasks that would be made (not stored) and their price quote',
        response: TaskSubmitAnswerSchema.extend({ dryRun: z.literal(true), quote: QuoteViewSchema.nullable() }),
      },
    ],
    handler: async ({ query, req, reply, principal }) => {
      // Admins may submit for another tenant with ?tenant=; everyone else submits as their own.
      const tenant = query.tenant ?? principal.tenant;
      authorize(principal, 'task.submit', tenant);
      if (tenant !== principal.tenant && !(await control.tenantCache.getTenant(tenant))) throw new FastGpuError('NOT_FOUND', `query.tenant: tenant ${JSON.stringify(tenant)} does not exist`, 'query.tenant');
      if (req.body === undefined || req.body === null) throw invalid('body', 'a task spec is required (JSON or YAML)');
      const extras = takeSubmitExtras(req.body);
      const spec = parseTaskSpec(extras.body, await specContextFor(control.tenantCache, tenant, ctx.defaultTimeLimitMs));
      await pinInputs(spec, store);
      if (spec.vgpuId !== undefined) {
        const r = control.reservations.get(spec.vgpuId);
        // Another tenant's vGPU is answered as if it did not exist.
        if (r && r.tenant !== tenant) throw invalid('vgpu', `vGPU ${spec.vgpuId} not found`);
        if (!r) {
          const stored = await store.getReservation(spec.vgpuId);
          throw invalid('vgpu', stored && stored.tenant === tenant ? `vGPU ${spec.vgpuId} was released` : `vGPU ${spec.vgpuId} not found`);
        }
      } else {
        const nodes = [...control.nodes.values()];
        // With no node known yet there is nothing to judge against: the task waits. A task only an
        // autoscaled node shape holds is accepted: the autoscaler asks for that node.
        if (nodes.length > 0) {
          const why = control.feasibility.neverFits(spec.resources, nodes);
          if (why && !control.offered.some((o) => offerHolds(o, spec.resources))) {
            throw new FastGpuError('UNSCHEDULABLE', `${why.field}: ${why.message}`, why.field);
          }
        }
      }
      const now = clock.now();
      const gangId = spec.gang > 1 ? newId('g') : null;
      const tasks: Task[] = [];
      for (let i = 0; i < spec.gang; i++) {
        tasks.push(newPendingTask(newId('t'), spec, now, { id: gangId, index: i }));
      }
      // A gang the pool's nodes cannot hold at once waits when an autoscaled shape holds a replica:
      // the autoscaler asks for every node it needs together, or for none (autoscaler.ts).
      if (spec.vgpuId === undefined) {
        const why = whyGangNeverFits(tasks, [...control.nodes.values()]);
        if (why && !control.offered.some((o) => offerHolds(o, spec.resources))) throw new FastGpuError('UNSCHEDULABLE', why, 'gang');
      }
      // Issue 14: `array:` makes the elements, `after:` the dependencies (arrays-submit.ts).
      if (extras.after) await checkDependencies(new Set(tasks.map((t) => t.id)), extras.after, tenant, { liveTask: (id) => control.tasks.get(id), store });
      if (extras.array || extras.after) tasks.splice(0, tasks.length, ...expandSubmit(tasks, extras));
      // The key is checked first: a dry run with a bad key is refused as the real submit would be.
      const key = idempotencyKeyOf(req.headers[IDEMPOTENCY_HEADER]);
      if (query.dryRun) return reply.code(200).send({ ...submitAnswer(tasks), dryRun: true, quote: quoteFor(spec, control, now) });
      const submit = async (idempotency?: IdempotencyRecord): Promise<void> => {
        await refuseOverBudget(control, tenant);
        await control.submit(tasks, idempotency);
      };
      if (key === undefined) {
        await submit();
        return submitAnswer(tasks);
      }
      // A retry of a submit that went through answers the tasks it made, as they are now.
      const { ids, replayed } = await ctx.idempotency.once(principal.tokenId, key, { body: req.body, tenant }, tasks.map((t) => t.id), submit);
      if (!replayed) return submitAnswer(tasks);
      void reply.header('idempotent-replayed', 'true');
      const now2 = await Promise.all(ids.map((id) => control.getTask(id)));
      return submitAnswer(now2.filter((t): t is Task => t !== undefined && t !== null));
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/tasks',
    tag: 'tasks',
    summary: 'List tasks: live ones and the last 100 finished by default; filters by state, name, node, vGPU',
    query: TaskListQuerySchema,
    response: TaskPageSchema,
    handler: async ({ query, principal }) => {
      const tenant = listScope(principal, 'task.list', query.tenant);
      let nodeId: string | undefined;
      if (query.node !== undefined) {
        nodeId = control.nodes.has(query.node) ? query.node : [...control.nodes.values()].find((n) => n.name === query.node)?.id;
        if (!nodeId) return { tasks: [] };
      }
      const states = query.state && query.state.length > 0 ? query.state : undefined;
      const wantsFinished = query.all === true || (states?.some(isTerminal) ?? false);
      const liveStates = states ? states.filter((s) => !isTerminal(s)) : undefined;
      let beforeAt: number | undefined;
      if (query.before !== undefined) {
        const b = await control.getTask(query.before);
        if (!b || (tenant !== null && b.spec.tenant !== tenant)) throw new FastGpuError('NOT_FOUND', `query.before: task ${query.before} not found`, 'query.before');
        beforeAt = b.createdAt;
      }
      // Keyset on (createdAt, id), as the store pages: tasks of one millisecond (an array, a gang)
      // are neither skipped nor repeated across pages.
      const isBefore = (t: Task): boolean => beforeAt === undefined || t.createdAt < beforeAt || (t.createdAt === beforeAt && t.id < query.before!);
      const matchesAny = (t: Task): boolean =>
        (tenant === null || t.spec.tenant === tenant) &&
        (query.name === undefined || t.spec.name.includes(query.name)) &&
        (nodeId === undefined || t.placement?.nodeId === nodeId) &&
        (query.vgpu === undefined || t.spec.vgpuId === query.vgpu) &&
        (query.gang === undefined || t.gangId === query.gang) &&
        isBefore(t);
      const matches = (t: Task): boolean => matchesAny(t) && (liveStates === undefined || liveStates.includes(t.state));
      const out: Task[] = [];
      // The oldest finished task of a full page from the store: older ones were not read.
      let storeCut: Task | undefined;
      if (liveStates === undefined || liveStates.length > 0) for (const t of control.tasks.values()) if (matches(t)) out.push(t);
      if (states === undefined || wantsFinished) {
        const finishedStates = (states ?? TERMINAL_STATES).filter(isTerminal);
        const limit = query.all || states ? (query.limit ?? 1000) : Math.min(query.limit ?? DEFAULT_FINISHED, DEFAULT_FINISHED);
        if (finishedStates.length > 0) {
          const filter: Parameters<typeof store.listTasks>[0] = { states: finishedStates, limit };
          if (tenant !== null) filter.tenant = tenant;
          if (query.name !== undefined) filter.name = query.name;
          if (nodeId !== undefined) filter.nodeId = nodeId;
          if (query.vgpu !== undefined) filter.vgpuId = query.vgpu;
          if (query.gang !== undefined) filter.gangId = query.gang;
          if (query.before !== undefined) filter.before = query.before;
          // Ended, the end not yet stored (a full disk): as memory knows it.
          for (const t of control.finishingTasks()) if (finishedStates.includes(t.state) && matchesAny(t)) out.push(t);
          const seen = new Set(out.map((t) => t.id));
          // A task may finish between the two reads: the store's copy wins.
          const stored = await store.listTasks(filter);
          for (const t of stored) if (!seen.has(t.id)) out.push(t);
          // The default view is "the last 100 finished" by design; a list the caller asked for pages.
          if ((query.all || states) && stored.length === limit) storeCut = stored[stored.length - 1];
        }
      }
      out.sort(newestFirst);
      // A page ends where the store's read ended (live tasks older than that come with the next
      // page), or at `limit`; `next` then says more follow, so no caller takes a page for all.
      let page = out;
      if (storeCut !== undefined) page = out.filter((t) => newestFirst(t, storeCut) <= 0);
      if (query.limit !== undefined && page.length > query.limit) page = page.slice(0, query.limit);
      const truncated = page.length < out.length || storeCut !== undefined;
      const last = page[page.length - 1];
      return { tasks: page.map(taskView), ...(truncated && last !== undefined ? { next: last.id } : {}) };
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/tasks/:id',
    tag: 'tasks',
    summary: 'A task with its attempts',
    params: IdParamsSchema,
    response: TaskDetailViewSchema,
    handler: async ({ params, principal }) => {
      const t = await mustGet(params.id, principal, 'task.get');
      // Issue 16: its outputs with the dataset versions they made.
      const outputs = await outputsOfTask(t, store);
      return { ...taskDetailView(t, await store.listAttempts(t.id)), ...(outputs ? { outputs } : {}) };
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/tasks/:id/events',
    tag: 'tasks',
    summary: 'The task’s history, oldest first: every event stored for it (submitted, scheduled, started, waiting reasons, requeued, cancelled, finished), in pages',
    params: IdParamsSchema,
    query: TaskEventsQuerySchema,
    response: TaskEventPageSchema,
    handler: async ({ params, query, principal }): Promise<TaskEventPage> => {
      const t = await mustGet(params.id, principal, 'task.get');
      const limit = query.limit ?? TASK_EVENTS_DEFAULT_LIMIT;
      // One more than asked says whether another page follows, without an empty round trip.
      const events = await store.listTaskEvents(t.id, { after: query.after ?? 0, limit: limit + 1 });
      if (events.length <= limit) return { events };
      events.length = limit;
      return { events, next: events[limit - 1]!.seq };
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/tasks/:id/cancel',
    tag: 'tasks',
    summary: 'Cancel a task: PENDING ones at once, running ones when their agent has stopped them; 409 when finished',
    params: IdParamsSchema,
    response: TaskViewSchema,
    handler: async ({ params, principal }) => {
      await mustGet(params.id, principal, 'task.cancel');
      return taskView(await control.cancel(params.id));
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/tasks/:id/wait',
    tag: 'tasks',
    summary: 'Long-poll until the task is finished (or timeoutMs passes); answers the task',
    params: IdParamsSchema,
    query: WaitQuerySchema,
    response: TaskViewSchema,
    handler: async ({ params, query, reply, principal }) => {
      const timeoutMs = query.timeoutMs ?? 30_000;
      const deadline = Date.now() + timeoutMs;
      const gone = clientGone(reply);
      for (;;) {
        const t = await mustGet(params.id, principal, 'task.wait');
        const left = deadline - Date.now();
        if (isTerminal(t.state) || left <= 0 || gone.aborted || control.isClosed) return taskView(t);
        await control.taskWaiters.wait(t.id, left, gone);
      }
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/tasks/:id/logs',
    tag: 'tasks',
    summary: 'Log history in pages; with Accept: text/event-stream or ?follow=true, SSE `log` events then `end`',
    params: IdParamsSchema,
    query: LogsQuerySchema,
    response: LogPageSchema,
    // A page of JSON, or (Accept: text/event-stream or ?follow) the SSE stream: both documented.
    produces: 'sse',
    handler: async ({ params, query, req, reply, principal }) => {
      const t = await mustGet(params.id, principal, 'task.logs');
      const q: Parameters<typeof store.readLogs>[1] = {};
      if (query.attempt !== undefined) q.attempt = query.attempt;
      if (query.stream !== undefined) q.stream = query.stream;
      if (!wantsSse(req.headers.accept, query.follow)) {
        const page = await store.readLogs(t.id, { ...q, after: query.after ?? 0, limit: query.limit ?? 1000 });
        // Nothing from the start: say so if log retention deleted them (`--logs-retention`).
        const prunedAt = page.chunks.length === 0 && (query.after ?? 0) <= 0 && isTerminal(t.state) ? await store.logsPrunedAt(t.id) : null;
        return { chunks: page.chunks.map(chunkView), next: page.next, ...(prunedAt !== null ? { prunedAt: new Date(prunedAt).toISOString() } : {}) };
      }
      const s = ctx.sse.open(req, reply, principal.tokenId);
      let after = query.after ?? Number(req.headers['last-event-id'] ?? 0);
      if (!Number.isSafeInteger(after)) after = 0;
      void (async () => {
        try {
          for (;;) {
            // Back-pressure: no store read while the client has not taken what it was sent.
            await s.drained();
            if (s.ended) return;
            const page = await store.readLogs(t.id, { ...q, after, limit: FOLLOW_PAGE_CHUNKS });
            for (const c of page.chunks) s.send('log', chunkView(c), c.pos);
            after = page.next;
            if (page.chunks.length > 0) continue;
            const now = await control.getTask(t.id);
            if (!now || isTerminal(now.state)) {
              // Late chunks may still be on their way from the agent: give them a moment.
              const why = await control.logWaiters.wait(t.id, ctx.logDrainMs, s.signal);
              if (why === 'notified') continue;
              const last = await store.readLogs(t.id, { ...q, after, limit: FOLLOW_PAGE_CHUNKS });
              if (last.chunks.length > 0) continue;
              s.send('end', { state: now?.state ?? null, exitCode: now?.exitCode ?? null });
              s.end();
              return;
            }
            const why = await control.logWaiters.wait(t.id, 30_000, s.signal);
            if (why === 'closed' || why === 'aborted') {
              s.end();
              return;
            }
          }
        } catch (e) {
          ctx.log(`error: log follow ${t.id}: ${String(e)}`);
          s.end();
        }
      })();
      return undefined;
    },
  });
}
