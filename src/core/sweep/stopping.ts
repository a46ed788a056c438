// Early stopping, pure: given every trial's reported points, which running trials to stop now.
// The sweep controller calls it whenever metrics arrive and cancels what it returns, which
// frees the trial's slice for the next trial in the same scheduler cycle.
import type { EarlyStopping, Goal, MetricPoint, TrialState } from './types.js';

export interface TrialProgress {
  id: string;
  state: TrialState;
  /** The objective's values by step, ascending steps (points without the metric left out). */
  points: readonly { step: number; value: number }[];
}

/** The objective's series of a trial's reported points, sorted by step. */
export function objectiveSeries(points: readonly MetricPoint[], metric: string): { step: number; value: number }[] {
  const out: { step: number; value: number }[] = [];
  for (const p of points) {
    const v = p.values[metric];
    if (typeof v === 'number' && Number.isFinite(v)) out.push({ step: p.step, value: v });
  }
  return out.sort((a, b) => a.step - b.step);
}

const better = (goal: Goal) => (a: number, b: number): boolean => (goal === 'minimize' ? a < b : a > b);

/** The best value of a series up to `step` (inclusive); undefined when none. */
export function bestUpTo(series: readonly { step: number; value: number }[], step: number, goal: Goal): number | undefined {
  let best: number | undefined;
  const isBetter = better(goal);
  for (const p of series) {
    if (p.step > step) break;
    if (best === undefined || isBetter(p.value, best)) best = p.value;
  }
  return best;
}

function meanUpTo(series: readonly { step: number; value: number }[], step: number): number | undefined {
  let sum = 0;
  let n = 0;
  for (const p of series) {
    if (p.step > step) break;
    sum += p.value;
    n++;
  }
  return n > 0 ? sum / n : undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The value a trial had at a rung: its last value at or before the rung's step. */
function valueAt(series: readonly { step: number; value: number }[], step: number): number | undefined {
  let v: number | undefined;
  for (const p of series) {
    if (p.step > step) break;
    v = p.value;
  }
  return v;
}

/** ASHA's rungs: minStep·η^k below maxStep. */
export function ashaRungs(rule: Extract<EarlyStopping, { kind: 'asha' }>): number[] {
  const rungs: number[] = [];
  for (let r = rule.minStep; r < rule.maxStep; r *= rule.reductionFactor) rungs.push(r);
  return rungs;
}

/**
 * Ids of the running trials the rule stops now.
 * @example decideStops({kind: 'median', minSteps: 2, minTrials: 3}, 'minimize', trials)
 */
export function decideStops(rule: EarlyStopping, goal: Goal, trials: readonly TrialProgress[]): string[] {
  if (rule.kind === 'none') return [];
  const stop: string[] = [];
  const isBetter = better(goal);
  for (const t of trials) {
    if (t.state !== 'RUNNING' || t.points.length === 0) continue;
    const last = t.points[t.points.length - 1]!.step;
    if (rule.kind === 'median') {
      if (last < rule.minSteps) continue;
      const others: number[] = [];
      for (const o of trials) {
        if (o.id === t.id) continue;
        const m = meanUpTo(o.points, last);
        if (m !== undefined) others.push(m);
      }
      if (others.length < rule.minTrials) continue;
      const best = bestUpTo(t.points, last, goal)!;
      if (isBetter(median(others), best)) stop.push(t.id);
      continue;
    }
    // ASHA: judged at the highest rung the trial has reached, among all that reached it.
    const rung = ashaRungs(rule).filter((r) => r <= last).pop();
    if (rung === undefined) continue;
    const mine = valueAt(t.points, rung)!;
    const competing: number[] = [];
    for (const o of trials) {
      if (o.points.length === 0 || o.points[o.points.length - 1]!.step < rung) continue;
      const v = valueAt(o.points, rung);
      if (v !== undefined) competing.push(v);
    }
    if (competing.length < rule.reductionFactor) continue;
    const keep = Math.max(1, Math.floor(competing.length / rule.reductionFactor));
    const ahead = competing.filter((v) => isBetter(v, mine)).length;
    if (ahead >= keep) stop.push(t.id);
  }
  return stop;
}
