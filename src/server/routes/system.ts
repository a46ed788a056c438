// /healthz, /metrics, /v1/openapi.json, and the event stream /v1/events.
import { FastGpuError, invalid } from '../../core/errors.js';
import type { PoolEvent } from '../../core/types.js';
import { buildOpenApi } from '../api.js';
import { authorize } from '../auth.js';
import { EventsQuerySchema, OkSchema, PoolEventSchema } from '../schemas.js';
import type { RouteContext } from './context.js';
import { eventVisibility } from './util.js';
import type { Registry } from 'prom-client';
import { z } from 'zod';

export function systemRoutes(ctx: RouteContext, registry: Registry, version: string): void {
  const { book, control, store } = ctx;

  book.add({
    method: 'GET',
    url: '/healthz',
    tag: 'system',
    auth: false,
    summary: 'Liveness: 503 while the server is degraded (its store cannot be written)',
    response: OkSchema,
    handler: async () => {
      const d = control.degraded;
      if (d) throw new FastGpuError('UNAVAILABLE', `degraded: store writes have failed since ${new Date(d.since).toISOString()} (${d.error}); retrying`);
      return { ok: true };
    },
  });

  book.add({
    method: 'GET',
    url: '/metrics',
    tag: 'system',
    summary: 'Prometheus metrics',
    produces: 'text',
    handler: async ({ reply }) => reply.type(registry.contentType).send(await registry.metrics()),
  });

  let openapi: Record<string, unknown> | null = null;
  book.add({
    method: 'GET',
    url: '/v1/openapi.json',
    tag: 'system',
    summary: 'This API as OpenAPI 3.1',
    response: z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.record(z.string(), z.unknown()) }).describe('an OpenAPI 3.1 document'),
    handler: async () => (openapi ??= buildOpenApi(book.docs, version)),
  });

  book.add({
    method: 'GET',
    url: '/v1/events',
    tag: 'events',
    summary: 'Server-sent events: each PoolEvent as `id: seq`, `event: type`, `data: json`; resume with ?after or Last-Event-ID',
    query: EventsQuerySchema,
    response: PoolEventSchema,
    produces: 'sse',
    handler: async ({ query, req, reply, principal }) => {
      authorize(principal, 'events.read', principal.role === 'admin' ? null : principal.tenant);
      let after: number | undefined = query.after;
      const lastId = req.headers['last-event-id'];
      if (after === undefined && typeof lastId === 'string' && lastId !== '') {
        if (!/^\d{1,16}$/.test(lastId)) throw invalid('last-event-id', 'must be an event seq (a non-negative integer)');
        after = Number(lastId);
      }
      const s = ctx.sse.open(req, reply, principal.tokenId);
      // Subscribe first and buffer, so nothing falls between the history and the live feed.
      let live = false;
      let last = after ?? -1;
      const buffer: PoolEvent[] = [];
      // Members and viewers get their tenant's events and the pool's; a lookup may be async,
      // so filtered events go through one queue to keep their order.
      const visible = eventVisibility(principal, ctx);
      const settled: Promise<void> = Promise.resolve();
      let queue = settled;
      const send = (e: PoolEvent): void => {
        if (e.seq <= last) return;
        last = e.seq;
        if (!visible) return void s.send(e.type, e, e.seq);
        const v = visible(e);
        if (v === true && queue === settled) return void s.send(e.type, e, e.seq);
        if (v === false && queue === settled) return;
        const mine = (queue = queue
          .then(async () => {
            if (await v) s.send(e.type, e, e.seq);
          })
          .catch((err: unknown) => ctx.log(`error: events filter: ${String(err)}`))
          .finally(() => {
            if (queue === mine) queue = settled;
          }));
      };
      const unsubscribe = control.subscribe((e) => (live ? send(e) : buffer.push(e)));
      s.signal.addEventListener('abort', unsubscribe, { once: true });
      try {
        if (after !== undefined) {
          for (;;) {
            if (s.ended) break;
            const page = await store.listEvents(last, 1000);
            for (const e of page) send(e);
            if (page.length < 1000) break;
          }
        }
      } catch (e) {
        ctx.log(`error: events history: ${String(e)}`);
      }
      for (const e of buffer) send(e);
      buffer.length = 0;
      live = true;
      return undefined;
    },
  });
}
