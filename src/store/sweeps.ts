// The store's part of sweeps (issue 14 item 4): sweeps, their trials (each a task tagged with
// its sweep and trial number) and the metric points trials report. Both adapters implement it
// (sqlite/sweeps.ts, postgres/sweeps.ts) and conformance-sweeps.ts holds them to one contract.
import type { Params, TrialState } from '../core/sweep/types.js';

/** RUNNING until every trial is final; CAPPED: stopped at its cost cap. */
export type SweepState = 'RUNNING' | 'SUCCEEDED' | 'CANCELLED' | 'CAPPED' | 'FAILED';

export interface SweepRecord {
  id: string;
  tenant: string;
  name: string;
  state: SweepState;
  createdAt: number;
  finishedAt: number | null;
  /** The sweep file as submitted (its JSON form), compiled again whenever it is loaded. */
  input: unknown;
  /** Trials made so far: the next trial's index. */
  nextTrial: number;
  /** Why it ended, for people; null while it runs. */
  message: string | null;
  /** Bumped by every write; `writeSweep` is conditional on it. */
  version: number;
}

export interface TrialRecord {
  sweepId: string;
  index: number;
  taskId: string;
  params: Params;
  state: TrialState;
  createdAt: number;
  finishedAt: number | null;
  message: string | null;
}

/** One reported point of a task (a trial): `seq` numbers the task's points from 0. */
export interface MetricRecord {
  taskId: string;
  seq: number;
  at: number;
  step: number;
  values: Record<string, number>;
}

export interface SweepFilter {
  tenant?: string;
  /** Only sweeps still RUNNING. */
  live?: boolean;
}

export interface SweepStore {
  /** CONFLICT when the id exists. */
  insertSweep(s: SweepRecord): Promise<void>;
  getSweep(id: string): Promise<SweepRecord | null>;
  /** Newest first. */
  listSweeps(filter?: SweepFilter): Promise<SweepRecord[]>;
  /** Applied only when the stored version equals `expectedVersion`; false otherwise. */
  writeSweep(s: SweepRecord, expectedVersion: number): Promise<boolean>;
  /** Inserts or replaces trials by (sweepId, index), all in one transaction. */
  putTrials(trials: readonly TrialRecord[]): Promise<void>;
  /** By index. */
  listTrials(sweepId: string): Promise<TrialRecord[]>;
  trialOfTask(taskId: string): Promise<TrialRecord | null>;
  /**
   * Stores points; a (taskId, seq) already stored is ignored (a re-sent batch), and a task keeps
   * at most `maxPerTask` points (later ones are dropped). Returns how many were stored.
   */
  appendMetrics(points: readonly MetricRecord[], maxPerTask: number): Promise<number>;
  /** Points of these tasks with seq > `afterSeq` (default −1), by task then seq. */
  listMetrics(taskIds: readonly string[], afterSeq?: number): Promise<MetricRecord[]>;
  /** How many points a task has stored (the next seq when none was dropped). */
  countMetrics(taskId: string): Promise<number>;
}
