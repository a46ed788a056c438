// npm run bench:placement — every placement policy on the openb trace under the FGD paper's protocol
// (10 seeds, tune 1.3), next to the published means, with the bounds; plus a replay of the trace.
// Prints one table and writes docs/placement-allocation.svg.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PolicyName } from '../src/core/placement/index.js';
import { REPO_ROOT, requireOpenb } from '../src/sim/data.js';
import { lineChartSvg, type Series } from '../src/sim/plot.js';
import { loadPublished, publishedMeans } from '../src/sim/reference.js';
import { runReplay } from '../src/sim/replay.js';
import { bounds, parseSeeds, REPORT_LEVELS, runPublished, type PublishedSummary } from '../src/sim/run.js';
import { loadNodes, loadPods } from '../src/sim/trace.js';

const POLICIES: PolicyName[] = ['random', 'dotprod', 'gpu-clustering', 'gpu-packing', 'best-fit', 'fgd', 'first-fit', 'default'];
const WORKLOAD = 'openb_pod_list_default';

async function main(): Promise<void> {
  const files = requireOpenb();
  const seeds = parseSeeds(process.env['SEEDS'] ?? '42-51');
  const tune = 1.3;
  const nodes = loadNodes(files.nodes);
  const pods = loadPods(files.pods);
  const now = () => performance.now();
  const pubAlloc = publishedMeans(loadPublished(files.publishedAllocation), WORKLOAD, seeds);
  const pubFrag = publishedMeans(loadPublished(files.publishedFragRatio), WORKLOAD, seeds);

  const runs = new Map<PolicyName, PublishedSummary>();
  for (const p of POLICIES) {
    process.stderr.write(`running ${p} …\n`);
    runs.set(p, runPublished({ workload: WORKLOAD, nodes, pods, policy: p, seeds, tune, now }));
  }
  process.stderr.write('solving bounds (HiGHS) …\n');
  const b = await bounds(nodes, pods, seeds, tune);
  process.stderr.write('replaying the trace …\n');
  const replays = (['first-fit', 'default'] as const).map((p) => runReplay({ workload: WORKLOAD, nodes, pods, policy: p, now }));
  const loaded = (['first-fit', 'default'] as const).map((p) => runReplay({ workload: WORKLOAD, nodes, pods, policy: p, compress: 5000, now }));

  const f = (v: number | null | undefined) => (v === null || v === undefined ? '—' : v.toFixed(2));
  const header = ['policy', ...REPORT_LEVELS.map((l) => `${l} % ours (pub)`), 'frag % @130 ours (pub)', 'placements/s', 'wall s'];
  const rows: string[][] = [];
  for (const p of POLICIES) {
    const r = runs.get(p)!;
    const pa = pubAlloc.get(p);
    const pf = pubFrag.get(p);
    rows.push([
      p === 'default' ? 'default (FastGPU)' : p,
      ...REPORT_LEVELS.map((l) => `${f(r.allocation[String(l)])} (${pa ? f(pa[l]) : '—'})`),
      `${f(r.fragmentation['130'])} (${pf ? f(pf[130]) : '—'})`,
      String(r.placementsPerSecond),
      r.wallSeconds.toFixed(1),
    ]);
  }
  rows.push(['bound: capacity', ...REPORT_LEVELS.map((l) => f(b.capacity[String(l)])), '', '', '']);
  rows.push(['bound: HiGHS relaxation', ...REPORT_LEVELS.map((l) => f(b.relaxation[String(l)])), '', '', '']);
  for (const r of [...replays, ...loaded]) {
    rows.push([
      `replay ×${r.compress} ${r.policy}`,
      `delay mean ${r.queueDelaySeconds.mean} s`,
      `p95 ${r.queueDelaySeconds.p95} s`,
      `alloc mean ${r.allocation.mean} %`,
      `peak ${r.allocation.peak} %`,
      `never placed ${r.neverPlaced}`,
      '',
      String(r.placementsPerSecond),
      r.wallSeconds.toFixed(1),
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  console.log(`openb ${WORKLOAD}, ${nodes.length} nodes, published protocol, seeds ${seeds[0]}–${seeds.at(-1)}, tune ${tune}: allocated GPU % of capacity at arrived demand %`);
  console.log(line(header));
  console.log('| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |');
  for (const r of rows) console.log(line(r));

  const series: Series[] = POLICIES.map((p) => ({ name: p === 'default' ? 'default (FastGPU)' : p, values: runs.get(p)!.curve.allocation }));
  const fgdPub = pubAlloc.get('fgd');
  if (fgdPub) series.push({ name: 'fgd (published)', values: fgdPub, dashed: true });
  const svg = lineChartSvg({
    title: `Allocated GPU vs arrived demand — openb default, mean of ${seeds.length} seeds`,
    xLabel: 'arrived GPU demand (% of capacity)',
    yLabel: 'allocated GPU (% of capacity)',
    series,
    xMin: 80,
    xMax: 130,
    yMin: 80,
    yMax: 100,
  });
  const out = join(REPO_ROOT, 'docs', 'placement-allocation.svg');
  writeFileSync(out, svg);
  console.log(`plot: ${out}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
