// The published protocol against the paper's own numbers, and the default policy against fgd.
// These read the openb trace shipped in data/openb and take several seconds each.
import { describe, expect, it } from 'vitest';
import { requireOpenb } from './data.js';
import { runPublishedSeed } from './published.js';
import { loadPublished, publishedMeans } from './reference.js';
import { atLevels, meanCurves, REPORT_LEVELS } from './run.js';
import { loadNodes, loadPods } from './trace.js';

const files = requireOpenb();
const nodes = loadNodes(files.nodes);
const pods = loadPods(files.pods);
const WORKLOAD = 'openb_pod_list_default';
const published = loadPublished(files.publishedAllocation);
const now = () => 0;

// A bound against hangs, not a speed check: ten seeds take ~30 s on an idle 2-core box and several
// minutes when it is shared.
const LONG = 600_000;
const SEEDS = [42, 43, 44, 45, 46, 47, 48, 49, 50, 51];

/**
 * A seed is seconds of synchronous work (a minute on a loaded 2-core box): the loop hands the
 * event loop back between seeds, or vitest's worker misses its own RPC deadline (60 s) and the
 * run ends red with every test passed ("Timeout calling onTaskUpdate").
 */
const breathe = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function meanCurve(seeds: readonly number[], run: (seed: number) => (number | null)[]): Promise<(number | null)[]> {
  const curves: (number | null)[][] = [];
  for (const seed of seeds) {
    curves.push(run(seed));
    await breathe();
  }
  return meanCurves(curves);
}

async function checkAgainstPublished(policy: 'best-fit' | 'fgd' | 'gpu-clustering' | 'gpu-packing', seeds: number[], within: number): Promise<void> {
  const ours = atLevels(await meanCurve(seeds, (seed) => runPublishedSeed({ nodes, pods, policy, seed, tune: 1.3, now }).allocation));
  const theirs = publishedMeans(published, WORKLOAD, seeds).get(policy)!;
  expect(Math.abs(ours['130']! - theirs[130]!), policy).toBeLessThanOrEqual(within);
}

describe('published protocol on openb (data/openb)', () => {
  it('best-fit, 10 seeds (42–51): within ±0.2 points of the published mean (the bound the README states) at 130 %', async () => {
    await checkAgainstPublished('best-fit', SEEDS, 0.2);
  }, LONG);

  it('fgd, 10 seeds (42–51): within ±0.2 points of the published mean (the bound the README states) at 130 %', async () => {
    await checkAgainstPublished('fgd', SEEDS, 0.2);
  }, LONG);

  it('gpu-clustering and gpu-packing, 10 seeds, with the published node names: within ±0.2 points at 130 % (as the README states)', async () => {
    // Their coarse integer scores tie often, so the node order decides much: runPublishedSeed gives
    // the nodes the published simulator's seeded random name prefixes (publishedNodeNames); with
    // the trace's names (one order for every seed) both land ~0.5 below the published means.
    for (const policy of ['gpu-clustering', 'gpu-packing'] as const) await checkAgainstPublished(policy, SEEDS, 0.2);
  }, LONG);

  it('default ≥ fgd at every level 90–130 on a reduced run (half the nodes and pods, 3 seeds)', async () => {
    const subNodes = nodes.filter((_, i) => i % 2 === 0);
    const subPods = pods.filter((_, i) => i % 2 === 0);
    const curve = (policy: 'default' | 'fgd') => meanCurve([42, 43, 44], (seed) => runPublishedSeed({ nodes: subNodes, pods: subPods, policy, seed }).allocation);
    const df = await curve('default');
    const fg = await curve('fgd');
    for (const l of REPORT_LEVELS) expect(df[l]!, `at ${l} %`).toBeGreaterThanOrEqual(fg[l]!);
  }, LONG);
});
