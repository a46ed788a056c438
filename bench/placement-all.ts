// `npm run bench:placement -- --all [--pods-dir DIR] [--workloads a,b]`: the published protocol on
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
import { parseSeeds, REPORT_LEVELS, runPublished } from '../src/sim/run.js';
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

export function runAll(args: readonly string[]): void {
  const dir = flag(args, '--pods-dir') ?? process.env[PODS_DIR_ENV];
  const only = flag(args, '--workloads')?.split(',').map((w) => (w.startsWith('openb_pod_list_') ? w : `openb_pod_list_${w}`));
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
  const runs: { label: string; policy: PolicyName; estimate?: 'causal' | 'oracle' }[] = [
    { label: 'default (causal)', policy: 'default', estimate: 'causal' },
    { label: 'default (oracle)', policy: 'default', estimate: 'oracle' },
    { label: 'fgd', policy: 'fgd' },
    { label: 'best-fit', policy: 'best-fit' },
  ];
  const f = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(2));
  const header = ['workload', 'policy', ...REPORT_LEVELS.map((l) => `${l} % ours (pub)`), 'vs FGD pub @130', 'wall s'];
  const rows: string[][] = [];
  const summary: string[] = [];
  for (const w of workloads) {
    const { pods, notes } = loadPodList(fileOf(w));
    for (const n of notes) process.stderr.write(`${w}: note: ${n}\n`);
    const fgdPub = means.get(`${w}|fgd`);
    const series: Series[] = [];
    for (const r of runs) {
      process.stderr.write(`${w}: ${r.label} …\n`);
      const s = runPublished({ workload: w, nodes, pods, policy: r.policy, seeds, tune, now, ...(r.estimate ? { estimate: r.estimate } : {}) });
      const pub = r.estimate === 'oracle' || r.policy === 'default' ? undefined : means.get(`${w}|${r.policy}`);
      const at130 = s.allocation['130'] ?? null;
      const margin = fgdPub && at130 !== null ? at130 - fgdPub[130]! : null;
      rows.push([
        w.replace('openb_pod_list_', ''),
        r.label,
        ...REPORT_LEVELS.map((l) => `${f(s.allocation[String(l)])} (${pub ? f(pub[l]) : '—'})`),
        margin === null ? '—' : `${margin >= 0 ? '+' : ''}${margin.toFixed(2)}`,
        s.wallSeconds.toFixed(1),
      ]);
      if (r.label === 'default (causal)' && margin !== null) summary.push(`${w.replace('openb_pod_list_', '')} ${margin >= 0 ? 'win' : 'LOSS'} ${margin >= 0 ? '+' : ''}${margin.toFixed(2)}`);
      series.push({ name: r.label, values: s.curve.allocation });
    }
    if (fgdPub) {
      const v: (number | null)[] = [];
      for (const l of REPORT_LEVELS) v[l] = fgdPub[l]!;
      series.push({ name: 'fgd (published)', values: v, dashed: true });
    }
    writeFileSync(
      join(REPO_ROOT, 'docs', `placement-${w.replace('openb_pod_list_', '')}.svg`),
      lineChartSvg({ title: `Allocated GPU vs arrived demand — ${w}, ${seeds.length} seeds`, xLabel: 'arrived GPU demand (% of capacity)', yLabel: 'allocated GPU (% of capacity)', series, xMin: 80, xMax: 130, yMin: 75, yMax: 100 }),
    );
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  console.log(`published protocol on ${workloads.length} workload(s), ${nodes.length} nodes, seeds ${seeds[0]}–${seeds.at(-1)}, tune ${tune}: allocated GPU % of capacity (published mean)`);
  console.log(line(header));
  console.log('| ' + widths.map((wd) => '-'.repeat(wd)).join(' | ') + ' |');
  for (const r of rows) console.log(line(r));
  console.log(`default (causal) vs FGD's published mean at 130 %: ${summary.join(' · ')}`);
}
