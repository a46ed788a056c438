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

/** How a `WorkloadEstimator` counts. */
export interface EstimatorOptions extends TypicalOptions {
  /**
   * At most this many distinct shapes are kept (default 4096); a new shape then replaces the one
   * with the least weight. The estimator's size is bounded by this, whatever the number of requests.
   */
  maxShapes?: number;
  /**
   * Half-life of a request's weight, in requests observed after it (default: none, plain counts).
   * With one, the estimate follows a drifting mix: the last `halfLife` requests weigh as much as
   * all those before them.
   */
  halfLife?: number;
}

/** What a `WorkloadEstimator` keeps, in a form that can be stored and restored (JSON-safe). */
export interface EstimatorState {
  /** Requests observed since the start. */
  total: number;
  /** Per shape: the request and its (decayed) weight. */
  shapes: { req: PodRequest; n: number }[];
  /**
   * The estimate last built and the count it was built at: `current()` rebuilds only every so
   * often, so a restored estimator must resume from the same build to answer the same.
   */
  built?: { at: number; classes: WorkloadClass[] };
}

/**
 * A running estimate of the request mix (FGD's "typical pods") from the requests seen so far: a
 * value the caller holds (the server, a simulator run) and passes to `schedule()` as the policy's
 * workload. Counts are bounded (`maxShapes`) and optionally decay (`halfLife`). The estimate is
 * rebuilt only when the count has grown by a quarter since the last build (and at least 16), so
 * caches keyed by the distribution stay warm.
 *
 * @example
 *   const est = new WorkloadEstimator(DEFAULT_WORKLOAD_OPTIONS);
 *   est.observe(req);                       // every accepted request
 *   schedule(snapshot, now, { ...policy, workload: est.current() });
 */
export class WorkloadEstimator {
  private readonly counts = new Map<string, ShapeCount>();
  private total = 0;
  /** The weight of the next observation; grows by 2^(1/halfLife) each time instead of decaying all. */
  private unit = 1;
  private built: WorkloadClass[] = [];
  private builtAt = 0;
  private readonly maxShapes: number;
  private readonly growth: number;

  constructor(
    private readonly opts: EstimatorOptions = {},
    state?: EstimatorState,
  ) {
    this.maxShapes = opts.maxShapes ?? 4096;
    if (!(this.maxShapes >= 1)) throw new RangeError(`maxShapes must be at least 1 (got ${this.maxShapes})`);
    if (opts.halfLife !== undefined && !(opts.halfLife > 0)) throw new RangeError(`halfLife must be > 0 (got ${opts.halfLife})`);
    this.growth = opts.halfLife === undefined ? 1 : Math.pow(2, 1 / opts.halfLife);
    if (state) {
      for (const { req, n } of state.shapes.slice(0, this.maxShapes)) this.counts.set(shapeKey(req), { req, n });
      this.total = state.total;
      if (state.built) {
        this.built = state.built.classes;
        this.builtAt = state.built.at;
      }
    }
  }

  /** Distinct shapes kept now (at most `maxShapes`). */
  get size(): number {
    return this.counts.size;
  }

  /** Requests observed so far. */
  get observed(): number {
    return this.total;
  }

  observe(r: PodRequest): void {
    const k = shapeKey(r);
    const e = this.counts.get(k);
    if (e) e.n += this.unit;
    else {
      if (this.counts.size >= this.maxShapes) this.evictLightest();
      this.counts.set(k, { req: r, n: this.unit });
    }
    this.total++;
    if (this.growth !== 1) {
      this.unit *= this.growth;
      if (this.unit > 1e100) this.rescale();
    }
  }

  /** The estimated mix (empty before the first request). */
  current(): readonly WorkloadClass[] {
    if (this.total > 0 && (this.built.length === 0 || this.total >= this.builtAt * 1.25 + 16)) {
      this.built = blendGpuWeight(fromCounts([...this.counts.values()], this.opts.coverage ?? 0.95), this.opts.gpuWeightShare ?? 0);
      this.builtAt = this.total;
    }
    return this.built;
  }

  /** The state to store; `new WorkloadEstimator(opts, state)` resumes from it. Weights are relative. */
  state(): EstimatorState {
    return {
      total: this.total,
      shapes: [...this.counts.values()].map(({ req, n }) => ({ req, n: n / this.unit })),
      ...(this.built.length > 0 ? { built: { at: this.builtAt, classes: this.built } } : {}),
    };
  }

  private evictLightest(): void {
    let key: string | null = null;
    let least = Infinity;
    for (const [k, e] of this.counts) {
      if (e.n < least) {
        least = e.n;
        key = k;
      }
    }
    if (key !== null) this.counts.delete(key);
  }

  private rescale(): void {
    for (const e of this.counts.values()) e.n /= this.unit;
    this.unit = 1;
  }
}

/**
 * The workload a policy plans for: the caller's (`given`), or, when it has none, the request itself
 * as the only class ("more of the same"), so that a policy keeps no history of its own.
 */
export function workloadOr(given: readonly WorkloadClass[] | undefined, req: PodRequest, opts: TypicalOptions = {}): readonly WorkloadClass[] {
  return given && given.length > 0 ? given : typicalWorkload([req], opts);
}
