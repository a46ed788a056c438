// Quota and budget checks for one task about to be admitted. Above its guarantee a tenant
// borrows idle capacity: such a task runs preemptible (its owner's flag notwithstanding), so the
// tenants whose guarantee it borrows can take it back. Above its limit it waits (reason Quota).
import type { PendingReason } from '../types.js';
import { formatMoney, type Micros } from '../pricing/money.js';
import type { Tenant } from './types.js';

export type QuotaVerdict =
  | { verdict: 'ok' }
  | {
      verdict: 'borrowing';
      /** How far above its guarantee the tenant would be with the task admitted. */
      aboveGuaranteeMilli: number;
    }
  | {
      verdict: 'over-limit';
      reason: Extract<PendingReason, 'Quota'>;
      message: string;
      /** The request alone exceeds the limit: it can never run (refuse it at submit). */
      neverFits: boolean;
    };

const gpus = (milli: number): string => `${Number((milli / 1000).toFixed(3))} GPU`;

/**
 * The verdict for a request of `requestMilli` (total GPU milli) from a tenant now holding
 * `currentUsageMilli`.
 * @example quotaVerdict({name: 'a', guaranteeMilli: 2000, limitMilli: 4000, ...}, 1500, 1000) // {verdict: 'borrowing', aboveGuaranteeMilli: 500}
 */
export function quotaVerdict(tenant: Pick<Tenant, 'name' | 'guaranteeMilli' | 'limitMilli'>, currentUsageMilli: number, requestMilli: number): QuotaVerdict {
  const after = currentUsageMilli + requestMilli;
  if (tenant.limitMilli !== null && after > tenant.limitMilli) {
    const neverFits = requestMilli > tenant.limitMilli;
    const message = neverFits
      ? `tenant ${tenant.name}: the request (${gpus(requestMilli)}) is more than its limit of ${gpus(tenant.limitMilli)}`
      : `tenant ${tenant.name} uses ${gpus(currentUsageMilli)} of its ${gpus(tenant.limitMilli)} limit; this task needs ${gpus(requestMilli)} more`;
    return { verdict: 'over-limit', reason: 'Quota', message, neverFits };
  }
  if (after > tenant.guaranteeMilli) return { verdict: 'borrowing', aboveGuaranteeMilli: after - tenant.guaranteeMilli };
  return { verdict: 'ok' };
}

export type BudgetVerdict =
  | { verdict: 'ok'; /** null: no budget. */ left: Micros | null }
  | { verdict: 'exhausted'; reason: Extract<PendingReason, 'Budget'>; message: string };

/**
 * What a budget counts: spend over all time, or in the current calendar month, week (from
 * Monday) or day, in UTC. The pool has one period for every tenant's budget.
 */
export type BudgetPeriod = 'all' | 'month' | 'week' | 'day';
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ['all', 'month', 'week', 'day'];

const DAY_MS = 86_400_000;

/**
 * The start of the budget period holding `now`; null for `all` (it never restarts).
 * @example budgetPeriodStart('month', Date.parse('2026-11-22T03:00:00Z')) // Date.parse('2026-11-01T00:00:00Z')
 */
export function budgetPeriodStart(period: BudgetPeriod, now: number): number | null {
  const d = new Date(now);
  switch (period) {
    case 'all':
      return null;
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    case 'week': {
      const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      return day - ((d.getUTCDay() + 6) % 7) * DAY_MS; // back to Monday
    }
    case 'day':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  }
}

/** When the budget period holding `now` ends (budgets start again); null for `all`. */
export function budgetPeriodEnd(period: BudgetPeriod, now: number): number | null {
  const start = budgetPeriodStart(period, now);
  if (start === null) return null;
  const d = new Date(start);
  if (period === 'month') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return start + (period === 'week' ? 7 : 1) * DAY_MS;
}

const PERIOD_WORDS: Record<Exclude<BudgetPeriod, 'all'>, string> = { month: 'this month', week: 'this week', day: 'today' };

/**
 * Whether a tenant that has spent `spent` (in the current budget period) may start new work.
 * With a period, the message says when the budget starts again.
 */
export function budgetVerdict(tenant: Pick<Tenant, 'name' | 'budget'>, spent: Micros, currency = '', period: BudgetPeriod = 'all', now = 0): BudgetVerdict {
  if (tenant.budget === null) return { verdict: 'ok', left: null };
  if (spent < tenant.budget) return { verdict: 'ok', left: tenant.budget - spent };
  const cur = currency ? ` ${currency}` : '';
  const end = budgetPeriodEnd(period, now);
  const when = period === 'all' || end === null ? '' : ` ${PERIOD_WORDS[period]} (it starts again at ${new Date(end).toISOString()})`;
  return {
    verdict: 'exhausted',
    reason: 'Budget',
    message: `tenant ${tenant.name} has spent ${formatMoney(spent)}${cur} of its ${formatMoney(tenant.budget)}${cur} budget${when}`,
  };
}

/**
 * What happens to a tenant's running tasks once its budget is exhausted: `continue` (default)
 * lets them finish; `stop` cancels them. New tasks are refused (reason Budget) either way.
 */
export type BudgetExhaustedPolicy = 'continue' | 'stop';
export const DEFAULT_BUDGET_EXHAUSTED_POLICY: BudgetExhaustedPolicy = 'continue';

/** The running tasks to stop for exhausted budgets under `policy` (none under `continue`). */
export function tasksToStopForBudget<T extends { tenant: string }>(
  policy: BudgetExhaustedPolicy,
  running: readonly T[],
  tenants: ReadonlyMap<string, Pick<Tenant, 'name' | 'budget'>>,
  spentByTenant: ReadonlyMap<string, Micros>,
): T[] {
  if (policy === 'continue') return [];
  return running.filter((t) => {
    const tenant = tenants.get(t.tenant);
    return tenant !== undefined && budgetVerdict(tenant, spentByTenant.get(t.tenant) ?? 0n).verdict === 'exhausted';
  });
}
