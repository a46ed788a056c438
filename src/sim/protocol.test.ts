// The published protocol against the paper's own numbers, and the default policy against fgd.
// These read the openb trace shipped in data/openb and take several seconds each.
import { describe, expect, it } from 'vitest';
import { requireOpenb } from './data.js';
import { runPublishedSeed } from './published.js';
import { loadPublished, publishedMeans } from './reference.js';
import { meanCurves, REPORT_LEVELS, runPublished } from './run.js';
import { loadNodes, loadPods } from './trace.js';

const files = requireOpenb();
const nodes = loadNodes(files.nodes);
const pods = loadPods(files.pods);
const WORKLOAD = 'openb_pod_list_default';
const published = loadPublished(files.publishedAllocation);
const now = () => 0;

const SEEDS = [42, 43, 44, 45, 46, 47, 48, 49, 50, 51];

function checkAgainstPublished(policy: 'best-fit' | 'fgd' | 'gpu-clustering' | 'gpu-packing', seeds: number[], within: number): void {
  const ours = runPublished({ workload: WORKLOAD, nodes, pods, policy, seeds, tune: 1.3, now });
  const theirs = publishedMeans(published, WORKLOAD, seeds).get(policy)!;
  expect(Math.abs(ours.allocation['130']! - theirs[130]!), policy).toBeLessThanOrEqual(within);
}

describe('published protocol on openb (data/openb)', () => {
  it('best-fit, 10 seeds (42–51): within ±0.2 points of the published mean (the bound the README states) at 130 %', () => {
    checkAgainstPublished('best-fit', SEEDS, 0.2);
  }, 60_000);

  it('fgd, 10 seeds (42–51): within ±0.2 points of the published mean (the bound the README states) at 130 %', () => {
    checkAgainstPublished('fgd', SEEDS, 0.2);
  }, 60_000);

  it('gpu-clustering and gpu-packing, 10 seeds, with the published node names: within ±0.2 points at 130 % (as the README states)', () => {
    // Their coarse integer scores tie often, so the node order decides much: runPublishedSeed gives
    // the nodes the published simulator's seeded random name prefixes (publishedNodeNames); with
    // the trace's names (one order for every seed) both land ~0.5 below the published means.
    for (const policy of ['gpu-clustering', 'gpu-packing'] as const) checkAgainstPublished(policy, SEEDS, 0.2);
  }, 90_000);

  it('default ≥ fgd at every level 90–130 on a reduced run (half the nodes and pods, 3 seeds)', () => {
    const subNodes = nodes.filter((_, i) => i % 2 === 0);
    const subPods = pods.filter((_, i) => i % 2 === 0);
    const curve = (policy: 'default' | 'fgd') =>
      meanCurves([42, 43, 44].map((seed) => runPublishedSeed({ nodes: subNodes, pods: subPods, policy, seed }).allocation));
    const df = curve('default');
    const fg = curve('fgd');
    for (const l of REPORT_LEVELS) expect(df[l]!, `at ${l} %`).toBeGreaterThanOrEqual(fg[l]!);
  }, 60_000);
});
