// The expected mix of requests ("typical pods" in the FGD paper): which request shapes arrive, how often.
import type { PodRequest, WorkloadClass } from './types.js';

export interface TypicalOptions {
  /** Keep the most popular shapes until they cover this share of all requests (published: 0.95). */
  coverage?: number;
  /** Count CPU-only requests as a class (published: true). */
  includeCpuOnly?: boolean;
  /**
   * Share of the weight given by the GPU a class asks for in total (count × GPUs × milli) rather
   * than by its request count (published: 0). Lifts rare large requests, whose room is easily lost.
   */
  gpuWeightShare?: number;
}

function shapeKey(r: PodRequest): string {
  return `${r.cpuMilli}|${r.gpuMilli}|${r.gpuCount}|${r.models.join('|')}`;
}

/**
 * The published simulator's typical-pod distribution: requests grouped by (CPU, per-GPU milli,
 * GPU count, allowed models), most popular first, cut once the kept classes cover `coverage` of all
 * requests, then renormalised to sum to 1. Host memory is not part of a class (as published).
 */
export function typicalWorkload(requests: readonly PodRequest[], opts: TypicalOptions = {}): WorkloadClass[] {
  const counts = new Map<string, ShapeCount>();
  for (const r of requests) {
    if (opts.includeCpuOnly === false && r.gpuCount === 0) continue;
    const k = shapeKey(r);
    const e = counts.get(k);
    if (e) e.n++;
    else counts.set(k, { req: r, n: 1 });
  }
  return blendGpuWeight(fromCounts([...counts.values()], opts.coverage ?? 0.95), opts.gpuWeightShare ?? 0);
}

function blendGpuWeight(classes: WorkloadClass[], share: number): WorkloadClass[] {
  if (share <= 0) return classes;
  // CPU-only classes keep their weight; the GPU classes' weight is blended with their GPU mass.
  const gpuClasses = classes.filter((k) => k.gpuCount > 0);
  const gpuShare = gpuClasses.reduce((a, k) => a + k.weight, 0);
  const mass = gpuClasses.reduce((a, k) => a + k.weight * k.gpuCount * k.gpuMilli, 0);
  if (mass === 0) return classes;
  return classes.map((k) =>
    k.gpuCount === 0 ? k : { ...k, weight: (1 - share) * k.weight + (share * gpuShare * k.weight * k.gpuCount * k.gpuMilli) / mass },
  );
}

interface ShapeCount {
  req: PodRequest;
  n: number;
}

function modelsKey(r: PodRequest): string {
  return r.models.join('|');
}

function fromCounts(entries: ShapeCount[], coverage: number): WorkloadClass[] {
  let total = 0;
  for (const e of entries) total += e.n;
  if (total === 0) return [];
  // Most popular first; ties by larger CPU, then milli, then count, then models (the published order).
  const sorted = [...entries].sort(
    (a, b) =>
      b.n - a.n ||
      b.req.cpuMilli - a.req.cpuMilli ||
      b.req.gpuMilli - a.req.gpuMilli ||
      b.req.gpuCount - a.req.gpuCount ||
      (modelsKey(a.req) < modelsKey(b.req) ? 1 : modelsKey(a.req) > modelsKey(b.req) ? -1 : 0),
  );
  const kept: ShapeCount[] = [];
  let cum = 0;
  for (const e of sorted) {
    if (cum >= coverage * total) break;
    kept.push(e);
    cum += e.n;
  }
  return kept.map(({ req, n }) => ({
    cpuMilli: req.cpuMilli,
    memoryMiB: 0,
    gpuCount: req.gpuCount,
    gpuMilli: req.gpuCount === 0 ? 0 : req.gpuMilli,
    gpuMemoryMiB: 0,
    ...(req.models.length > 0 ? { models: req.models } : {}),
    weight: n / cum,
  }));
}

/**
 * The mix of requests seen so far, for policies that need a workload when the caller gives none.
 * Rebuilt only when the count has grown by a quarter since the last build (and at least 16), so
 * caches keyed by the distribution stay warm; memory is bounded by the number of distinct shapes.
 */
export class SeenWorkload {
  private readonly counts = new Map<string, ShapeCount>();
  private total = 0;
  private built: WorkloadClass[] = [];
  private builtAt = 0;
  constructor(
    private readonly opts: TypicalOptions = {},
    private readonly maxShapes = 4096,
  ) {}

  observe(r: PodRequest): void {
    const k = shapeKey(r);
    const e = this.counts.get(k);
    if (e) e.n++;
    else if (this.counts.size < this.maxShapes) this.counts.set(k, { req: r, n: 1 });
    else return;
    this.total++;
  }

  /** The workload a policy plans for: the one given, else (learning from `req`) the one seen so far. */
  orSeen(given: readonly WorkloadClass[] | undefined, req: PodRequest): readonly WorkloadClass[] {
    if (given && given.length > 0) return given;
    this.observe(req);
    return this.current();
  }

  current(): readonly WorkloadClass[] {
    if (this.total > 0 && (this.built.length === 0 || this.total >= this.builtAt * 1.25 + 16)) {
      this.built = blendGpuWeight(fromCounts([...this.counts.values()], this.opts.coverage ?? 0.95), this.opts.gpuWeightShare ?? 0);
      this.builtAt = this.total;
    }
    return this.built;
  }
}
