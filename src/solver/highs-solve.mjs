// One MILP solve on a loaded HiGHS runtime, in plain JavaScript: the same code runs in the
// server's thread (HighsMilpSolver, highs.ts) and in the solver thread that enforces a hard time
// budget (highs-worker.mjs), which Node starts from a .js file, never from TypeScript.
// Types: highs-solve.d.mts. The problem's shape: MilpProblem in core/placement/lp-solver.ts.

/** Loads the HiGHS WebAssembly runtime (once per thread: the caller keeps it). */
export async function loadHighs() {
  const m = await import('highs');
  return m.default();
}

/** Solves `p` (maximise), stopping after about `timeLimitMs`; `now` is a clock in ms. */
export function solveMilp(h, p, timeLimitMs, now) {
  const t0 = now();
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
    return { status, x, solveMs: now() - t0, ...(status === 'error' ? { message: `HiGHS model status ${st}` } : {}) };
  } catch (e) {
    return { status: 'error', x: null, solveMs: now() - t0, message: e instanceof Error ? e.message : String(e) };
  } finally {
    model.dispose();
  }
}

/** A small knapsack that needs branching: n items of weight 300..799, capacity 2500. */
export function knapsack(n) {
  const w = Float64Array.from({ length: n }, (_, i) => 300 + ((i * 137) % 500));
  return {
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
}

/**
 * A few tiny solves: the first MIP solves of a thread pay for compiling the WebAssembly (some
 * 100 ms here), which would otherwise eat the first cycle's budget. A knapsack, with and without
 * a start: the code paths a cycle uses.
 */
export function warmUp(h, now) {
  const warm = knapsack(16);
  for (let i = 0; i < 3; i++) solveMilp(h, i === 0 ? warm : { ...warm, start: new Float64Array(16) }, 1000, now);
}
