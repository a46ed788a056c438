// `fastgpu server/up --policy lp`: the scheduler's placement mode. `default` places one task at a
// time; `lp` starts each cycle with a MILP batch (core/scheduler/lp.ts) solved by HiGHS in a
// thread of its own, started here (it loads asynchronously; the cycles then call it
// synchronously, and a solve never holds the cycle past its budget: solver/highs.ts).
import { DEFAULT_LP_BUDGET_MS } from '../core/placement/lp.js';
import { LpScheduler } from '../core/scheduler/lp.js';
import type { SchedulerPolicy } from '../core/scheduler/types.js';
import { startHighsThreadSolver } from '../solver/highs.js';

export const SERVER_POLICIES = ['default', 'lp'] as const;
export type ServerPolicy = (typeof SERVER_POLICIES)[number];

export interface PlacementOption {
  policy: ServerPolicy;
  /** With `lp`: solver time per cycle, ms (default 200). */
  lpBudgetMs?: number;
}

/**
 * The scheduler policy fields for `opt` (none for `default`), a line for the start-up log, and
 * `close`, which ends what it started (the solver thread) when the server stops.
 */
export async function placementPolicy(opt: PlacementOption | undefined): Promise<{ policy?: Partial<SchedulerPolicy>; note: string; close: () => Promise<void> }> {
  if (!opt || opt.policy === 'default') return { note: 'placement default', close: async () => {} };
  const budgetMs = opt.lpBudgetMs ?? DEFAULT_LP_BUDGET_MS;
  const solver = await startHighsThreadSolver();
  const lp = new LpScheduler({ solver, budgetMs });
  return { close: () => solver.close(), policy: { placement: 'default', batch: lp }, note: `placement lp (a MILP batch each cycle with HiGHS in a solver thread, stopped at ${budgetMs} ms; default places the rest)` };
}
