// /v1/nodes, /v1/gpus, /v1/vgpus: the pool as people see it.
import { FastGpuError, invalid, notFound } from '../../core/errors.js';
import { whyReservationNeverFits } from '../../core/scheduler/index.js';
import { parseVgpuRequest } from '../../core/spec.js';
import type { VgpuReservation } from '../../core/types.js';
import { authorize, listScope, sees } from '../auth.js';
import { newId } from '../ids.js';
import { GpuListSchema, IdParamsSchema, NodeListSchema, NodeViewSchema, VgpuCreateSchema, VgpuListSchema, VgpuViewSchema } from '../schemas.js';
import { z } from 'zod';
import { gpuViews, nodeView, vgpuView } from '../views.js';
import type { RouteContext } from './context.js';

const tenantQuery = z.string().min(1).max(64).optional().describe('admins: act for this tenant (default: the token’s)');
const VgpuCreateQuerySchema = z.strictObject({ tenant: tenantQuery });
const VgpuListQuerySchema = z.strictObject({
  tenant: tenantQuery,
  all: z
    .enum(['true', 'false', '1', '0', ''])
    .transform((s) => s === 'true' || s === '1' || s === '')
    .optional()
    .describe('include released vGPUs'),
});

export function poolRoutes(ctx: RouteContext): void {
  const { book, control, store, clock } = ctx;
  const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

  book.add({
    method: 'GET',
    url: '/v1/nodes',
    tag: 'pool',
    summary: 'Nodes with their GPUs and what is allocated on them',
    response: NodeListSchema,
    handler: async ({ principal }) => {
      authorize(principal, 'node.list', null);
      const reservations = [...control.reservations.values()];
      return { nodes: [...control.nodes.values()].sort(byName).map((n) => nodeView(n, control.activeOn(n.id), reservations)) };
    },
  });

  const NodeParamsSchema = z.strictObject({ node: z.string().min(1).max(128).describe('node id or name') });
  const DrainBodySchema = z
    .strictObject({ evict: z.boolean().optional().describe('also stop its tasks (requeued as preempted, no retry used) and move its vGPUs') })
    .optional();
  const DrainViewSchema = z.object({ node: NodeViewSchema, evicted: z.number().int() });

  book.add({
    method: 'POST',
    url: '/v1/nodes/:node/drain',
    tag: 'pool',
    summary: 'Drain a node (admins): no new tasks or vGPUs go there until it is resumed; with {evict: true} its tasks are stopped and requeued',
    params: NodeParamsSchema,
    body: DrainBodySchema,
    response: DrainViewSchema,
    handler: async ({ params, body, principal }) => {
      authorize(principal, 'node.drain', null);
      const { node, evicted } = await control.drainNode(params.node, { evict: body?.evict === true });
      return { node: nodeView(node, control.activeOn(node.id), [...control.reservations.values()]), evicted };
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/nodes/:node/resume',
    tag: 'pool',
    summary: 'Undo a drain (admins): the node takes new work again',
    params: NodeParamsSchema,
    response: NodeViewSchema,
    handler: async ({ params, principal }) => {
      authorize(principal, 'node.drain', null);
      const node = await control.resumeNode(params.node);
      return nodeView(node, control.activeOn(node.id), [...control.reservations.values()]);
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/gpus',
    tag: 'pool',
    summary: 'Every GPU with its allocated compute and memory and its slices (tasks and vGPUs)',
    response: GpuListSchema,
    handler: async ({ principal }) => {
      authorize(principal, 'gpu.list', null);
      const reservations = [...control.reservations.values()];
      // Other tenants' slices show only their amounts.
      const shown = (tenant: string): boolean => sees(principal, tenant);
      const gpus = [...control.nodes.values()]
        .sort(byName)
        .flatMap((n) => gpuViews(n, control.activeOn(n.id), reservations, (i) => control.utilOf(n.id, i), shown));
      return { gpus };
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/vgpus',
    tag: 'vgpus',
    summary: 'Reserve a vGPU (a slice of one GPU); it waits PENDING until the scheduler places it',
    query: VgpuCreateQuerySchema,
    bodyDoc: VgpuCreateSchema,
    response: VgpuViewSchema,
    status: 201,
    handler: async ({ req, query, principal }) => {
      const tenant = query.tenant ?? principal.tenant;
      authorize(principal, 'vgpu.create', tenant);
      if (tenant !== principal.tenant && !(await store.getTenant(tenant))) throw new FastGpuError('NOT_FOUND', `query.tenant: tenant ${JSON.stringify(tenant)} does not exist`, 'query.tenant');
      const { name, request } = parseVgpuRequest(req.body ?? {});
      const nodes = [...control.nodes.values()];
      if (nodes.length > 0) {
        const why = whyReservationNeverFits(request, nodes);
        if (why) throw new FastGpuError('UNSCHEDULABLE', why, 'gpu');
      }
      const id = newId('vg');
      const r: VgpuReservation = {
        id,
        name: name ?? id,
        tenant,
        request,
        state: 'PENDING',
        reason: null,
        placement: null,
        createdAt: clock.now(),
        releasedAt: null,
        version: 1,
      };
      await control.createReservation(r);
      return vgpuView(control.reservations.get(id) ?? r, control.tasks.values());
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/vgpus',
    tag: 'vgpus',
    summary: 'vGPU reservations (released ones with ?all=true)',
    query: VgpuListQuerySchema,
    response: VgpuListSchema,
    handler: async ({ query, principal }) => {
      const tenant = listScope(principal, 'vgpu.list', query.tenant);
      const list = query.all
        ? await store.listReservations({ includeReleased: true, ...(tenant !== null ? { tenant } : {}) })
        : [...control.reservations.values()].filter((r) => tenant === null || r.tenant === tenant);
      const live = list.map((r) => control.reservations.get(r.id) ?? r);
      live.sort((a, b) => b.createdAt - a.createdAt);
      return { vgpus: live.map((r) => vgpuView(r, control.tasks.values())) };
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/vgpus/:id',
    tag: 'vgpus',
    summary: 'One vGPU reservation',
    params: IdParamsSchema,
    response: VgpuViewSchema,
    handler: async ({ params, principal }) => {
      const r = control.reservations.get(params.id) ?? (await store.getReservation(params.id));
      if (!r) throw notFound('vGPU', params.id);
      authorize(principal, 'vgpu.get', r.tenant, { what: 'vGPU', id: params.id });
      return vgpuView(r, control.tasks.values());
    },
  });

  book.add({
    method: 'DELETE',
    url: '/v1/vgpus/:id',
    tag: 'vgpus',
    summary: 'Cancel the vGPU’s unfinished tasks and release its slice',
    params: IdParamsSchema,
    response: VgpuViewSchema,
    handler: async ({ params, principal }) => {
      const r = control.reservations.get(params.id) ?? (await store.getReservation(params.id));
      if (!r) throw notFound('vGPU', params.id);
      authorize(principal, 'vgpu.delete', r.tenant, { what: 'vGPU', id: params.id });
      return vgpuView(await control.releaseReservation(params.id), control.tasks.values());
    },
  });
}
