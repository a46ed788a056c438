// The FGD paper's published per-seed results (fgd_published_*.csv), for comparison.
import { readFileSync } from 'node:fs';
import { TraceError } from './trace.js';

/** Published policy directory names → our policy names. */
export const PUBLISHED_POLICY: Record<string, string> = {
  '01-Random': 'random',
  '02-DotProd': 'dotprod',
  '03-GpuClustering': 'gpu-clustering',
  '04-GpuPacking': 'gpu-packing',
  '05-BestFit': 'best-fit',
  '06-FGD': 'fgd',
};

export interface PublishedSeries {
  policy: string;
  workload: string;
  seed: number;
  /** Index = arrived demand %. */
  values: (number | null)[];
}

/** Reads one fgd_published_*.csv (columns workload, sc_policy, tune, seed, [total_gpus,] 0..130). */
export function loadPublished(file: string): PublishedSeries[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TraceError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = lines[0]!.split(',');
  for (const c of ['workload', 'sc_policy', 'seed', '0']) if (!header.includes(c)) throw new TraceError(`${file}: missing column ${c}`);
  const levelCols: [number, number][] = [];
  header.forEach((h, i) => {
    if (/^\d+$/.test(h)) levelCols.push([Number(h), i]);
  });
  const max = Math.max(...levelCols.map(([l]) => l));
  return lines.slice(1).map((l) => {
    const c = l.split(',');
    const values: (number | null)[] = Array.from({ length: max + 1 }, () => null);
    for (const [lvl, i] of levelCols) values[lvl] = c[i] === undefined || c[i] === '' ? null : Number(c[i]);
    const raw = c[header.indexOf('sc_policy')]!;
    return { policy: PUBLISHED_POLICY[raw] ?? raw, workload: c[header.indexOf('workload')]!, seed: Number(c[header.indexOf('seed')]), values };
  });
}

/** Mean over the given seeds of each level, per policy. */
export function publishedMeans(series: readonly PublishedSeries[], workload: string, seeds: readonly number[]): Map<string, (number | null)[]> {
  const out = new Map<string, (number | null)[]>();
  const by = new Map<string, PublishedSeries[]>();
  for (const s of series) {
    if (s.workload !== workload || !seeds.includes(s.seed)) continue;
    const a = by.get(s.policy) ?? [];
    a.push(s);
    by.set(s.policy, a);
  }
  for (const [p, list] of by) {
    const len = list[0]!.values.length;
    const mean: (number | null)[] = [];
    for (let l = 0; l < len; l++) {
      const vs = list.map((s) => s.values[l]).filter((v): v is number => v !== null && v !== undefined);
      mean.push(vs.length === 0 ? null : vs.reduce((a, b) => a + b, 0) / vs.length);
    }
    out.set(p, mean);
  }
  return out;
}
