// Upper bounds on the GPU any policy could allocate for a given set of arrived requests.
// - capacity: min(arrived, capacity);
// - relaxation: a linear program solved with HiGHS that packs request classes into node *types*
//   (nodes grouped by model, GPUs, CPU, RAM) with each type's summed CPU, RAM and GPU as capacity,
//   k-GPU requests limited to ⌊GPUs/k⌋ per node, and at most one request above half a GPU per GPU.
//   Every real placement satisfies these constraints, so its optimum bounds every policy.
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
      bounds.push(` 0 <= ${v} <= ${Math.min(c.n, t.count * Math.floor(t.gpus / c.k))}`);
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
