// The native sampler: grid dimensions are enumerated (their Cartesian product, in key order),
// the others drawn from a seeded RNG. Trial i's parameters depend only on (seed, i), so a
// restarted server draws the very same trial again.
import { mulberry32 } from '../placement/rng.js';
import type { Rng } from '../placement/types.js';
import type { ParamSpec, ParamValue, Params } from './types.js';

/** Every point of the grid dimensions (one empty point when there are none). */
export function gridPoints(space: Readonly<Record<string, ParamSpec>>): Params[] {
  let points: Params[] = [{}];
  for (const [name, p] of Object.entries(space)) {
    if (p.kind !== 'grid') continue;
    const next: Params[] = [];
    for (const point of points) for (const v of p.values) next.push({ ...point, [name]: v });
    points = next;
  }
  return points;
}

/** How many points the grid dimensions make (1 with none), without building them. */
export function gridSize(space: Readonly<Record<string, ParamSpec>>): number {
  let n = 1;
  for (const p of Object.values(space)) if (p.kind === 'grid') n *= p.values.length;
  return n;
}

/** One draw from a sampled dimension. */
export function drawParam(p: Exclude<ParamSpec, { kind: 'grid' }>, rng: Rng): ParamValue {
  const r = rng();
  switch (p.kind) {
    case 'choice':
      return p.values[Math.min(p.values.length - 1, Math.floor(r * p.values.length))]!;
    case 'uniform': {
      if (!p.integer) return p.low + r * (p.high - p.low);
      const lo = Math.ceil(p.low);
      const hi = Math.floor(p.high);
      return Math.min(hi, lo + Math.floor(r * (hi - lo + 1)));
    }
    case 'loguniform': {
      const v = Math.exp(Math.log(p.low) + r * (Math.log(p.high) - Math.log(p.low)));
      if (!p.integer) return Math.min(p.high, Math.max(p.low, v));
      return Math.min(Math.floor(p.high), Math.max(Math.ceil(p.low), Math.round(v)));
    }
  }
}

/** The RNG of trial `index` in a sweep seeded `seed` (independent streams per trial). */
export function trialRng(seed: number, index: number): Rng {
  // A 32-bit mix of seed and index (Murmur3's finaliser) so neighbouring trials are unrelated.
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return mulberry32((h ^ (h >>> 16)) >>> 0);
}

/**
 * The parameters of trial `index`: grid point `index mod |grid|` (a grid is repeated when there
 * are more trials than points) and a fresh draw of every sampled dimension.
 * @example sampleTrial({lr: {kind: 'loguniform', low: 1e-5, high: 1e-1, integer: false}}, 1, 0)
 */
export function sampleTrial(space: Readonly<Record<string, ParamSpec>>, seed: number, index: number, grid: readonly Params[] = gridPoints(space)): Params {
  const rng = trialRng(seed, index);
  const point = grid[index % grid.length] ?? {};
  const out: Params = {};
  for (const [name, p] of Object.entries(space)) {
    out[name] = p.kind === 'grid' ? point[name]! : drawParam(p, rng);
  }
  return out;
}
