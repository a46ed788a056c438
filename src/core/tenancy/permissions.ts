// Who may do what: one table over every action, read by `can`/`decide`. Members act within their
// tenant, viewers only read within it, admins do everything. Another tenant's task, vGPU or log
// is answered as if it did not exist (404), so names and ids of other tenants never leak.
import { FastGpuError } from '../errors.js';
import type { Principal, Role } from './types.js';

/**
 * `tenant`: acts on a tenant's resources (the caller passes that tenant);
 * `cluster`: reads about the shared pool (nodes, GPUs, prices) — any role;
 * `admin`: administration — admins only.
 * `item` actions address one existing resource (denied as NOT_FOUND across tenants);
 * `collection` actions list or create (denied as FORBIDDEN).
 */
interface Rule {
  scope: 'tenant' | 'cluster' | 'admin';
  write: boolean;
  target: 'item' | 'collection';
}

export const PERMISSIONS = {
  'task.submit': { scope: 'tenant', write: true, target: 'collection' },
  'task.list': { scope: 'tenant', write: false, target: 'collection' },
  'task.get': { scope: 'tenant', write: false, target: 'item' },
  'task.wait': { scope: 'tenant', write: false, target: 'item' },
  'task.logs': { scope: 'tenant', write: false, target: 'item' },
  'task.cancel': { scope: 'tenant', write: true, target: 'item' },
  'vgpu.create': { scope: 'tenant', write: true, target: 'collection' },
  'vgpu.list': { scope: 'tenant', write: false, target: 'collection' },
  'vgpu.get': { scope: 'tenant', write: false, target: 'item' },
  'vgpu.delete': { scope: 'tenant', write: true, target: 'item' },
  'usage.read': { scope: 'tenant', write: false, target: 'collection' },
  'events.read': { scope: 'tenant', write: false, target: 'collection' },
  'dataset.push': { scope: 'tenant', write: true, target: 'collection' },
  'dataset.list': { scope: 'tenant', write: false, target: 'collection' },
  'dataset.get': { scope: 'tenant', write: false, target: 'item' },
  'dataset.delete': { scope: 'tenant', write: true, target: 'item' },
  'node.list': { scope: 'cluster', write: false, target: 'collection' },
  'gpu.list': { scope: 'cluster', write: false, target: 'collection' },
  'price.read': { scope: 'cluster', write: false, target: 'collection' },
  'tenant.create': { scope: 'admin', write: true, target: 'collection' },
  'tenant.list': { scope: 'admin', write: false, target: 'collection' },
  'tenant.update': { scope: 'admin', write: true, target: 'item' },
  'tenant.delete': { scope: 'admin', write: true, target: 'item' },
  'token.create': { scope: 'admin', write: true, target: 'collection' },
  'token.list': { scope: 'admin', write: false, target: 'collection' },
  'token.revoke': { scope: 'admin', write: true, target: 'item' },
  'price.set': { scope: 'admin', write: true, target: 'item' },
  'promo.create': { scope: 'admin', write: true, target: 'collection' },
  'promo.list': { scope: 'admin', write: false, target: 'collection' },
  'promo.delete': { scope: 'admin', write: true, target: 'item' },
  'node.drain': { scope: 'admin', write: true, target: 'item' },
  'dataset.quota': { scope: 'admin', write: true, target: 'item' },
} as const satisfies Record<string, Rule>;

export type Action = keyof typeof PERMISSIONS;
export const ACTIONS = Object.keys(PERMISSIONS) as Action[];

export type AccessDecision = 'allow' | 'forbidden' | 'not-found';

/**
 * The decision for a principal doing `action` on a resource of `resourceTenant` (null: every
 * tenant's, or none in particular — e.g. a listing across tenants).
 * @example decide({role: 'member', tenant: 'a'}, 'task.get', 'b') // 'not-found'
 */
export function decide(principal: Principal, action: Action, resourceTenant: string | null): AccessDecision {
  const rule: Rule = PERMISSIONS[action];
  if (principal.role === 'admin') return 'allow';
  if (rule.scope === 'admin') return 'forbidden';
  if (rule.scope === 'cluster') return rule.write ? 'forbidden' : 'allow';
  if (resourceTenant !== principal.tenant) return rule.target === 'item' && resourceTenant !== null ? 'not-found' : 'forbidden';
  if (rule.write && !canWrite(principal.role)) return 'forbidden';
  return 'allow';
}

const canWrite = (role: Role): boolean => role !== 'viewer';

/** Whether the principal may do `action` on a resource of `resourceTenant`. */
export function can(principal: Principal, action: Action, resourceTenant: string | null): boolean {
  return decide(principal, action, resourceTenant) === 'allow';
}

/**
 * Throw the error the API answers with when access is denied: NOT_FOUND for another tenant's
 * item (`what` and `id` name it, as if it did not exist), FORBIDDEN otherwise.
 */
export function authorize(principal: Principal, action: Action, resourceTenant: string | null, item?: { what: string; id: string }): void {
  const d = decide(principal, action, resourceTenant);
  if (d === 'allow') return;
  if (d === 'not-found') throw new FastGpuError('NOT_FOUND', item ? `${item.what} ${item.id} not found` : 'not found');
  const why =
    PERMISSIONS[action].scope === 'admin'
      ? 'needs the admin role'
      : principal.role === 'viewer' && PERMISSIONS[action].write
        ? 'is read-only for viewers'
        : `is limited to tenant ${principal.tenant}`;
  throw new FastGpuError('FORBIDDEN', `${action} ${why}`);
}

/** The tenants whose resources a principal may list: null for all (admins), else its own. */
export function visibleTenants(principal: Principal): readonly string[] | null {
  return principal.role === 'admin' ? null : [principal.tenant];
}
