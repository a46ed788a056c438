// Requests as the cycle sees them: resolved once per distinct shape, with a key and a
// comparable form so that a failure to place one shape answers for every larger shape.
import type { ResolvedPodRequest } from '../placement/cluster.js';
import type { ResourceRequest } from '../types.js';
import { describeRequest, resolveRequest, type ModelInfo } from './resolve.js';

/** A resolved request with what the cycle memoises about it. */
export interface Shape {
  key: string;
  /** Small and distinct per `Requests` (0, 1, …): an array index for per-shape memos. */
  id: number;
  req: ResolvedPodRequest;
  resources: ResourceRequest;
  /** Per pool model (same order as `Requests.models`): milli and memory per GPU, NaN where not allowed. */
  milli: Float64Array;
  mem: Float64Array;
}

/** A string that is equal for equal requests. */
export function requestKey(r: ResourceRequest): string {
  const g = r.gpu;
  if (!g) return `-|${r.cpuMilli}|${r.memoryMiB}`;
  const share = g.share.kind === 'milli' ? g.share.milli : g.share.kind === 'memory' ? g.share.memoryMiB : g.share.tflops;
  return `${g.count}:${g.share.kind}:${share}:${g.memoryMiB ?? ''}:${g.model ?? ''}${g.anyOf ? `:${g.anyOf.join('|')}` : ''}|${r.cpuMilli}|${r.memoryMiB}`;
}

/** Resolves each distinct request once per cycle. */
export class Requests {
  private readonly byKey = new Map<string, Shape>();
  private readonly tree = new Map<number, Map<number, Map<number | string, Map<string, Shape>>>>();
  private readonly descriptions = new Map<string, string>();

  constructor(readonly models: readonly ModelInfo[]) {}

  shape(resources: ResourceRequest): Shape {
    // Called for every pending task: look up by numbers (host CPU, RAM, then the GPU part as a
    // number for the common plain share) rather than building a string key each time.
    let byRam = this.tree.get(resources.cpuMilli);
    if (!byRam) this.tree.set(resources.cpuMilli, (byRam = new Map()));
    let byGpu = byRam.get(resources.memoryMiB);
    if (!byGpu) byRam.set(resources.memoryMiB, (byGpu = new Map()));
    const g = resources.gpu;
    let gk: number | string;
    if (g === null) gk = -1;
    else if (g.memoryMiB !== undefined || g.anyOf !== undefined || g.share.kind === 'tflops') gk = requestKey(resources);
    // Milli shares as count·10⁴ + milli (≥ 0), memory shares as −(count·10⁸ + MiB) − 2: distinct.
    else gk = g.share.kind === 'milli' ? g.count * 10_000 + g.share.milli : -(g.count * 100_000_000 + g.share.memoryMiB) - 2;
    let byModel = byGpu.get(gk);
    if (!byModel) byGpu.set(gk, (byModel = new Map()));
    // The model a request is tied to ('' for any): a string the task already holds, not one built.
    const model = g?.model ?? '';
    let s = byModel.get(model);
    if (!s) byModel.set(model, (s = this.make(resources)));
    return s;
  }

  private make(resources: ResourceRequest): Shape {
    const key = requestKey(resources);
    let s = this.byKey.get(key);
    if (!s) {
      const req = resolveRequest(resources, this.models);
      const milli = new Float64Array(this.models.length);
      const mem = new Float64Array(this.models.length);
      this.models.forEach((m, i) => {
        const amount = amountForModel(req, m.model);
        milli[i] = amount ? amount.gpuMilli : NaN;
        mem[i] = amount ? amount.gpuMemoryMiB : NaN;
      });
      s = { key, id: this.byKey.size, req, resources, milli, mem };
      this.byKey.set(key, s);
    }
    return s;
  }

  describe(s: Shape): string {
    let d = this.descriptions.get(s.key);
    if (d === undefined) {
      d = describeRequest(s.resources);
      this.descriptions.set(s.key, d);
    }
    return d;
  }
}

function amountForModel(req: ResolvedPodRequest, model: string): { gpuMilli: number; gpuMemoryMiB: number } | null {
  if (req.gpuCount === 0) return { gpuMilli: 0, gpuMemoryMiB: 0 };
  if (req.models.length > 0 && !req.models.includes(model)) return null;
  if (req.perModel) return req.perModel.get(model) ?? null;
  return { gpuMilli: req.gpuMilli, gpuMemoryMiB: req.gpuMemoryMiB };
}

/**
 * Whether `b` needs at least what `a` needs everywhere, so that wherever `b` fits `a` fits too:
 * as much host CPU and RAM, as many GPUs, a share at least as large on every model `b` may use
 * (which `a` may use too), and never whole where `a` is a fraction (exclusive GPUs take whole
 * GPUs only, so a whole GPU can fit where a fraction cannot).
 */
export function covers(b: Shape, a: Shape): boolean {
  if (b.req.cpuMilli < a.req.cpuMilli || b.req.memoryMiB < a.req.memoryMiB) return false;
  if (a.req.gpuCount === 0) return true;
  if (b.req.gpuCount < a.req.gpuCount) return false;
  for (let i = 0; i < b.milli.length; i++) {
    const bm = b.milli[i]!;
    if (Number.isNaN(bm)) continue;
    const am = a.milli[i]!;
    if (Number.isNaN(am) || bm < am || b.mem[i]! < a.mem[i]!) return false;
    if (bm >= 1000 && am < 1000) return false;
  }
  return true;
}

/**
 * Shapes that found no room in one cluster during this cycle. Capacity only shrinks within a
 * cycle, so a shape that failed keeps failing, and so does every shape that covers it.
 */
export class FailMemo {
  /** Shapes known to fail, by `Shape.id` (the answer never turns back to false). */
  private readonly yes: (Shape | undefined)[] = [];
  private readonly exact = new Set<string>();
  private readonly failed: Shape[] = [];
  /** Shapes found not covered, with the number of failures known then (valid until it grows). */
  private readonly clear = new Map<Shape, number>();
  private static readonly MAX_COMPARED = 64;

  has(s: Shape): boolean {
    // Asked for every task of a long queue: one array read for a shape already known to fail.
    if (this.yes[s.id] === s) return true;
    if (this.exact.has(s.key)) {
      this.yes[s.id] = s;
      return true;
    }
    if (this.clear.get(s) === this.failed.length) return false;
    for (const f of this.failed) {
      if (covers(s, f)) {
        this.exact.add(s.key);
        this.yes[s.id] = s;
        return true;
      }
    }
    this.clear.set(s, this.failed.length);
    return false;
  }

  add(s: Shape): void {
    this.yes[s.id] = s;
    if (this.exact.has(s.key)) return;
    this.exact.add(s.key);
    if (this.failed.length < FailMemo.MAX_COMPARED) this.failed.push(s);
  }
}
