// /v1/admin/*: tenants (quota, weight, budget) and tokens. Admin tokens only; the tenancy table
// in core says so (`tenant.*`, `token.*` are admin-scope actions).
import { z } from 'zod';
import { conflict, FastGpuError, invalid, notFound } from '../../core/errors.js';
import { formatMoney } from '../../core/pricing/money.js';
import { formatDuration } from '../../core/quantity.js';
import { compileTenant, DEFAULT_TENANT, patchTenant, tenantInputSchema, tenantPatchSchema } from '../../core/tenancy/index.js';
import type { Clock } from '../../core/types.js';
import type { Store, TenantRecord, TokenRecord } from '../../store/port.js';
import { authorize, hashToken } from '../auth.js';
import { newId, newSecret } from '../ids.js';
import { queryBool } from '../schemas.js';
import { wireAs } from '../wire.js';
import type { RouteContext } from './context.js';

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

export const TenantViewSchema = z.object({
  name: z.string(),
  guarantee: z.number().describe('GPUs guaranteed'),
  guaranteeMilli: z.number(),
  limit: z.number().nullable().describe('GPUs it may never exceed; null: no limit'),
  limitMilli: z.number().nullable(),
  weight: z.number(),
  budget: z.string().nullable().describe('spend allowed, e.g. "500.00"; null: unlimited'),
  defaultTimeLimit: z.string().nullable().describe('time limit of its tasks that set none, e.g. "2h"; null: the pool\'s --default-time-limit'),
  defaultTimeLimitMs: z.number().nullable(),
  createdAt: z.string(),
});
export type TenantView = z.output<typeof TenantViewSchema>;

export const TokenViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  tenant: z.string(),
  role: z.enum(['admin', 'member', 'viewer', 'agent', 'metrics']),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});
export type TokenView = z.output<typeof TokenViewSchema>;

const TokenCreateSchema = z.strictObject({
  tenant: z.string({ error: 'is required: the tenant the token acts for' }).min(1).max(64),
  role: z.enum(['admin', 'member', 'viewer', 'agent', 'metrics'], { error: 'must be one of admin, member, viewer, agent, metrics' }).default('member'),
  name: z.string().max(128).optional(),
});

