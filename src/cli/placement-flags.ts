// `--policy` and `--lp-budget` of `fastgpu server` and `fastgpu up`: how the scheduler places tasks.
import type { Command } from 'commander';
import { DEFAULT_LP_BUDGET_MS } from '../core/placement/lp.js';
import { SERVER_POLICIES, type PlacementOption, type ServerPolicy } from '../server/placement-option.js';
import { UsageError } from './flags.js';

export interface RawPlacementFlags {
  policy?: string;
  lpBudget?: string;
}

export function addPlacementFlags(cmd: Command): Command {
  return cmd
    .option('--policy <name>', 'placement: default (one task at a time), or lp (each cycle, a MILP batch of the queue solved with HiGHS; default places the rest)')
    .option('--lp-budget <ms>', `with --policy lp: solver time per cycle, ms (default ${DEFAULT_LP_BUDGET_MS}); none found in time: the cycle falls back to default, counted in /metrics`);
}

/** The placement option of the server, or nothing when no flag was given. */
export function placementFlags(raw: RawPlacementFlags): { placement?: PlacementOption } {
  if (raw.policy === undefined) {
    if (raw.lpBudget !== undefined) throw new UsageError('--lp-budget needs --policy lp');
    return {};
  }
  if (!(SERVER_POLICIES as readonly string[]).includes(raw.policy)) {
    throw new UsageError(`--policy: unknown '${raw.policy}' (the server runs ${SERVER_POLICIES.join(' or ')}; the other placement policies are for \`fastgpu sim\`)`);
  }
  const policy = raw.policy as ServerPolicy;
  if (raw.lpBudget === undefined) return { placement: { policy } };
  if (policy !== 'lp') throw new UsageError('--lp-budget needs --policy lp');
  const ms = Number(raw.lpBudget);
  if (!Number.isFinite(ms) || ms < 1 || ms > 60_000) throw new UsageError(`--lp-budget: expected milliseconds from 1 to 60000, got '${raw.lpBudget}'`);
  return { placement: { policy, lpBudgetMs: ms } };
}
