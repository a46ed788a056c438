// The port through which `lp` placement solves its mixed-integer programs. core stays pure: the
// solver (HiGHS, src/solver/highs.ts) is injected by the caller, and tests inject fakes that report
// a time limit with or without an incumbent.

/**
 * A maximisation MILP in row form: maximise colCost·x subject to rowLower ≤ A·x ≤ rowUpper and
 * 0 ≤ x ≤ colUpper, every column integer. A is given row by row (CSR).
 */
export interface MilpProblem {
  numCols: number;
  numRows: number;
  colCost: Float64Array;
  colUpper: Float64Array;
  rowLower: Float64Array;
  rowUpper: Float64Array;
  /** Row r's entries are at starts[r] .. starts[r+1]-1 of `indices` (columns) and `values`. */
  starts: Int32Array;
  indices: Int32Array;
  values: Float64Array;
  /**
   * A feasible solution to start from (a greedy assignment), when the caller has one: the solver
   * then has an incumbent from the start, and its anytime answer is never worse than it.
   */
  start?: Float64Array;
}

/**
 * - `optimal`: proved optimal (within the solver's gap);
 * - `limit`: stopped on the time budget; `x` is the incumbent when one was found, else null;
 * - `infeasible`: no solution exists (never for a placement model: x = 0 is feasible);
 * - `error`: the solver failed (`message` says how).
 */
export type MilpStatus = 'optimal' | 'limit' | 'infeasible' | 'error';

export interface MilpOutcome {
  status: MilpStatus;
  /** Column values (integral up to the solver's tolerance), or null when there is none. */
  x: Float64Array | null;
  /** Time the solver spent, ms (as the adapter measured it). */
  solveMs: number;
  message?: string;
}

export interface MilpSolver {
  /** Solves `p`, stopping after about `timeLimitMs` with the best incumbent found. */
  solve(p: MilpProblem, timeLimitMs: number): MilpOutcome;
}