// The tenant name's rule (core's parseName) as the spec states it.
wireAs(tenantInputSchema.shape.name, { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' });

const NameParamsSchema = z.strictObject({ name: z.string().min(1).max(64) });
const TokenIdParamsSchema = z.strictObject({ id: z.string().min(1).max(128) });
const RevokeQuerySchema = z.strictObject({ force: queryBool.optional().describe('revoke the token this request is made with (refused without it)') });
const TokenListQuerySchema = z.strictObject({ tenant: z.string().min(1).max(64).optional() });

export function tenantView(t: TenantRecord): TenantView {
  return {
    name: t.name,
    guarantee: t.guaranteeMilli / 1000,
    guaranteeMilli: t.guaranteeMilli,
    limit: t.limitMilli === null ? null : t.limitMilli / 1000,
    limitMilli: t.limitMilli,
    weight: t.weight,
    budget: t.budget === null ? null : formatMoney(t.budget),
    defaultTimeLimit: t.defaultTimeLimitMs == null ? null : formatDuration(t.defaultTimeLimitMs),
    defaultTimeLimitMs: t.defaultTimeLimitMs ?? null,
    createdAt: iso(t.createdAt)!,
  };
}

export function tokenView(t: TokenRecord): TokenView {
  return { id: t.id, name: t.name, tenant: t.tenant, role: t.role, createdAt: iso(t.createdAt)!, revokedAt: iso(t.revokedAt) };
}

/** The tenant "default" (no guarantee, no limit) exists from the first start: tokens made before any tenant belong to it. */
export async function ensureDefaultTenant(store: Store, clock: Clock): Promise<void> {
  if (await store.getTenant(DEFAULT_TENANT.name)) return;
  await store.upsertTenant({ ...DEFAULT_TENANT, createdAt: clock.now() });
}

export function adminRoutes(ctx: RouteContext): void {
  const { book, store, clock, auth } = ctx;

  book.add({
    method: 'POST',
    url: '/v1/admin/tenants',
    tag: 'admin',
    summary: 'Create a tenant (201) or replace the guarantee, limit, weight, budget and default time limit of an existing one (200); GPUs as 2, 0.5 or "500m"',
    bodyDoc: tenantInputSchema,
    response: TenantViewSchema,
    status: 201,
    also: [{ status: 200, description: 'an existing tenant, updated', response: TenantViewSchema }],
    handler: async ({ req, reply, principal }) => {
      authorize(principal, 'tenant.create', null);
      const t = compileTenant(req.body ?? {}, 'body');
      const existed = await store.getTenant(t.name);
      await store.upsertTenant({ ...t, createdAt: existed?.createdAt ?? clock.now() });
      // The scheduler applies the new guarantee, limit, weight and budget from its next cycle.
      await ctx.control.tenantsChanged();
      const saved = await store.getTenant(t.name);
      return reply.code(existed ? 200 : 201).send(tenantView(saved!));
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/admin/tenants',
    tag: 'admin',
    summary: 'Every tenant with its guarantee, limit, weight and budget',
    response: z.object({ tenants: z.array(TenantViewSchema) }),
    handler: async ({ principal }) => {
      authorize(principal, 'tenant.list', null);
      return { tenants: (await store.listTenants()).map(tenantView) };
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/admin/tenants/:name',
    tag: 'admin',
    summary: 'One tenant',
    params: NameParamsSchema,
    response: TenantViewSchema,
    handler: async ({ params, principal }) => {
      authorize(principal, 'tenant.list', null);
      const t = await store.getTenant(params.name);
      if (!t) throw notFound('tenant', params.name);
      return tenantView(t);
    },
  });

  book.add({
    method: 'PATCH',
    url: '/v1/admin/tenants/:name',
    tag: 'admin',
    summary: 'Change some of a tenant\'s guarantee, limit, weight, budget and default time limit, keeping the rest; null resets a field to its default',
    params: NameParamsSchema,
    bodyDoc: tenantPatchSchema,
    response: TenantViewSchema,
    handler: async ({ params, req, principal }) => {
      authorize(principal, 'tenant.create', null);
      // The spec requires a body (`{}` changes nothing); a PATCH without one is a client mistake.
      if (req.body === undefined || req.body === null) throw invalid('body', 'a JSON object of the fields to change is required (e.g. {"weight": 2})');
      const existing = await store.getTenant(params.name);
      if (!existing) throw notFound('tenant', params.name);
      await store.upsertTenant({ ...patchTenant(existing, req.body, 'body'), createdAt: existing.createdAt });
      await ctx.control.tenantsChanged();
      return tenantView((await store.getTenant(params.name)) ?? existing);
    },
  });

  book.add({
    method: 'DELETE',
    url: '/v1/admin/tenants/:name',
    tag: 'admin',
    summary: 'Delete a tenant with no unfinished tasks and no vGPUs; its tokens are revoked, its history (tasks, usage) kept',
    params: NameParamsSchema,
    response: z.object({ name: z.string(), revokedTokens: z.number().int() }),
    handler: async ({ params, principal }) => {
      authorize(principal, 'tenant.delete', null);
      const name = params.name;
      if (name === DEFAULT_TENANT.name) throw conflict(`tenant ${name} cannot be deleted: tokens and tasks without a tenant belong to it`);
      if (!(await store.getTenant(name))) throw notFound('tenant', name);
      const tasks = [...ctx.control.tasks.values()].filter((t) => t.spec.tenant === name).length;
      const vgpus = [...ctx.control.reservations.values()].filter((r) => r.tenant === name).length;
      if (tasks > 0 || vgpus > 0) {
        const what = [tasks > 0 ? `${tasks} unfinished task${tasks === 1 ? '' : 's'}` : '', vgpus > 0 ? `${vgpus} vGPU${vgpus === 1 ? '' : 's'}` : ''].filter(Boolean).join(' and ');
        throw conflict(`tenant ${name} still has ${what}: cancel them (fastgpu cancel …) and release them (fastgpu vgpu rm …) first`);
      }
      const liveAdmins = (await store.listTokens()).filter((t) => t.role === 'admin' && t.revokedAt === null);
      if (liveAdmins.length > 0 && liveAdmins.every((t) => t.tenant === name)) {
        throw conflict(`tenant ${name} holds every live admin token: deleting it would lock every administrator out; make an admin token for another tenant first`);
      }
      const revokedTokens = await store.deleteTenant(name, clock.now());
      if (revokedTokens === null) throw notFound('tenant', name); // deleted meanwhile
      // Its tokens fail from the very next request; the scheduler forgets its quota.
      auth.invalidate();
      await ctx.control.tenantsChanged();
      return { name, revokedTokens };
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/admin/tokens',
    tag: 'admin',
    summary: 'Make a token for a tenant with a role (default member); the answer holds its secret, shown this once',
    body: TokenCreateSchema,
    response: TokenViewSchema.extend({ token: z.string() }),
    status: 201,
    handler: async ({ body, principal }) => {
      authorize(principal, 'token.create', null);
      const tenant = body.tenant.trim();
      if (!(await store.getTenant(tenant))) throw new FastGpuError('NOT_FOUND', `tenant ${JSON.stringify(tenant)} does not exist; create it first (fastgpu admin tenant create ${tenant})`, 'tenant');
      const secret = newSecret();
      const rec: TokenRecord = {
        id: newId('tok'),
        hash: hashToken(secret),
        tenant,
        role: body.role,
        name: body.name?.trim() || `${tenant}-${body.role}`,
        createdAt: clock.now(),
        revokedAt: null,
      };
      await store.insertToken(rec);
      return { ...tokenView(rec), token: secret };
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/admin/tokens',
    tag: 'admin',
    summary: 'Every token, never its secret; ?tenant= filters',
    query: TokenListQuerySchema,
    response: z.object({ tokens: z.array(TokenViewSchema) }),
    handler: async ({ query, principal }) => {
      authorize(principal, 'token.list', null);
      const all = await store.listTokens();
      return { tokens: all.filter((t) => query.tenant === undefined || t.tenant === query.tenant).map(tokenView) };
    },
  });

  // Revocations run one at a time: two concurrent revokes of the last two admin tokens must
  // not each see the other still live.
  let revoking: Promise<unknown> = Promise.resolve();
  book.add({
    method: 'POST',
    url: '/v1/admin/tokens/:id/revoke',
    tag: 'admin',
    summary:
      'Revoke a token: refused from the very next request (revoking twice answers the same). 409 for the last live admin token, and for the token of this request without ?force=1',
    params: TokenIdParamsSchema,
    query: RevokeQuerySchema,
    response: TokenViewSchema,
    handler: async ({ params, query, principal }) => {
      authorize(principal, 'token.revoke', null);
      const run = revoking.then(async () => {
        const t = await store.getToken(params.id);
        if (!t) throw notFound('token', params.id);
        if (t.revokedAt === null) {
          await refuseLockOut(store, t, principal.tokenId, query.force === true);
          await store.revokeToken(t.id, clock.now());
        }
        // Drop cached lookups now: the revoked token must fail on its very next request, and
        // its open streams (events, log follows) end now.
        auth.invalidate();
        ctx.sse.endToken(t.id);
        return tokenView((await store.getToken(t.id)) ?? t);
      });
      // The chain only orders revocations; this one's caller gets its error from `run`.
      revoking = run.catch(() => {});
      return run;
    },
  });
}

const RECOVER_HINT = 'fastgpu admin token recover --data-dir DIR, on the server host';

/** 409 when revoking `t` would leave no live admin token, or is the caller's own token without force. */
async function refuseLockOut(store: Store, t: TokenRecord, callerTokenId: string, force: boolean): Promise<void> {
  if (t.role === 'admin') {
    const others = (await store.listTokens()).filter((o) => o.role === 'admin' && o.revokedAt === null && o.id !== t.id);
    if (others.length === 0) {
      throw conflict(
        `token ${t.id} is the last live admin token: revoking it would lock every administrator out; make another first (fastgpu admin token create --tenant ${t.tenant} --role admin), then revoke this one (lost them all? ${RECOVER_HINT})`,
      );
    }
  }
  if (t.id === callerTokenId && !force) {
    throw conflict(`token ${t.id} is the token this request is made with: add ?force=1 (fastgpu admin token revoke --force) to revoke it anyway`);
  }
}
