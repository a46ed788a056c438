import { describe, expect, it } from 'vitest';
import { nodeHoursByProvider, type LentPeriod } from './usage.js';

const H = 3_600_000;
const node = (provider: string, o: Partial<LentPeriod> = {}): LentPeriod => ({ provider, hourlyMicros: null, requestedAt: 0, joinedAt: 0, releasedAt: null, ...o });

describe('node-hours by provider', () => {
  it('counts each node from join to release, at its own price, providers by name', () => {
    const rows = nodeHoursByProvider(
      [
        node('slurm', { requestedAt: 0, joinedAt: H / 2, releasedAt: 2 * H + H / 2, hourlyMicros: 3_500_000n }),
        node('slurm', { requestedAt: H, joinedAt: H, releasedAt: 2 * H, hourlyMicros: 3_500_000n }),
        node('local', { requestedAt: 0, joinedAt: 0, releasedAt: H }),
      ],
      { now: 10 * H },
    );
    expect(rows).toEqual([
      { provider: 'local', requested: 1, joined: 1, nodeMs: H, costMicros: null, unpricedMs: H },
      { provider: 'slurm', requested: 2, joined: 2, nodeMs: 3 * H, costMicros: 10_500_000n, unpricedMs: 0 },
    ]);
  });

  it('clips to the period, counts a node still lent up to now, and a node that never joined as asked for only', () => {
    const nodes = [
      node('slurm', { joinedAt: 0, releasedAt: 4 * H, hourlyMicros: 1_000_000n }),
      node('slurm', { requestedAt: 3 * H, joinedAt: null, releasedAt: 3 * H + 600_000 }),
      node('slurm', { requestedAt: 5 * H, joinedAt: 5 * H, releasedAt: null, hourlyMicros: 1_000_000n }),
    ];
    expect(nodeHoursByProvider(nodes, { from: H, to: 3 * H, now: 10 * H })).toEqual([
      { provider: 'slurm', requested: 1, joined: 1, nodeMs: 2 * H, costMicros: 2_000_000n, unpricedMs: 0 },
    ]);
    expect(nodeHoursByProvider(nodes, { from: 2 * H, now: 6 * H })).toEqual([
      { provider: 'slurm', requested: 3, joined: 2, nodeMs: 3 * H, costMicros: 3_000_000n, unpricedMs: 0 },
    ]);
    // A node given back exactly at `from` was not lent in the period.
    expect(nodeHoursByProvider(nodes, { from: 4 * H, to: 5 * H, now: 6 * H })).toEqual([]);
  });
});
