// The MILP solver port (core/placement/lp-solver.ts) on HiGHS (WebAssembly, the `highs` package
// the bounds already use). HiGHS loads asynchronously: `loadHighsSolver()` once at server or
// simulator start; solving is then synchronous (it blocks the event loop for up to the budget).
import type { Highs } from 'highs';
import type { MilpOutcome, MilpProblem, MilpSolver } from '../core/placement/lp-solver.js';

let loading: Promise<Highs> | null = null;

/** Loads the HiGHS runtime once per process. */
export function loadHighsRuntime(): Promise<Highs> {
  loading ??= import('highs').then((m) => (m.default as unknown as () => Promise<Highs>)());
  return loading;
}

/** A `MilpSolver` on HiGHS; `now` is a monotonic clock in ms (the solve time it reports). */
export class HighsMilpSolver implements MilpSolver {
  constructor(
    private readonly highs: Highs,
    private readonly now: () => number,
  ) {}

  solve(p: MilpProblem, timeLimitMs: number): MilpOutcome {
    const h = this.highs;
    const t0 = this.now();
    const model = h.createModel({
      numCols: p.numCols,
      numRows: p.numRows,
      sense: h.constants.objectiveSense.maximize,
      colCost: p.colCost,
      colLower: new Float64Array(p.numCols),
      colUpper: p.colUpper,
      rowLower: p.rowLower,
      rowUpper: p.rowUpper,
      matrix: { format: 'csr', numRows: p.numRows, numCols: p.numCols, starts: p.starts, indices: p.indices, values: p.values },
      integrality: new Int32Array(p.numCols).fill(h.constants.variableType.integer),
    });
    try {
      // With a start given, HiGHS's first-solution heuristic (feasibility jump) only spends budget.
      model.options.set({ output_flag: false, time_limit: Math.max(0.001, timeLimitMs / 1000), ...(p.start ? { mip_heuristic_run_feasibility_jump: false } : {}) });
      if (p.start) model.setSolution({ colValue: p.start });
      const run = model.run();
      const st = run.modelStatus;
      const c = h.constants.modelStatus;
      const hasX = Number(model.info.get('primal_solution_status')) === 2;
      const x = hasX ? model.getSolution().colValue : null;
      const status = st === c.optimal ? 'optimal' : st === c.timeLimit || st === c.interrupted ? 'limit' : st === c.infeasible ? 'infeasible' : hasX ? 'limit' : 'error';
      return { status, x, solveMs: this.now() - t0, ...(status === 'error' ? { message: `HiGHS model status ${st}` } : {}) };
    } catch (e) {
      return { status: 'error', x: null, solveMs: this.now() - t0, message: e instanceof Error ? e.message : String(e) };
    } finally {
      model.dispose();
    }
  }
}

/**
 * Loads HiGHS and returns a solver on it (the clock: `performance.now`). A few tiny solves warm it
 * up: the first MIP solves of a process pay for compiling the WebAssembly (some 100 ms here),
 * which would otherwise eat the first cycle's budget.
 */
export async function loadHighsSolver(now: () => number = () => performance.now()): Promise<HighsMilpSolver> {
  const solver = new HighsMilpSolver(await loadHighsRuntime(), now);
  // A small knapsack that needs branching, with and without a start: the code paths a cycle uses.
  const n = 16;
  const w = Float64Array.from({ length: n }, (_, i) => 300 + ((i * 137) % 500));
  const warm: MilpProblem = {
    numCols: n,
    numRows: 1,
    colCost: Float64Array.from(w, (v, i) => v + (i % 3)),
    colUpper: new Float64Array(n).fill(1),
    rowLower: Float64Array.of(0),
    rowUpper: Float64Array.of(2500),
    starts: Int32Array.of(0, n),
    indices: Int32Array.from({ length: n }, (_, i) => i),
    values: w,
  };
  for (let i = 0; i < 3; i++) solver.solve(i === 0 ? warm : { ...warm, start: new Float64Array(n) }, 1000);
  return solver;
}
