// Upper bounds on the GPU any policy could allocate for a given set of arrived requests.
// - capacity: min(arrived, capacity);
// - relaxation (aggregate): a linear program solved with HiGHS that packs request classes into node
//   *types* (nodes grouped by model, GPUs, CPU, RAM) with each type's summed CPU, RAM and GPU as
//   capacity, k-GPU requests limited to ⌊GPUs/k⌋ per node, and at most one request above half a GPU
//   per GPU. Every real placement satisfies these constraints, so its optimum bounds every policy.
// - configurations (per GPU): the same, but each GPU of a type is given a *configuration*: whole (for
//   requests of whole GPUs) or a maximal multiset of fractional sizes that fit in 1000 milli. The
//   fractional requests of a size placed on a type are covered by the slots of that size in its GPUs'
//   configurations; CPU and RAM stay summed per type. A real placement gives each GPU one such
//   configuration (its fractions, or a superset), so this too bounds every policy, and it sees the
//   per-GPU leftovers the aggregate cannot (two 600-milli requests never share a GPU, a 810 leaves
//   190 that only requests of ≤190 can use).
import type { NodeInit, ResolvedPodRequest } from '../core/placement/index.js';

export interface HighsLike {
  solve(problem: string, options?: Record<string, unknown>): { Status: string; ObjectiveValue: number };
}

let highsPromise: Promise<HighsLike> | null = null;
/** Loads HiGHS (WebAssembly) once. */
export function loadHighs(): Promise<HighsLike> {
  highsPromise ??= import('highs').then((m) => (m.default as unknown as () => Promise<HighsLike>)());
  return highsPromise;
}

interface NodeType {
  model: string;
  gpus: number;
  cpu: number;
  mem: number;
  count: number;
}

function nodeTypes(nodes: readonly NodeInit[]): NodeType[] {
  const m = new Map<string, NodeType>();
  for (const n of nodes) {
    const model = n.gpus[0]?.model ?? '';
    const k = `${model}|${n.gpus.length}|${n.cpuMilli}|${n.memoryMiB}`;
    const t = m.get(k);
    if (t) t.count++;
    else m.set(k, { model, gpus: n.gpus.length, cpu: n.cpuMilli, mem: n.memoryMiB, count: 1 });
  }
  return [...m.values()];
}

interface ReqClass {
  cpu: number;
  mem: number;
  k: number;
  m: number;
  models: readonly string[];
  n: number;
}

function classes(reqs: readonly ResolvedPodRequest[]): ReqClass[] {
  const m = new Map<string, ReqClass>();
  for (const r of reqs) {
    const k = `${r.cpuMilli}|${r.memoryMiB}|${r.gpuCount}|${r.gpuMilli}|${r.models.join('|')}`;
    const c = m.get(k);
    if (c) c.n++;
    else m.set(k, { cpu: r.cpuMilli, mem: r.memoryMiB, k: r.gpuCount, m: r.gpuCount === 0 ? 0 : r.gpuMilli, models: r.models, n: 1 });
  }
  return [...m.values()];
}

/**
 * The most requests of class `c` that nodes of type `t` can hold by GPUs alone: ⌊GPUs/k⌋ per node for
 * whole GPUs, ⌊1000/milli⌋ per GPU for a fraction.
 */
function perTypeLimit(c: ReqClass, t: NodeType): number {
  if (c.m >= 1000) return t.count * Math.floor(t.gpus / c.k);
  return t.count * t.gpus * Math.floor(1000 / c.m);
}

