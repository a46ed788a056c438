// `npm run bench:placement -- --all [--pods-dir DIR] [--workloads a,b] [--json FILE] [--no-oracle] [--runs causal,oracle,fgd,best-fit] [--no-bound | --bound-only] [--render FILE[,FILE]]`: the published protocol on
// every workload the FGD paper reports, one row per workload and policy, against the paper's
// per-workload means (data/openb/fgd_published_means.csv). The pod lists other than the default
// one are not in the repository: they come from alibaba/clusterdata (see `missingListsHelp`).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PolicyName } from '../src/core/placement/index.js';
import { OPENB, OPENB_DIR, REPO_ROOT } from '../src/sim/data.js';
import { lineChartSvg, type Series } from '../src/sim/plot.js';
import { PUBLISHED_POLICY } from '../src/sim/reference.js';
import { bounds, parseSeeds, REPORT_LEVELS, runPublishedParallel } from '../src/sim/run.js';
import { loadNodes, loadPodList } from '../src/sim/trace.js';

/** The workloads the FGD paper reports (17 of the 23 published lists). */
export const PAPER_WORKLOADS = [
  'default',
  'cpu050',
  'cpu100',
  'cpu200',
  'cpu250',
  'gpushare40',
  'gpushare60',
  'gpushare80',
  'gpushare100',
  'gpuspec10',
  'gpuspec20',
  'gpuspec25',
  'gpuspec33',
  'multigpu20',
  'multigpu30',
  'multigpu40',
  'multigpu50',
].map((w) => `openb_pod_list_${w}`);

export const PODS_DIR_ENV = 'OPENB_PODS_DIR';
const MEANS = join(OPENB_DIR, 'fgd_published_means.csv');

export function missingListsHelp(dir: string | undefined, missing: readonly string[]): string {
  return [
    `bench:placement --all: ${missing.length} pod list(s) not found${dir ? ` in ${dir}` : ''}: ${missing.map((m) => `${m}.csv`).join(', ')}`,
    'They are not shipped (only the default list is, in data/openb). Get all 23 from the trace (CC BY 4.0):',
    '  git clone --depth 1 --filter=blob:none --sparse https://github.com/alibaba/clusterdata',
    '  git -C clusterdata sparse-checkout set cluster-trace-gpu-v2023/csv',
    `then pass the folder: npm run bench:placement -- --all --pods-dir clusterdata/cluster-trace-gpu-v2023/csv (or set ${PODS_DIR_ENV}).`,
  ].join('\n');
}

/** Published mean per (workload, our policy name) at the report levels. */
function loadMeans(): Map<string, Record<number, number>> {
  const out = new Map<string, Record<number, number>>();
  const ours = new Map(Object.entries(PUBLISHED_POLICY));
  const lines = readFileSync(MEANS, 'utf8').split(/\r?\n/).filter((l) => l.length > 0);
  const header = lines[0]!.split(',');
  for (const l of lines.slice(1)) {
    const c = l.split(',');
    const policy = ours.get(c[1]!) ?? c[1]!;
    const rec: Record<number, number> = {};
    for (const lv of REPORT_LEVELS) rec[lv] = Number(c[header.indexOf(String(lv))]);
    out.set(`${c[0]}|${policy}`, rec);
  }
  return out;
}

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** One workload's results, as written to `--json FILE` after each workload (a long run keeps what it has). */
export interface WorkloadResult {
  workload: string;
  seeds: number[];
  runs: { label: string; allocation: Record<string, number | null>; published: Record<number, number> | null; wallSeconds: number }[];
  /** HiGHS per-GPU configuration bound at each level (mean over the seeds' arrival lists). */
  bound: Record<string, number> | null;
  /** The seeds of the bound, when they differ from `seeds` (a merged `--bound-only` run). */
  boundSeeds?: number[];
  fgdPublished: Record<number, number> | null;
}

/** Lets the event loop run between long synchronous pieces (a signal, a flush of stderr). */
const breathe = () => new Promise<void>((r) => setImmediate(r));

