// Node-hours by provider in GET /v1/usage and `fastgpu usage` (issue 12), from lent nodes in a
// real SQLite store: each node counts from its join to its release, clipped to the period.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeHoursTable } from '../cli/commands/usage-nodes.js';
import type { UsageReport } from '../sdk/billing.js';
import type { LentNodeRecord } from '../store/lent-port.js';
import { makeHarness, type Harness } from './testing.js';

const H = 3_600_000;
let h: Harness;
let T0: number;
beforeEach(async () => {
  h = await makeHarness();
  T0 = h.clock.now();
});
afterEach(() => h.close());

const lent = (provider: string, providerId: string, o: Partial<LentNodeRecord>): LentNodeRecord => ({
  provider,
  providerId,
  nodeName: `${provider}-${providerId}`,
  shape: 's',
  hourlyMicros: null,
  requestedAt: T0,
  joinedAt: null,
  drainingAt: null,
  releasedAt: null,
  releaseReason: null,
  ...o,
});

describe('node-hours by provider', () => {
  beforeEach(async () => {
    await h.store.saveLentNode(lent('slurm', '101', { joinedAt: T0 + H / 2, releasedAt: T0 + 2 * H + H / 2, hourlyMicros: 3_500_000n }));
    await h.store.saveLentNode(lent('slurm', '102', { requestedAt: T0 + H, releasedAt: T0 + H + 600_000, releaseReason: 'did not join within 600 s' }));
    await h.store.saveLentNode(lent('local', '7', { joinedAt: T0 }));
    h.clock.set(T0 + 3 * H);
  });

  it('reaches admins in the usage report, each node from join to release (or now), at its own price', async () => {
    const r = await h.req('GET', '/v1/usage');
    expect(r.status, r.raw).toBe(200);
    expect(r.body.nodeHours).toEqual([
      { provider: 'local', requested: 1, joined: 1, nodeHours: 3, costAmount: null, costMicros: null, unpricedNodeHours: 3 },
      { provider: 'slurm', requested: 2, joined: 1, nodeHours: 2, costAmount: 7, costMicros: '7000000', unpricedNodeHours: 0 },
    ]);
    const period = await h.req('GET', `/v1/usage?from=${new Date(T0 + 2 * H).toISOString()}&to=${new Date(T0 + 3 * H).toISOString()}`);
    expect(period.body.nodeHours).toEqual([
      { provider: 'local', requested: 1, joined: 1, nodeHours: 1, costAmount: null, costMicros: null, unpricedNodeHours: 1 },
      { provider: 'slurm', requested: 1, joined: 1, nodeHours: 0.5, costAmount: 1.75, costMicros: '1750000', unpricedNodeHours: 0 },
    ]);
    expect(nodeHoursTable(r.body as UsageReport)).toBe(
      [
        '',
        `lent nodes by provider (from join to release), in ${r.body.currency}`,
        'PROVIDER  REQUESTED  JOINED  NODE-HOURS  COST  NOTE',
        'local     1          1       3.000       -     3.000 h unpriced',
        'slurm     2          1       2.000       7.00',
        '',
      ].join('\n'),
    );
  });

  it('is the pool’s, not a tenant’s: a member’s report has none', async () => {
    const made = await h.req('POST', '/v1/admin/tokens', { tenant: 'default', role: 'member', name: 'm' });
    expect(made.status, made.raw).toBe(201);
    const r = await h.req('GET', '/v1/usage', undefined, { authorization: `Bearer ${made.body.token}` });
    expect(r.status, r.raw).toBe(200);
    expect(r.body.nodeHours).toBeUndefined();
    expect(nodeHoursTable(r.body as UsageReport)).toBe('');
  });
});
