// `--policy lp`: a batch step of the scheduling cycle. Before the queue walk, the pending tasks
// that fit now are assigned together by a MILP (placement/lp.ts) on the cycle's capacity; what it
// does not place (and everything when the solver runs out of time with no incumbent) is then
// walked by the ordinary cycle with `default` placement, which also gives every waiting task its
// reason and keeps EASY backfill for the head. The step is an object the caller owns: it keeps the
// counters the server exports and the simulator prints (no module state).
import { lpAssign, DEFAULT_LP_BUDGET_MS, DEFAULT_LP_CANDIDATES, type LpBatchStats, type LpItem } from '../placement/lp.js';
import type { MilpSolver } from '../placement/lp-solver.js';
import type { Task } from '../types.js';
import type { Shape } from './requests.js';
import type { BatchInput, BatchPlacement, BatchPlacer } from './types.js';

export interface LpSchedulerOptions {
  solver: MilpSolver;
  /** Solver time per cycle, ms (default 200). */
  budgetMs?: number;
  /** Candidate nodes per request shape (default 4). */
  candidates?: number;
  /** At most this many pending tasks (queue order) go into one cycle's model (default 1000). */
  maxBatch?: number;
}

export interface LpCounters {
  /** Cycles that ran the MILP. */
  cycles: number;
  /** Cycles whose MILP gave no incumbent in time (or failed): the queue went to `default`. */
  fallbacks: number;
  /** Cycles that stopped on the budget but used the incumbent found. */
  limited: number;
  /** Cycles left to `default` because tenants have GPU limits or preemption claims are open. */
  skipped: number;
  /** Tasks the batch placed (by the MILP, or one at a time for what a tier's MILP left). */
  placed: number;
  /** Solver time, ms: total and the largest of one cycle. */
  solveMs: number;
  maxSolveMs: number;
}

export class LpScheduler implements BatchPlacer {
  readonly counts: LpCounters = { cycles: 0, fallbacks: 0, limited: 0, skipped: 0, placed: 0, solveMs: 0, maxSolveMs: 0 };
  /** The last cycle's batch, for logs and the bench. */
  last: LpBatchStats | null = null;
  private readonly budgetMs: number;
  private readonly candidates: number;
  private readonly maxBatch: number;

  constructor(private readonly opts: LpSchedulerOptions) {
    this.budgetMs = opts.budgetMs ?? DEFAULT_LP_BUDGET_MS;
    this.candidates = opts.candidates ?? DEFAULT_LP_CANDIDATES;
    this.maxBatch = opts.maxBatch ?? 1000;
    if (!(this.budgetMs > 0)) throw new Error(`lp: the time budget must be > 0 ms, got ${this.budgetMs}`);
    if (!Number.isInteger(this.candidates) || this.candidates < 1) throw new Error(`lp: candidates must be a whole number ≥ 1, got ${this.candidates}`);
  }

  place(input: BatchInput): BatchPlacement[] {
    const ten = input.snapshot.tenancy;
    // GPU limits and open preemption claims are judged task by task by the cycle's walk (the
    // batch would place past a limit, or into room kept for a preemptor): leave those cycles to it.
    if (ten && ((ten.claims?.size ?? 0) > 0 || ten.tenants.some((t) => t.limitMilli !== null))) {
      this.counts.skipped++;
      return [];
    }
    const entries = this.entries(input);
    if (entries.length === 0) return [];
    const items: LpItem[] = entries.map((e) => ({ req: e.shapes[0]!.req, key: e.shapes[0]!.key, size: e.tasks.length, gang: e.tasks.length > 1, priority: e.tasks[0]!.spec.priority }));
    const res = lpAssign(input.cluster, items, this.opts.solver, { budgetMs: this.budgetMs, candidates: this.candidates, fill: input.choose });
    const c = this.counts;
    this.last = res.stats;
    c.cycles++;
    c.solveMs += res.stats.solveMs;
    c.maxSolveMs = Math.max(c.maxSolveMs, res.stats.solveMs);
    if (res.stats.fellBack) c.fallbacks++;
    else if (res.stats.status === 'limit') c.limited++;
    const out: BatchPlacement[] = [];
    entries.forEach((e, i) => {
      const ch = res.choices[i];
      if (ch) out.push({ tasks: e.tasks, shapes: e.shapes, choices: ch });
    });
    c.placed += res.stats.placed + res.stats.filled;
    return out;
  }

  /** The queue's first `maxBatch` tasks as entries: single tasks, and whole gangs (all members pending, one shape). */
  private entries(input: BatchInput): { tasks: Task[]; shapes: Shape[] }[] {
    const blocked = input.snapshot.tenancy?.blocked;
    const out: { tasks: Task[]; shapes: Shape[] }[] = [];
    const gangs = new Map<string, Task[]>();
    let n = 0;
    for (const t of input.queue) {
      if (n >= this.maxBatch) break;
      if (blocked?.has(t.spec.tenant)) continue;
      n++;
      if (t.gangId !== null && t.spec.gang > 1) {
        let g = gangs.get(t.gangId);
        if (!g) gangs.set(t.gangId, (g = []));
        g.push(t);
        continue;
      }
      out.push({ tasks: [t], shapes: [input.shape(t)] });
    }
    for (const g of gangs.values()) {
      if (g.length !== g[0]!.spec.gang) continue; // members still active or beyond the batch: the walk decides
      g.sort((a, b) => a.gangIndex - b.gangIndex || (a.id < b.id ? -1 : 1));
      const shapes = g.map((t) => input.shape(t));
      if (shapes.some((s) => s !== shapes[0])) continue;
      out.push({ tasks: g, shapes });
    }
    return out;
  }
}