export async function runAll(args: readonly string[]): Promise<void> {
  const render = flag(args, '--render');
  if (render) {
    // Re-prints the table of earlier `--json FILE` runs (no simulation); FILE,FILE2 merges them by
    // workload (e.g. the policies' run and a `--bound-only` run).
    const merged = new Map<string, WorkloadResult>();
    for (const f of render.split(',')) {
      for (const r of JSON.parse(readFileSync(f, 'utf8')) as WorkloadResult[]) {
        const m = merged.get(r.workload);
        if (!m) merged.set(r.workload, r);
        else {
          const boundFrom = m.bound ? m : r;
          merged.set(r.workload, { ...m, seeds: m.runs.length > 0 ? m.seeds : r.seeds, runs: [...m.runs, ...r.runs], bound: boundFrom.bound, boundSeeds: boundFrom.seeds, fgdPublished: m.fgdPublished ?? r.fgdPublished });
        }
      }
    }
    // The paper's order, whatever order the files were written in.
    const rank = (w: string) => {
      const i = PAPER_WORKLOADS.indexOf(w);
      return i < 0 ? PAPER_WORKLOADS.length : i;
    };
    const rows = [...merged.values()].sort((a, b) => rank(a.workload) - rank(b.workload));
    console.log(renderAll(rows, loadNodes(OPENB.nodes).length, 1.3));
    return;
  }
  const dir = flag(args, '--pods-dir') ?? process.env[PODS_DIR_ENV];
  const only = flag(args, '--workloads')?.split(',').map((w) => (w.startsWith('openb_pod_list_') ? w : `openb_pod_list_${w}`));
  const jsonOut = flag(args, '--json');
  const withBound = !args.includes('--no-bound');
  const workloads = only ?? PAPER_WORKLOADS;
  const fileOf = (w: string) => (w === 'openb_pod_list_default' && !dir ? OPENB.pods : join(dir ?? '', `${w}.csv`));
  const missing = workloads.filter((w) => !existsSync(fileOf(w)));
  if (missing.length > 0) {
    console.error(missingListsHelp(dir, missing));
    process.exitCode = 2;
    return;
  }
  const seeds = parseSeeds(process.env['SEEDS'] ?? '42-51');
  const tune = 1.3;
  const nodes = loadNodes(OPENB.nodes);
  const means = loadMeans();
  const now = () => performance.now();
  const all: { label: string; policy: PolicyName; estimate?: 'causal' | 'oracle' }[] = [
    { label: 'default (causal)', policy: 'default', estimate: 'causal' },
    { label: 'default (oracle)', policy: 'default', estimate: 'oracle' },
    { label: 'fgd', policy: 'fgd' },
    { label: 'best-fit', policy: 'best-fit' },
  ];
  // `--runs causal,fgd`: a subset of the runs (by the first word of the label), for a loaded machine.
  const pick = flag(args, '--runs')?.split(',');
  const runs = args.includes('--bound-only') ? [] : all.filter((r) => !(args.includes('--no-oracle') && r.estimate === 'oracle') && (!pick || pick.includes(r.estimate ?? r.policy)));
  const results: WorkloadResult[] = [];
  for (const w of workloads) {
    const { pods, notes } = loadPodList(fileOf(w));
    for (const n of notes) process.stderr.write(`${w}: note: ${n}\n`);
    const fgdPub = means.get(`${w}|fgd`) ?? null;
    const res: WorkloadResult = { workload: w, seeds, runs: [], bound: null, fgdPublished: fgdPub };
    for (const r of runs) {
      process.stderr.write(`${w}: ${r.label} …\n`);
      await breathe();
      const s = await runPublishedParallel({ workload: w, nodes, pods, policy: r.policy, seeds, tune, now, ...(r.estimate ? { estimate: r.estimate } : {}) });
      const pub = r.policy === 'default' ? null : (means.get(`${w}|${r.policy}`) ?? null);
      res.runs.push({ label: r.label, allocation: s.allocation, published: pub, wallSeconds: s.wallSeconds });
      curvesOf(res)[r.label] = s.curve.allocation;
    }
    if (withBound) {
      process.stderr.write(`${w}: bound (HiGHS per-GPU configurations) …\n`);
      await breathe();
      res.bound = (await bounds(nodes, pods, seeds, tune)).configurations;
    }
    results.push(res);
    // A bound-only run has no curves: it keeps the plots of the runs that have them.
    if (res.runs.length > 0) writeSvg(res);
    if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results.map(({ workload, seeds: ss, runs: rr, bound, fgdPublished }) => ({ workload, seeds: ss, runs: rr, bound, fgdPublished })), null, 1));
  }
  console.log(renderAll(results, nodes.length, tune));
}

const curveStore = new WeakMap<WorkloadResult, Record<string, (number | null)[]>>();
function curvesOf(r: WorkloadResult): Record<string, (number | null)[]> {
  let c = curveStore.get(r);
  if (!c) curveStore.set(r, (c = {}));
  return c;
}

