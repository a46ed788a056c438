import { describe, expect, it } from 'vitest';
import { FastGpuError } from '../errors.js';
import { ACTIONS, authorize, can, decide, visibleTenants, type Action } from './permissions.js';
import { ROLES, type Role } from './types.js';

// The expected table, written out independently of the implementation's.
const TENANT_READ: Action[] = ['task.list', 'task.get', 'task.wait', 'task.logs', 'vgpu.list', 'vgpu.get', 'usage.read', 'events.read', 'dataset.list', 'dataset.get'];
const TENANT_WRITE: Action[] = ['task.submit', 'task.cancel', 'vgpu.create', 'vgpu.delete', 'dataset.push', 'dataset.delete'];
const CLUSTER_READ: Action[] = ['node.list', 'gpu.list', 'price.read'];
const ADMIN: Action[] = ['tenant.create', 'tenant.list', 'tenant.update', 'tenant.delete', 'token.create', 'token.list', 'token.revoke', 'price.set', 'promo.create', 'promo.list', 'promo.delete', 'node.drain', 'dataset.quota'];
const ITEM: Action[] = ['task.get', 'task.wait', 'task.logs', 'task.cancel', 'vgpu.get', 'vgpu.delete', 'dataset.get', 'dataset.delete'];

type Where = 'same' | 'other' | 'all';
const tenantOf = (w: Where): string | null => (w === 'same' ? 'a' : w === 'other' ? 'b' : null);

function expected(role: Role, action: Action, where: Where): 'allow' | 'forbidden' | 'not-found' {
  if (role === 'admin') return 'allow';
  if (ADMIN.includes(action)) return 'forbidden';
  if (CLUSTER_READ.includes(action)) return 'allow';
  if (where === 'other') return ITEM.includes(action) ? 'not-found' : 'forbidden';
  if (where === 'all') return 'forbidden';
  if (TENANT_WRITE.includes(action)) return role === 'member' ? 'allow' : 'forbidden';
  return 'allow';
}

describe('permission table', () => {
  it('covers exactly the actions listed here', () => {
    expect([...ACTIONS].sort()).toEqual([...TENANT_READ, ...TENANT_WRITE, ...CLUSTER_READ, ...ADMIN].sort());
  });

  const cases = ACTIONS.flatMap((action) => ROLES.flatMap((role) => (['same', 'other', 'all'] as Where[]).map((where) => [action, role, where] as const)));
  it.each(cases)('%s by %s on %s tenant', (action, role, where) => {
    const p = { role, tenant: 'a' };
    const want = expected(role, action, where);
    expect(decide(p, action, tenantOf(where))).toBe(want);
    expect(can(p, action, tenantOf(where))).toBe(want === 'allow');
  });

  it('authorize answers NOT_FOUND for another tenant’s item, FORBIDDEN otherwise', () => {
    const member = { role: 'member' as const, tenant: 'a' };
    const viewer = { role: 'viewer' as const, tenant: 'a' };
    const err = (fn: () => void): FastGpuError => {
      try {
        fn();
      } catch (e) {
        return e as FastGpuError;
      }
      throw new Error('expected an error');
    };
    expect(() => authorize(member, 'task.cancel', 'a')).not.toThrow();
    const nf = err(() => authorize(member, 'task.get', 'b', { what: 'task', id: 't_1' }));
    expect([nf.code, nf.message]).toEqual(['NOT_FOUND', 'task t_1 not found']);
    expect(err(() => authorize(viewer, 'task.cancel', 'a')).message).toMatch(/read-only for viewers/);
    expect(err(() => authorize(member, 'price.set', null)).message).toMatch(/admin role/);
    expect(err(() => authorize(member, 'task.submit', 'b')).code).toBe('FORBIDDEN');
  });

  it('visibleTenants: all for admins, their own for others', () => {
    expect(visibleTenants({ role: 'admin', tenant: 'a' })).toBeNull();
    expect(visibleTenants({ role: 'viewer', tenant: 'a' })).toEqual(['a']);
  });
});
