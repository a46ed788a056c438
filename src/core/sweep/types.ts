// Sweeps: a search space, a trial template and the rules that run it. Pure data; the server's
// sweep controller turns it into tasks, and the core functions beside this file decide what to
// sample next and which trials to stop.
import type { Micros } from '../pricing/money.js';
import type { TaskSpec } from '../types.js';

/** A value a parameter may take. */
export type ParamValue = string | number | boolean;

/**
 * One dimension of the search space (a tagged union). `grid` dimensions are enumerated (their
 * Cartesian product); the others are sampled per trial from the seeded RNG.
 */
export type ParamSpec =
  | { kind: 'grid'; values: readonly ParamValue[] }
  | { kind: 'choice'; values: readonly ParamValue[] }
  | { kind: 'uniform'; low: number; high: number; integer: boolean }
  | { kind: 'loguniform'; low: number; high: number; integer: boolean };

export type Params = Record<string, ParamValue>;

export type Goal = 'minimize' | 'maximize';

export interface Objective {
  /** The metric name trials report (`fastgpu.report(loss=…)`, a `$FASTGPU_METRICS` line). */
  metric: string;
  goal: Goal;
}

/** Early-stopping rules (tagged union). */
export type EarlyStopping =
  | { kind: 'none' }
  /**
   * Median rule (Vizier): at step s ≥ minSteps, stop a trial whose best value so far is worse
   * than the median of the other trials' running averages up to s; needs minTrials others.
   */
  | { kind: 'median'; minSteps: number; minTrials: number }
  /**
   * ASHA: rungs at minStep·η^k up to maxStep; a trial reaching a rung continues only when it is
   * in the top 1/η of the trials that reached that rung so far.
   */
  | { kind: 'asha'; minStep: number; maxStep: number; reductionFactor: number };

export type SweepBackend = 'native' | 'optuna';

export interface SweepSpec {
  name: string;
  space: Readonly<Record<string, ParamSpec>>;
  /** How many trials to run in all. */
  trials: number;
  /** Most trials running (or waiting to run) at once. */
  maxConcurrent: number;
  objective: Objective;
  earlyStopping: EarlyStopping;
  /** Stop starting trials (and stop running ones) once the sweep's cost reaches this; null: no cap. */
  costCap: Micros | null;
  seed: number;
  backend: SweepBackend;
  /** Each trial's task, before its parameters are filled in (`{lr}` in the command, FASTGPU_PARAM_LR). */
  template: TaskSpec;
}

/** A trial's life as the sweep sees it. */
export type TrialState =
  | 'PENDING' // its task waits
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED' // its task failed, timed out or was cancelled from outside
  | 'PRUNED' // early stopping stopped it
  | 'CANCELLED'; // the sweep was cancelled or hit its cost cap

export const FINAL_TRIAL_STATES: readonly TrialState[] = ['SUCCEEDED', 'FAILED', 'PRUNED', 'CANCELLED'];

/** One reported point: a step and its metric values. */
export interface MetricPoint {
  step: number;
  values: Readonly<Record<string, number>>;
}