/** The LP (CPLEX LP format) of the relaxation; exported for tests. */
export function relaxationLp(nodes: readonly NodeInit[], reqs: readonly ResolvedPodRequest[]): string {
  const types = nodeTypes(nodes);
  const cls = classes(reqs).filter((c) => c.k > 0); // CPU-only requests only compete; dropping them relaxes further
  const obj: string[] = [];
  const rows: string[] = [];
  const perType = types.map(() => ({ cpu: [] as string[], mem: [] as string[], gpu: [] as string[], big: [] as string[] }));
  const perClass = cls.map(() => [] as string[]);
  const bounds: string[] = [];
  cls.forEach((c, ci) => {
    types.forEach((t, ti) => {
      if (c.k > t.gpus || c.cpu > t.cpu || c.mem > t.mem) return;
      if (c.models.length > 0 && !c.models.includes(t.model)) return;
      const v = `x${ci}_${ti}`;
      obj.push(`${c.k * c.m} ${v}`);
      perType[ti]!.cpu.push(`${c.cpu} ${v}`);
      perType[ti]!.mem.push(`${c.mem} ${v}`);
      perType[ti]!.gpu.push(`${c.k * c.m} ${v}`);
      if (c.m > 500) perType[ti]!.big.push(`${c.k} ${v}`);
      perClass[ci]!.push(v);
      bounds.push(` 0 <= ${v} <= ${Math.min(c.n, perTypeLimit(c, t))}`);
    });
  });
  types.forEach((t, ti) => {
    const p = perType[ti]!;
    if (p.gpu.length === 0) return;
    rows.push(` cpu${ti}: ${p.cpu.join(' + ')} <= ${t.cpu * t.count}`);
    rows.push(` mem${ti}: ${p.mem.join(' + ')} <= ${t.mem * t.count}`);
    rows.push(` gpu${ti}: ${p.gpu.join(' + ')} <= ${t.gpus * 1000 * t.count}`);
    if (p.big.length > 0) rows.push(` big${ti}: ${p.big.join(' + ')} <= ${t.gpus * t.count}`);
  });
  cls.forEach((c, ci) => {
    if (perClass[ci]!.length > 0) rows.push(` n${ci}: ${perClass[ci]!.join(' + ')} <= ${c.n}`);
  });
  if (obj.length === 0) return '';
  return `Maximize\n obj: ${obj.join(' + ')}\nSubject To\n${rows.join('\n')}\nBounds\n${bounds.join('\n')}\nEnd\n`;
}

/** The relaxation's optimum, in GPU milli (0 when nothing can be placed). */
export function relaxationBound(highs: HighsLike, nodes: readonly NodeInit[], reqs: readonly ResolvedPodRequest[]): number {
  const lp = relaxationLp(nodes, reqs);
  if (lp === '') return 0;
  const sol = highs.solve(lp, { log_to_console: false, output_flag: false });
  if (sol.Status !== 'Optimal') throw new Error(`HiGHS: ${sol.Status}`);
  return sol.ObjectiveValue;
}

/** The arrived prefix of `arrivals` at each demand level (% of capacity). */
export function prefixAt(arrivals: readonly ResolvedPodRequest[], capacityMilli: number, levelPct: number): ResolvedPodRequest[] {
  let arrived = 0;
  const out: ResolvedPodRequest[] = [];
  for (const r of arrivals) {
    const next = arrived + r.gpuMilli * r.gpuCount;
    if ((next / capacityMilli) * 100 > levelPct) break;
    arrived = next;
    out.push(r);
  }
  return out;
}

/** At most this many GPU configurations per LP; sizes are rounded down to a coarser grid until under it. */
const MAX_CONFIGS = 2500;

/**
 * Maximal multisets of `sizes` (descending, distinct, in grid units) whose sum is ≤ `cap`: counts per
 * size. Returns null when there are more than `limit`.
 */
export function maximalConfigs(sizes: readonly number[], cap: number, limit = MAX_CONFIGS): number[][] | null {
  const out: number[][] = [];
  if (sizes.length === 0) return out;
  const min = Math.min(...sizes);
  const counts = new Array<number>(sizes.length).fill(0);
  const dfs = (i: number, rem: number): boolean => {
    if (i === sizes.length) {
      if (rem < min) {
        out.push([...counts]);
        if (out.length > limit) return false;
      }
      return true;
    }
    const s = sizes[i]!;
    for (let k = Math.floor(rem / s); k >= 0; k--) {
      counts[i] = k;
      if (!dfs(i + 1, rem - k * s)) return false;
    }
    counts[i] = 0;
    return true;
  };
  return dfs(0, cap) ? out : null;
}

