// /metrics for `--policy lp`: MILP cycles, fallbacks to default (no incumbent within the budget),
// cycles stopped on the budget, tasks the batch placed, and solver time.
import { Counter, Gauge, type Registry } from 'prom-client';
import { LpScheduler } from '../core/scheduler/lp.js';
import type { BatchPlacer } from '../core/scheduler/types.js';

/** Registers the lp counters when the scheduler runs an `LpScheduler` (nothing otherwise). */
export function registerLpMetrics(registry: Registry, batch: BatchPlacer | undefined): void {
  if (!(batch instanceof LpScheduler)) return;
  const c = batch.counts;
  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  counter('fastgpu_lp_cycles_total', 'Scheduling cycles that solved an lp MILP batch', () => c.cycles);
  counter('fastgpu_lp_fallbacks_total', 'lp cycles whose solver found no incumbent within the budget (or failed): the queue was placed by default', () => c.fallbacks);
  counter('fastgpu_lp_budget_stops_total', 'lp cycles stopped on the time budget that used the incumbent found', () => c.limited);
  counter('fastgpu_lp_skipped_total', 'Cycles left to default because tenants have GPU limits or preemption claims are open', () => c.skipped);
  counter('fastgpu_lp_placed_total', 'Tasks the lp batch placed', () => c.placed);
  counter('fastgpu_lp_solve_seconds_total', 'Solver time of the lp batches', () => c.solveMs / 1000);
  new Gauge({
    name: 'fastgpu_lp_solve_seconds_max',
    help: 'Longest solver time of one lp cycle since start',
    registers: [registry],
    collect() {
      this.set(c.maxSolveMs / 1000);
    },
  });
}
