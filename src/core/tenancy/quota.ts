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

/** Whether a tenant that has spent `spent` may start new work. */
export function budgetVerdict(tenant: Pick<Tenant, 'name' | 'budget'>, spent: Micros, currency = ''): BudgetVerdict {
  if (tenant.budget === null) return { verdict: 'ok', left: null };
  if (spent < tenant.budget) return { verdict: 'ok', left: tenant.budget - spent };
  const cur = currency ? ` ${currency}` : '';
  return {
    verdict: 'exhausted',
    reason: 'Budget',
    message: `tenant ${tenant.name} has spent ${formatMoney(spent)}${cur} of its ${formatMoney(tenant.budget)}${cur} budget`,
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
