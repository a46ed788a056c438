// The placement users get is the placement we measure: a slice of the openb trace driven through the
// real server (store, submit route, cycle, agent protocol) places every arrival exactly where the
// simulator's `default (causal)` does. The full cluster is `npm run bench:placement -- --live`.
import { describe, expect, it } from 'vitest';
import { requireOpenb } from './data.js';
import { runLive } from './live-testing.js';
import { loadNodes, loadPods } from './trace.js';

describe('live control plane against the simulator (a slice of openb)', () => {
  const files = requireOpenb();
  // Every 40th node: 31 nodes of every model and size the trace has, about 160 GPUs.
  const nodes = loadNodes(files.nodes).filter((_, i) => i % 40 === 0);
  const pods = loadPods(files.pods);

  it('places every arrival on the node and GPUs the simulator chose, up to 130 % of capacity', async () => {
    const r = await runLive({ nodes, pods, seed: 52 });
    expect(r.arrivals).toBeGreaterThan(150);
    expect(r.firstDivergence).toBeNull();
    expect(r.sameDecisions).toBe(r.arrivals);
    expect(r.placedLive).toBe(r.placedSim);
    // Some arrivals were skipped (the pool filled), so the comparison covers the full range.
    expect(r.placedLive).toBeLessThan(r.arrivals);
    for (const l of ['90', '100', '110', '120', '130']) expect(r.live[l], `${l} %`).toBe(r.sim[l]);
  }, 120_000);

  it('tells a different server policy apart (the comparison can fail)', async () => {
    const r = await runLive({ nodes, pods, seed: 52, serverPolicy: 'best-fit', limit: 120 });
    expect(r.firstDivergence).not.toBeNull();
    expect(r.sameDecisions).toBeLessThan(r.arrivals);
  }, 120_000);
});
