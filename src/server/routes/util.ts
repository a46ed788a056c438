import type { FastifyReply } from 'fastify';
import type { PoolEvent } from '../../core/types.js';
import { sees, type Principal } from '../auth.js';
import type { RouteContext } from './context.js';

/** An AbortSignal that fires when the client goes away (or the response ends). */
export function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  const res = reply.raw;
  if (res.destroyed) ac.abort();
  else res.once('close', () => ac.abort());
  return ac.signal;
}

export function wantsSse(accept: string | undefined, follow: boolean | undefined): boolean {
  return follow === true || (accept ?? '').includes('text/event-stream');
}

/**
 * Which pool events `principal` may see: its tenant's task and vGPU events (and any event whose
 * data names its tenant), and pool-level ones (nodes). Admins see all. Answers synchronously
 * when it can, so the caller only queues when a lookup is needed.
 */
export function eventVisibility(
  principal: Principal,
  ctx: Pick<RouteContext, 'control' | 'store'>,
): ((e: PoolEvent) => boolean | Promise<boolean>) | null {
  if (principal.role === 'admin') return null;
  const own = (tenant: string | undefined): boolean => tenant !== undefined && sees(principal, tenant);
  // Tenants of tasks and vGPUs already looked up (ids never change tenant).
  const known = new Map<string, string>();
  const remember = (id: string, tenant: string | undefined): boolean => {
    if (tenant === undefined) return false;
    if (known.size >= 10_000) known.clear();
    known.set(id, tenant);
    return own(tenant);
  };
  return (e) => {
    const named = e.data.tenant;
    if (typeof named === 'string') return own(named);
    const id = e.taskId ?? e.vgpuId;
    if (id === undefined) return true;
    const hit = known.get(id) ?? (e.taskId !== undefined ? ctx.control.tasks.get(e.taskId)?.spec.tenant : ctx.control.reservations.get(id)?.tenant);
    if (hit !== undefined) return remember(id, hit);
    return (async () => {
      const tenant = e.taskId !== undefined ? (await ctx.control.getTask(e.taskId))?.spec.tenant : (await ctx.store.getReservation(id))?.tenant;
      return remember(id, tenant);
    })();
  };
}
