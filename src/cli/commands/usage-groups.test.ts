import { describe, expect, it } from 'vitest';
import { formatCounts, usageGroupsTable } from './usage-groups.js';

const amounts = { listAmount: 1.5, discountAmount: 0.5, chargedAmount: 1, listMicros: '1500000', discountMicros: '500000', chargedMicros: '1000000' };

describe('usage per array, map and sweep', () => {
  it('counts states most first, and prints one row per group', () => {
    expect(formatCounts({ PRUNED: 2, SUCCEEDED: 6, FAILED: 2, RUNNING: 0 })).toBe('6 SUCCEEDED, 2 FAILED, 2 PRUNED');
    expect(formatCounts({})).toBe('-');
    const out = usageGroupsTable({
      groups: [
        { kind: 'sweep', id: 'sw_abc', name: 'lr', tenant: 'ml', createdAt: '2026-01-01T00:00:00.000Z', size: 8, counts: { SUCCEEDED: 6, PRUNED: 2 }, tasks: 8, gpuSeconds: 120.04, promotions: ['spring'], ...amounts },
        { kind: 'map', id: 'a_def', name: 'map', tenant: 'ml', createdAt: '2026-01-01T00:00:00.000Z', size: 3, counts: { SUCCEEDED: 3 }, tasks: 3, gpuSeconds: 3, promotions: [], ...amounts },
      ],
    });
    expect(out.split('\n')).toEqual([
      '',
      'per array, map and sweep',
      'KIND   ID      NAME  TENANT  SIZE  STATES                 GPU-SECONDS  CHARGED  PROMOTIONS',
      'SWEEP  sw_abc  lr    ml      8     6 SUCCEEDED, 2 PRUNED  120.0        1.00     spring',
      'MAP    a_def   map   ml      3     3 SUCCEEDED            3.0          1.00     -',
      '',
    ]);
    expect(usageGroupsTable({ groups: [] })).toBe('');
  });
});
