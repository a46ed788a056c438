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
import { runReplay, type ReplaySummary } from '../src/sim/replay.js';
import { bounds, parseSeeds, REPORT_LEVELS, runPublishedParallel, type PublishedSummary } from '../src/sim/run.js';
import { loadNodes, loadPods } from '../src/sim/trace.js';
import { runAll } from './placement-all.js';
import { mainLive } from './placement-live.js';
import { mainLp } from './placement-lp.js';
import { mainReserve } from './placement-reserve.js';

const POLICIES: PolicyName[] = ['random', 'dotprod', 'gpu-clustering', 'gpu-packing', 'best-fit', 'fgd', 'first-fit', 'default'];
const WORKLOAD = 'openb_pod_list_default';
/** Replay compressions tried, in order, for the smallest at which queues form. */
const COMPRESSIONS = [10_000, 20_000, 50_000, 100_000, 200_000];

/** Allocation over the arrival window of the compressed replays. */
function replayAllocationSvg(rs: readonly ReplaySummary[]): string {
  // x: % of the arrival window (0..100), one point per sample.
  const series: Series[] = rs.map((r) => {
    const values: (number | null)[] = [];
    const span = r.allocationOverTime.at(-1)?.[0] ?? 1;
    for (const [t, v] of r.allocationOverTime) values[Math.round((100 * t) / (span || 1))] = v;
    return { name: `×${r.compress} ${r.backfill ? `${r.policy}+backfill` : `FIFO+${r.policy}`}`, values, dashed: !r.backfill };
  });
  return lineChartSvg({
    title: 'Replay through the scheduler: allocated GPU while pods arrive',
    xLabel: 'time (% of the arrival window)',
    yLabel: 'allocated GPU (% of capacity)',
    series,
    xMin: 0,
    xMax: 100,
    yMin: 0,
    yMax: 100,
  });
}

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
    runs.set(p, await runPublishedParallel({ workload: WORKLOAD, nodes, pods, policy: p, seeds, tune, now }));
  }
  process.stderr.write('running default (oracle) …\n');
  const oracle = await runPublishedParallel({ workload: WORKLOAD, nodes, pods, policy: 'default', seeds, tune, now, estimate: 'oracle' });
  process.stderr.write('solving bounds (HiGHS) …\n');
  const b = await bounds(nodes, pods, seeds, tune);
  process.stderr.write('replaying the trace through the scheduler …\n');
  // FIFO + first-fit (strict order, no backfill) against the default policy (EASY backfill).
  const replay = (k: number) =>
    [
      runReplay({ workload: WORKLOAD, nodes, pods, policy: 'first-fit', backfill: false, compress: k, now }),
      runReplay({ workload: WORKLOAD, nodes, pods, policy: 'default', backfill: true, compress: k, now }),
    ] as const;
  const replays: ReplaySummary[] = [...replay(1)];
  // The real trace is light; find the smallest compression at which ≥ 1 % of the pods wait under FIFO.
  let kStar = 0;
  for (const k of COMPRESSIONS) {
    const ff = runReplay({ workload: WORKLOAD, nodes, pods, policy: 'first-fit', backfill: false, compress: k, now });
    if (ff.waited >= 0.01 * ff.pods) {
      kStar = k;
      break;
    }
  }
  if (kStar > 0) replays.push(...replay(kStar), ...replay(2 * kStar));

  const f = (v: number | null | undefined) => (v === null || v === undefined ? '—' : v.toFixed(2));
  const header = ['policy', ...REPORT_LEVELS.map((l) => `${l} % ours (pub)`), 'frag % @130 ours (pub)', 'placed/s (decisions/s)', 'wall s'];
  const rows: string[][] = [];
  for (const p of POLICIES) {
    const r = runs.get(p)!;
    const pa = pubAlloc.get(p);
    const pf = pubFrag.get(p);
    rows.push([
      p === 'default' ? 'default (causal: what the server does)' : p,
      ...REPORT_LEVELS.map((l) => `${f(r.allocation[String(l)])} (${pa ? f(pa[l]) : '—'})`),
      `${f(r.fragmentation['130'])} (${pf ? f(pf[130]) : '—'})`,
      `${r.placementsPerSecond} (${r.decisionsPerSecond})`,
      r.wallSeconds.toFixed(1),
    ]);
  }
  rows.push([
    'default (oracle: whole list known)',
    ...REPORT_LEVELS.map((l) => `${f(oracle.allocation[String(l)])} (—)`),
    `${f(oracle.fragmentation['130'])} (—)`,
    String(oracle.placementsPerSecond),
    oracle.wallSeconds.toFixed(1),
  ]);
  rows.push(['bound: capacity', ...REPORT_LEVELS.map((l) => f(b.capacity[String(l)])), '', '', '']);
  rows.push(['bound: HiGHS aggregate LP', ...REPORT_LEVELS.map((l) => f(b.relaxation[String(l)])), '', '', '']);
  rows.push(['bound: HiGHS per-GPU configs', ...REPORT_LEVELS.map((l) => f(b.configurations[String(l)])), '', '', '']);
  for (const r of replays) {
    rows.push([
      `replay ×${r.compress} ${r.backfill ? `${r.policy} + backfill` : `FIFO + ${r.policy}`}`,
      `delay mean ${r.queueDelaySeconds.mean} s`,
      `p95 ${r.queueDelaySeconds.p95} s`,
      `p99 ${r.queueDelaySeconds.p99} s`,
      `waited ${r.waited} (${((100 * r.waited) / r.pods).toFixed(1)} %)`,
      `alloc mean ${r.allocation.mean} %`,
      `peak ${r.allocation.peak} %`,
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
  const boundCurve: (number | null)[] = [];
  for (const l of REPORT_LEVELS) boundCurve[l] = b.configurations[String(l)] ?? null;
  series.push({ name: 'bound (HiGHS configs)', values: boundCurve, dashed: true });
  const replayRows = replays.filter((r) => r.compress > 1);
  if (replayRows.length > 0) {
    const allocSvg = replayAllocationSvg(replayRows);
    writeFileSync(join(REPO_ROOT, 'docs', 'placement-replay.svg'), allocSvg);
  }
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

const args = process.argv.slice(2);
const run = args.includes('--all') ? runAll(args) : args.includes('--live') ? mainLive(args) : args.includes('--lp') ? mainLp(args) : args.includes('--reserve') ? Promise.resolve(mainReserve(args)) : main();
run.catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
