import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dominantShare, orderByFairShare, type FairShareTask } from './fairshare.js';
import type { ResourceVector, Tenant } from './types.js';

const cap: ResourceVector = { gpuMilli: 8000, gpuMemoryMiB: 8 * 81920 };
const tenant = (name: string, weight = 1): Tenant => ({ name, guaranteeMilli: 0, limitMilli: null, weight, budget: null });
let seq = 0;
const task = (tenantName: string, over: Partial<FairShareTask> = {}): FairShareTask => {
  seq += 1;
  return { id: `${tenantName}${seq}`, tenant: tenantName, priority: 50, submittedAt: seq, gpuMilli: 1000, gpuMemoryMiB: 10240, ...over };
};
const tenantsOf = (order: FairShareTask[]): string => order.map((t) => t.tenant).join('');

describe('dominantShare', () => {
  it('takes the larger of GPU and memory shares, divided by the weight', () => {
    expect(dominantShare({ gpuMilli: 2000, gpuMemoryMiB: 10240 }, cap, 1)).toBe(0.25);
    expect(dominantShare({ gpuMilli: 2000, gpuMemoryMiB: 10240 }, cap, 2)).toBe(0.125);
    expect(dominantShare({ gpuMilli: 500, gpuMemoryMiB: 4 * 81920 }, cap, 1)).toBe(0.5);
    expect(dominantShare({ gpuMilli: 500, gpuMemoryMiB: 100 }, { gpuMilli: 1000, gpuMemoryMiB: 0 }, 1)).toBe(0.5);
    expect(dominantShare({ gpuMilli: 1, gpuMemoryMiB: 0 }, cap, 0)).toBe(Infinity);
  });
});

describe('orderByFairShare', () => {
  it('alternates between two equal tenants so one does not take everything', () => {
    const pending = [task('a'), task('a'), task('a'), task('a'), task('b'), task('b')];
    expect(tenantsOf(orderByFairShare(pending, new Map(), cap, [tenant('a'), tenant('b')]))).toBe('ababaa');
  });

  it('weights: a tenant of weight 2 gets two turns for each of weight 1', () => {
    const pending = [...Array.from({ length: 6 }, () => task('a')), ...Array.from({ length: 6 }, () => task('b'))];
    const order = orderByFairShare(pending, new Map(), cap, [tenant('a', 2), tenant('b', 1)]);
    // shares after each admission: a 0/2 → 1/16…; the first 9 admit a:b as 2:1
    expect(tenantsOf(order.slice(0, 9))).toBe('abaabaaba');
  });

  it('current usage counts: a tenant already holding half the pool waits for the others', () => {
    const pending = [task('a'), task('b'), task('c'), task('b'), task('c')];
    const usage = new Map([['a', { gpuMilli: 4000, gpuMemoryMiB: 0 }]]);
    expect(tenantsOf(orderByFairShare(pending, usage, cap, [tenant('a'), tenant('b'), tenant('c')]))).toBe('bcbca');
  });

  it('memory can be the dominant resource', () => {
    // c asks for little compute but much memory: after one task its share is 0.5.
    const pending = [task('c', { gpuMilli: 100, gpuMemoryMiB: 4 * 81920 }), task('c', { gpuMilli: 100, gpuMemoryMiB: 1 }), task('d'), task('d'), task('d')];
    expect(tenantsOf(orderByFairShare(pending, new Map(), cap, [tenant('c'), tenant('d')]))).toBe('cdddc');
  });

  it('priority orders within a tenant, then submit time', () => {
    const low = task('a', { priority: 10 });
    const high = task('a', { priority: 90 });
    const mid1 = task('a');
    const mid2 = task('a');
    expect(orderByFairShare([low, mid2, high, mid1], new Map(), cap, []).map((t) => t.id)).toEqual([high.id, mid1.id, mid2.id, low.id]);
  });

  it('across tenants, share beats priority unless priorityFirst is set', () => {
    const aHigh = task('a', { priority: 90 });
    const bLow = task('b', { priority: 10 });
    const usage = new Map([['a', { gpuMilli: 2000, gpuMemoryMiB: 0 }]]);
    expect(orderByFairShare([aHigh, bLow], usage, cap, []).map((t) => t.id)).toEqual([bLow.id, aHigh.id]);
    expect(orderByFairShare([aHigh, bLow], usage, cap, [], { priorityFirst: true }).map((t) => t.id)).toEqual([aHigh.id, bLow.id]);
  });

  it('ties in share go to the earlier submitted head, then the tenant name', () => {
    const b = task('b', { submittedAt: 1 });
    const a = task('a', { submittedAt: 2 });
    expect(orderByFairShare([a, b], new Map(), cap, []).map((t) => t.id)).toEqual([b.id, a.id]);
    const a2 = task('a', { submittedAt: 5 });
    const b2 = task('b', { submittedAt: 5 });
    expect(orderByFairShare([b2, a2], new Map(), cap, []).map((t) => t.id)).toEqual([a2.id, b2.id]);
  });

  it('property: a permutation of the input, each tenant’s tasks in their own order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ tenant: fc.constantFrom('a', 'b', 'c'), priority: fc.integer({ min: 0, max: 3 }), submittedAt: fc.integer({ min: 0, max: 20 }), gpuMilli: fc.integer({ min: 1, max: 8000 }) }), { maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 3, maxLength: 3 }),
        (raw, weights) => {
          const pending = raw.map((r, i) => ({ ...r, id: `t${String(i).padStart(2, '0')}`, gpuMemoryMiB: 0 }));
          const order = orderByFairShare(pending, new Map(), cap, ['a', 'b', 'c'].map((n, i) => tenant(n, weights[i])));
          expect([...order].sort((x, y) => (x.id < y.id ? -1 : 1))).toEqual(pending);
          for (const name of ['a', 'b', 'c']) {
            const mine = order.filter((t) => t.tenant === name);
            for (let i = 1; i < mine.length; i++) {
              const [p, q] = [mine[i - 1]!, mine[i]!];
              expect(p.priority > q.priority || (p.priority === q.priority && p.submittedAt <= q.submittedAt)).toBe(true);
            }
          }
        },
      ),
    );
  });

  it('orders 10,000 tasks of 50 tenants quickly', () => {
    const tenants = Array.from({ length: 50 }, (_, i) => tenant(`t${i}`, 1 + (i % 3)));
    const pending = Array.from({ length: 10_000 }, (_, i) => task(`t${i % 50}`, { priority: i % 7, submittedAt: i }));
    const order = orderByFairShare(pending, new Map(), { gpuMilli: 1_000_000, gpuMemoryMiB: 1000 * 81920 }, tenants);
    expect(order).toHaveLength(10_000);
  });
});