/** The per-GPU configuration LP (CPLEX LP format); exported for tests. */
export function configurationLp(nodes: readonly NodeInit[], reqs: readonly ResolvedPodRequest[]): string {
  const types = nodeTypes(nodes);
  const cls = classes(reqs).filter((c) => c.k > 0);
  const obj: string[] = [];
  const rows: string[] = [];
  const bounds: string[] = [];
  const perClass = cls.map(() => [] as string[]);
  // Fractional sizes on a common grid: the gcd of the sizes, coarsened (sizes rounded down, which
  // only relaxes) until the configurations are few enough.
  const fracSizes = [...new Set(cls.filter((c) => c.k === 1 && c.m < 1000).map((c) => c.m))];
  let grid = fracSizes.reduce((g, m) => gcd(g, m), 1000) || 1000;
  let units: number[] = [];
  let configs: number[][] | null = null;
  for (;;) {
    units = [...new Set(fracSizes.map((m) => Math.floor(m / grid)).filter((u) => u > 0))].sort((a, b) => b - a);
    configs = maximalConfigs(units, Math.floor(1000 / grid));
    if (configs) break;
    grid *= 2;
  }
  const unitOf = (m: number) => Math.floor(m / grid);
  types.forEach((t, ti) => {
    const cpu: string[] = [];
    const mem: string[] = [];
    const whole: string[] = [];
    const frac = new Map<number, string[]>(); // unit size → x terms (sizes below one unit need no slot)
    cls.forEach((c, ci) => {
      if (c.k > t.gpus || c.cpu > t.cpu || c.mem > t.mem) return;
      if (c.models.length > 0 && !c.models.includes(t.model)) return;
      const v = `x${ci}_${ti}`;
      obj.push(`${c.k * c.m} ${v}`);
      cpu.push(`${c.cpu} ${v}`);
      mem.push(`${c.mem} ${v}`);
      perClass[ci]!.push(v);
      bounds.push(` 0 <= ${v} <= ${Math.min(c.n, perTypeLimit(c, t))}`);
      if (c.m >= 1000) whole.push(`${c.k} ${v}`);
      else {
        const u = unitOf(c.m);
        if (u > 0) {
          const l = frac.get(u) ?? [];
          l.push(v);
          frac.set(u, l);
        }
      }
    });
    if (cpu.length === 0) return;
    rows.push(` cpu${ti}: ${cpu.join(' + ')} <= ${t.cpu * t.count}`);
    rows.push(` mem${ti}: ${mem.join(' + ')} <= ${t.mem * t.count}`);
    // GPUs: y_whole + Σ y_config ≤ GPUs of the type.
    const ys: string[] = [];
    if (whole.length > 0) {
      ys.push(`w${ti}`);
      rows.push(` whole${ti}: ${whole.join(' + ')} - w${ti} <= 0`);
    }
    if (frac.size > 0) {
      // Only the configurations of the sizes that can come here, restricted and deduplicated.
      const here = units.map((u) => frac.has(u));
      const seen = new Set<string>();
      const cover = new Map<number, string[]>();
      for (const cfg of configs!) {
        const key = cfg.map((n, i) => (here[i] ? n : 0)).join(',');
        if (seen.has(key)) continue;
        seen.add(key);
        const y = `y${ti}_${seen.size}`;
        ys.push(y);
        cfg.forEach((n, i) => {
          if (n > 0 && here[i]) {
            const l = cover.get(units[i]!) ?? [];
            l.push(`${n} ${y}`);
            cover.set(units[i]!, l);
          }
        });
      }
      for (const [u, xs] of frac) rows.push(` f${ti}_${u}: ${xs.join(' + ')}${(cover.get(u) ?? []).map((tm) => ` - ${tm}`).join('')} <= 0`);
    }
    if (ys.length > 0) rows.push(` gpus${ti}: ${ys.join(' + ')} <= ${t.gpus * t.count}`);
  });
  cls.forEach((c, ci) => {
    if (perClass[ci]!.length > 0) rows.push(` n${ci}: ${perClass[ci]!.join(' + ')} <= ${c.n}`);
  });
  if (obj.length === 0) return '';
  return `Maximize\n obj: ${obj.join(' + ')}\nSubject To\n${rows.join('\n')}\nBounds\n${bounds.join('\n')}\nEnd\n`;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** The configuration LP's optimum, in GPU milli (0 when nothing can be placed). */
export function configurationBound(highs: HighsLike, nodes: readonly NodeInit[], reqs: readonly ResolvedPodRequest[]): number {
  const lp = configurationLp(nodes, reqs);
  if (lp === '') return 0;
  const sol = highs.solve(lp, { log_to_console: false, output_flag: false });
  if (sol.Status !== 'Optimal') throw new Error(`HiGHS: ${sol.Status}`);
  return sol.ObjectiveValue;
}