function writeSvg(res: WorkloadResult): void {
  const series: Series[] = Object.entries(curvesOf(res)).map(([name, values]) => ({ name, values }));
  if (res.fgdPublished) {
    const v: (number | null)[] = [];
    for (const l of REPORT_LEVELS) v[l] = res.fgdPublished[l]!;
    series.push({ name: 'fgd (published)', values: v, dashed: true });
  }
  if (res.bound) {
    const v: (number | null)[] = [];
    for (const l of REPORT_LEVELS) v[l] = res.bound[String(l)] ?? null;
    series.push({ name: 'bound (HiGHS configs)', values: v, dashed: true });
  }
  const name = res.workload.replace('openb_pod_list_', '');
  writeFileSync(
    join(REPO_ROOT, 'docs', `placement-${name}.svg`),
    lineChartSvg({ title: `Allocated GPU vs arrived demand — ${res.workload}, ${res.seeds.length} seeds`, xLabel: 'arrived GPU demand (% of capacity)', yLabel: 'allocated GPU (% of capacity)', series, xMin: 80, xMax: 130, yMin: 75, yMax: 100 }),
  );
}

const fmt = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(2));
const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;

/** The table (one row per workload and policy, plus the bound and `default`'s gap to it) and the summaries. */
export function renderAll(results: readonly WorkloadResult[], nodeCount: number, tune: number): string {
  const header = ['workload', 'seeds', 'policy', ...REPORT_LEVELS.map((l) => `${l} % ours (pub)`), 'vs FGD pub @130', 'wall s'];
  const rows: string[][] = [];
  const wins: string[] = [];
  const below: string[] = [];
  const baselineDev: string[] = [];
  for (const res of results) {
    const w = res.workload.replace('openb_pod_list_', '');
    const fgdPub = res.fgdPublished;
    for (const r of res.runs) {
      const at130 = r.allocation['130'] ?? null;
      const margin = fgdPub && at130 !== null ? at130 - fgdPub[130]! : null;
      // In parentheses: the policy's published mean; for `default` (not in the paper), FGD's.
      const pub = r.published ?? (r.label.startsWith('default') ? fgdPub : null);
      rows.push([w, String(res.seeds.length), r.label, ...REPORT_LEVELS.map((l) => `${fmt(r.allocation[String(l)])} (${pub ? fmt(pub[l]) : '—'})`), margin === null ? '—' : signed(margin), r.wallSeconds.toFixed(1)]);
      if (r.label === 'default (causal)' && margin !== null) {
        wins.push(`${w} ${margin >= 0 ? 'win' : 'LOSS'} ${signed(margin)}`);
        const lv = REPORT_LEVELS.filter((l) => fgdPub && (r.allocation[String(l)] ?? -1) < fgdPub[l]!);
        if (lv.length > 0) below.push(`${w} at ${lv.map((l) => `${l} % (${signed(r.allocation[String(l)]! - fgdPub![l]!)})`).join(', ')}`);
      }
      if (r.published) {
        const devs = REPORT_LEVELS.map((l) => Math.abs((r.allocation[String(l)] ?? NaN) - r.published![l]!));
        baselineDev.push(`${w} ${r.label} ${Math.max(...devs).toFixed(2)}`);
      }
    }
    if (res.bound) {
      rows.push([w, String(res.boundSeeds?.length ?? res.seeds.length), 'bound: HiGHS per-GPU configs', ...REPORT_LEVELS.map((l) => fmt(res.bound![String(l)])), '', '']);
      const causal = res.runs.find((r) => r.label === 'default (causal)');
      if (causal) rows.push([w, '', 'gap: bound − default (causal)', ...REPORT_LEVELS.map((l) => fmt((res.bound![String(l)] ?? NaN) - (causal.allocation[String(l)] ?? NaN))), '', '']);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  const seeds = results[0]?.seeds ?? [];
  return [
    `published protocol on ${results.length} workload(s), ${nodeCount} nodes, seeds from ${seeds[0]} (count in the seeds column), tune ${tune}: allocated GPU % of capacity (published 10-seed mean: the policy's, FGD's for default)`,
    line(header),
    '| ' + widths.map((wd) => '-'.repeat(wd)).join(' | ') + ' |',
    ...rows.map(line),
    `default (causal) vs FGD's published mean at 130 %: ${wins.join(' · ')}`,
    `default (causal) below FGD's published mean: ${below.length > 0 ? below.join('; ') : 'nowhere (90–130 %)'}`,
    `largest |ours − published| over 90–130 % for the baselines: ${baselineDev.join(' · ')}`,
  ].join('\n');
}
