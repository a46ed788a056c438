// /v1/arrays (issue 14): an array's status (counts by state, usage), its elements, their results
// in index order (what `map` returns), and cancel. Elements are ordinary tasks; these routes read
// the live ones from memory and the finished ones from the store by array id.
import { z } from 'zod';
import { arrayStatus } from '../core/array.js';
import { notFound } from '../core/errors.js';
import { moneyToNumber, type Micros } from '../core/pricing/money.js';
import type { Task } from '../core/types.js';
import { ArrayCancelSchema, ArrayResultsSchema, ArrayTasksSchema, ArrayViewSchema, type ArrayView } from '../protocol/arrays.js';
import type { PricedLineRecord } from '../store/port.js';
import { authorize, type Principal } from './auth.js';
import type { RouteContext } from './routes/context.js';
import { IdParamsSchema, queryInt } from './schemas.js';
import { taskView } from './views.js';

/** `GET /v1/arrays/:id/tasks` pages: elements after an index, at most `limit` (default all). */
const ArrayTasksQuerySchema = z.strictObject({
  afterIndex: queryInt(-1, Number.MAX_SAFE_INTEGER).optional().describe('only elements with a higher index (a previous page’s `next`)'),
  limit: queryInt(1, 10_000).optional().describe('at most this many elements (default: all of them)'),
});

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Usage of a set of tasks from priced ledger lines: GPU-seconds and money, promotions included. */
export function usageOf(lines: readonly PricedLineRecord[], taskIds: ReadonlySet<string>, currency: string): ArrayView['usage'] {
  let gpuSeconds = 0;
  let list: Micros = 0n;
  let discount: Micros = 0n;
  let charged: Micros = 0n;
  const promotions = new Set<string>();
  for (const l of lines) {
    if (!taskIds.has(l.taskId)) continue;
    gpuSeconds += ((l.to - l.from) / 1000) * (l.gpuMilli / 1000) * l.gpuCount;
    list += l.listAmount;
    discount += l.discountAmount;
    charged += l.chargedAmount;
    if (l.promotion !== null) promotions.add(l.promotion);
  }
  return {
    gpuSeconds: Math.round(gpuSeconds * 1000) / 1000,
    listAmount: moneyToNumber(list),
    discountAmount: moneyToNumber(discount),
    chargedAmount: moneyToNumber(charged),
    chargedMicros: charged.toString(),
    promotions: [...promotions].sort(),
    currency,
  };
}

export function arrayRoutes(ctx: RouteContext): void {
  const { book, control, store } = ctx;

  /** Every element of the array (live copy first), by index; NOT_FOUND for another tenant's. */
  async function elementsOf(id: string, principal: Principal): Promise<Task[]> {
    const byId = new Map<string, Task>();
    for (const t of await store.listTasks({ arrayId: id, limit: 1_000_000 })) byId.set(t.id, t);
    for (const t of control.tasks.values()) if (t.array?.id === id) byId.set(t.id, t);
    const all = [...byId.values()].sort((a, b) => a.array!.index - b.array!.index);
    const first = all[0];
    if (!first) throw notFound('array', id);
    authorize(principal, 'task.get', first.spec.tenant, { what: 'array', id });
    return all;
  }

  async function viewOf(elements: readonly Task[], settle: boolean): Promise<ArrayView> {
    const s = arrayStatus(elements);
    if (settle) await control.billing.settleNow();
    const lines = await store.listPricedUsage({ tenant: s.tenant, from: s.createdAt });
    const usage = usageOf(lines, new Set(elements.map((t) => t.id)), control.billing.pricing.book.currency);
    return { id: s.id, name: s.name, tenant: s.tenant, size: s.size, max: s.max, counts: s.counts, done: s.done, ok: s.ok, createdAt: iso(s.createdAt)!, finishedAt: iso(s.finishedAt), usage };
  }

  book.add({
    method: 'GET',
    url: '/v1/arrays/:id',
    tag: 'arrays',
    summary: 'A task array: its elements counted by state, whether all are done, and its GPU-seconds and cost so far (promotions included)',
    params: IdParamsSchema,
    response: ArrayViewSchema,
    handler: async ({ params, principal }) => viewOf(await elementsOf(params.id, principal), true),
  });

  book.add({
    method: 'GET',
    url: '/v1/arrays/:id/tasks',
    tag: 'arrays',
    summary: 'The elements of a task array, by index (?afterIndex=&limit= pages them; `next` is there while more follow)',
    params: IdParamsSchema,
    query: ArrayTasksQuerySchema,
    response: ArrayTasksSchema,
    handler: async ({ params, query, principal }) => {
      const elements = await elementsOf(params.id, principal);
      const after = query.afterIndex ?? -1;
      const from = elements.findIndex((t) => t.array!.index > after);
      const page = from < 0 ? [] : elements.slice(from, query.limit !== undefined ? from + query.limit : undefined);
      const last = page[page.length - 1];
      const more = last !== undefined && last !== elements[elements.length - 1];
      return { array: await viewOf(elements, false), tasks: page.map(taskView), ...(more ? { next: last.array!.index } : {}) };
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/arrays/:id/results',
    tag: 'arrays',
    summary: 'Each element’s state and result ($FASTGPU_RESULT), by index: what map() returns',
    params: IdParamsSchema,
    response: ArrayResultsSchema,
    handler: async ({ params, principal }) => {
      const elements = await elementsOf(params.id, principal);
      const results = elements.map((t) => {
        const r: z.infer<typeof ArrayResultsSchema>['results'][number] = { index: t.array!.index, taskId: t.id, state: t.state, exitCode: t.exitCode, reasonMessage: t.reasonMessage };
        if (t.result !== undefined) r.result = t.result;
        return r;
      });
      return { array: await viewOf(elements, false), results };
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/arrays/:id/cancel',
    tag: 'arrays',
    summary: 'Cancel every element that has not finished: pending ones at once, running ones when their agents have stopped them',
    params: IdParamsSchema,
    response: ArrayCancelSchema,
    handler: async ({ params, principal }) => {
      const elements = await elementsOf(params.id, principal);
      authorize(principal, 'task.cancel', elements[0]!.spec.tenant, { what: 'array', id: params.id });
      const cancelled = await control.cancelMany(elements.map((t) => t.id));
      return { array: await viewOf(await elementsOf(params.id, principal), false), cancelled };
    },
  });
}
