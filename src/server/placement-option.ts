// `fastgpu server/up --policy lp`: the scheduler's placement mode. `default` places one task at a
// time; `lp` starts each cycle with a MILP batch (core/scheduler/lp.ts) solved by HiGHS, loaded
// here once at start (it loads asynchronously; the cycles then call it synchronously).
import { DEFAULT_LP_BUDGET_MS } from '../core/placement/lp.js';
import { LpScheduler } from '../core/scheduler/lp.js';
import type { SchedulerPolicy } from '../core/scheduler/types.js';
import { loadHighsSolver } from '../solver/highs.js';

export const SERVER_POLICIES = ['default', 'lp'] as const;
export type ServerPolicy = (typeof SERVER_POLICIES)[number];

export interface PlacementOption {
  policy: ServerPolicy;
  /** With `lp`: solver time per cycle, ms (default 200). */
  lpBudgetMs?: number;
}

/** The scheduler policy fields for `opt` (none for `default`), and a line for the start-up log. */
export async function placementPolicy(opt: PlacementOption | undefined): Promise<{ policy?: Partial<SchedulerPolicy>; note: string }> {
  if (!opt || opt.policy === 'default') return { note: 'placement default' };
  const budgetMs = opt.lpBudgetMs ?? DEFAULT_LP_BUDGET_MS;
  const lp = new LpScheduler({ solver: await loadHighsSolver(), budgetMs });
  return { policy: { placement: 'default', batch: lp }, note: `placement lp (a MILP batch each cycle with HiGHS, ${budgetMs} ms budget; default places the rest)` };
}
