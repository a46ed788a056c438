import { describe, expect, it } from 'vitest';
import { FastGpuError } from '../errors.js';
import { compileTenant, parseGpuAmount, parseRole, patchTenant } from './parse.js';
import { budgetPeriodEnd, budgetPeriodStart, budgetVerdict, quotaVerdict, tasksToStopForBudget } from './quota.js';
import type { Tenant } from './types.js';

const t: Tenant = { name: 'a', guaranteeMilli: 2000, limitMilli: 4000, weight: 1, budget: 10_000_000n };

describe('quotaVerdict', () => {
  it('ok within the guarantee, borrowing above it, over-limit past the limit', () => {
    expect(quotaVerdict(t, 0, 2000)).toEqual({ verdict: 'ok' });
    expect(quotaVerdict(t, 1500, 1000)).toEqual({ verdict: 'borrowing', aboveGuaranteeMilli: 500 });
    expect(quotaVerdict(t, 3000, 1000)).toEqual({ verdict: 'borrowing', aboveGuaranteeMilli: 2000 });
    const over = quotaVerdict(t, 3500, 1000);
    expect(over).toEqual({ verdict: 'over-limit', reason: 'Quota', neverFits: false, message: 'tenant a uses 3.5 GPU of its 4 GPU limit; this task needs 1 GPU more' });
  });

  it('a request larger than the limit can never fit', () => {
    expect(quotaVerdict(t, 0, 4500)).toMatchObject({ verdict: 'over-limit', neverFits: true, message: 'tenant a: the request (4.5 GPU) is more than its limit of 4 GPU' });
  });

  it('no limit: never over-limit; no guarantee: any use borrows', () => {
    const open: Tenant = { ...t, guaranteeMilli: 0, limitMilli: null };
    expect(quotaVerdict(open, 1_000_000, 8000)).toEqual({ verdict: 'borrowing', aboveGuaranteeMilli: 1_008_000 });
  });
});

describe('budgets', () => {
  it('ok while something is left, exhausted from the budget on', () => {
    expect(budgetVerdict(t, 9_999_999n)).toEqual({ verdict: 'ok', left: 1n });
    expect(budgetVerdict(t, 10_000_000n, 'USD')).toEqual({ verdict: 'exhausted', reason: 'Budget', message: 'tenant a has spent 10.00 USD of its 10.00 USD budget' });
    expect(budgetVerdict({ name: 'x', budget: null }, 10n ** 18n)).toEqual({ verdict: 'ok', left: null });
  });

  it('running tasks continue by default, and are listed to stop under `stop`', () => {
    const running = [{ id: 1, tenant: 'a' }, { id: 2, tenant: 'b' }];
    const tenants = new Map([['a', t], ['b', { ...t, name: 'b' }]]);
    const spent = new Map([['a', 10_000_000n], ['b', 1n]]);
    expect(tasksToStopForBudget('continue', running, tenants, spent)).toEqual([]);
    expect(tasksToStopForBudget('stop', running, tenants, spent)).toEqual([{ id: 1, tenant: 'a' }]);
  });
});

describe('tenant parsing', () => {
  const field = (fn: () => unknown): string | undefined => {
    try {
      fn();
    } catch (e) {
      return (e as FastGpuError).field;
    }
    return 'no error';
  };

  it('defaults and GPU amounts', () => {
    expect(compileTenant({ name: 'research' })).toEqual({ name: 'research', guaranteeMilli: 0, limitMilli: null, weight: 1, budget: null, defaultTimeLimitMs: null });
    expect(compileTenant({ name: 'r', guarantee: '1.5', limit: 4, weight: '2', budget: '500', defaultTimeLimit: '1h30m' })).toEqual({
      name: 'r',
      guaranteeMilli: 1500,
      limitMilli: 4000,
      weight: 2,
      budget: 500_000_000n,
      defaultTimeLimitMs: 5_400_000,
    });
    // A bare number is seconds, as a task's timeLimit; null clears it (the pool's default).
    expect(compileTenant({ name: 'r', defaultTimeLimit: 90 }).defaultTimeLimitMs).toBe(90_000);
    expect(compileTenant({ name: 'r', defaultTimeLimit: null }).defaultTimeLimitMs).toBeNull();
    expect(parseGpuAmount('500m', 'g')).toBe(500);
    expect(parseGpuAmount(0.25, 'g')).toBe(250);
    expect(parseRole('Viewer')).toBe('viewer');
  });

  it('errors name the field', () => {
    expect(field(() => compileTenant({ name: 'r', guarantee: 2, limit: 1 }))).toBe('tenant.limit');
    expect(field(() => compileTenant({ name: 'r', guarantee: 'lots' }))).toBe('tenant.guarantee');
    expect(field(() => compileTenant({ name: 'r', guarantee: '0.0001' }))).toBe('tenant.guarantee');
    expect(field(() => compileTenant({ name: 'r', weight: 0 }))).toBe('tenant.weight');
    expect(field(() => compileTenant({ name: 'r', budget: 'x' }))).toBe('tenant.budget');
    expect(field(() => compileTenant({ name: 'no spaces' }))).toBe('tenant.name');
    expect(field(() => compileTenant({ name: 'r', colour: 1 }))).toBe('tenant.colour');
    expect(field(() => compileTenant({ name: 'r', defaultTimeLimit: 'soon' }))).toBe('tenant.defaultTimeLimit');
    expect(field(() => compileTenant({ name: 'r', defaultTimeLimit: 0 }))).toBe('tenant.defaultTimeLimit');
    expect(field(() => compileTenant({ name: 'r', defaultTimeLimit: true }))).toBe('tenant.defaultTimeLimit');
    expect(field(() => parseRole('owner'))).toBe('role');
  });
});

describe('tenant updates', () => {
  const research = compileTenant({ name: 'research', guarantee: 2, limit: 4, weight: 2, budget: '500.123456', defaultTimeLimit: '2h' });

  it('change only the fields given; null resets one to its default', () => {
    expect(patchTenant(research, { defaultTimeLimit: '30m' })).toEqual({ ...research, defaultTimeLimitMs: 1_800_000 });
    expect(patchTenant(research, { defaultTimeLimit: null })).toEqual({ ...research, defaultTimeLimitMs: null });
    expect(patchTenant(research, { limit: null, budget: '1' })).toEqual({ ...research, limitMilli: null, budget: 1_000_000n });
    expect(patchTenant(research, {})).toEqual(research);
  });

  it('check the result as a whole, and name the field', () => {
    const field = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return e instanceof FastGpuError ? e.field : 'not a FastGpuError';
      }
      return 'no error';
    };
    expect(field(() => patchTenant(research, { limit: 1 }))).toBe('tenant.limit');
    expect(field(() => patchTenant(research, { guarantee: 5 }))).toBe('tenant.guarantee');
    expect(field(() => patchTenant(research, { defaultTimeLimit: '-1h' }))).toBe('tenant.defaultTimeLimit');
    expect(field(() => patchTenant(research, { name: 'other' }))).toBe('tenant.name');
  });
});

describe('budget periods (UTC)', () => {
  const at = (iso: string): number => Date.parse(iso);

  it('start at the first of the month, on Monday, at midnight; end where the next starts', () => {
    const now = at('2026-11-22T03:04:05.678Z'); // a Sunday
    expect(budgetPeriodStart('all', now)).toBeNull();
    expect(budgetPeriodEnd('all', now)).toBeNull();
    expect(budgetPeriodStart('month', now)).toBe(at('2026-11-01T00:00:00Z'));
    expect(budgetPeriodEnd('month', now)).toBe(at('2026-12-01T00:00:00Z'));
    expect(budgetPeriodStart('week', now)).toBe(at('2026-11-16T00:00:00Z'));
    expect(budgetPeriodEnd('week', now)).toBe(at('2026-11-23T00:00:00Z'));
    expect(budgetPeriodStart('day', now)).toBe(at('2026-11-22T00:00:00Z'));
    expect(budgetPeriodEnd('day', now)).toBe(at('2026-11-23T00:00:00Z'));
  });

  it('handle their edges: the first instant belongs to the new period; December rolls into January; Monday is its own week', () => {
    expect(budgetPeriodStart('month', at('2026-12-01T00:00:00Z'))).toBe(at('2026-12-01T00:00:00Z'));
    expect(budgetPeriodStart('month', at('2026-11-30T23:59:59.999Z'))).toBe(at('2026-11-01T00:00:00Z'));
    expect(budgetPeriodEnd('month', at('2026-12-15T00:00:00Z'))).toBe(at('2027-01-01T00:00:00Z'));
    expect(budgetPeriodEnd('month', at('2028-02-10T00:00:00Z'))).toBe(at('2028-03-01T00:00:00Z')); // leap year
    expect(budgetPeriodStart('week', at('2026-11-23T00:00:00Z'))).toBe(at('2026-11-23T00:00:00Z'));
    expect(budgetPeriodStart('week', at('2026-11-23T23:00:00Z'))).toBe(at('2026-11-23T00:00:00Z'));
  });

  it('an exhausted periodic budget says when it starts again', () => {
    expect(budgetVerdict(t, 10_000_000n, 'USD', 'month', at('2026-11-22T03:00:00Z'))).toEqual({
      verdict: 'exhausted',
      reason: 'Budget',
      message: 'tenant a has spent 10.00 USD of its 10.00 USD budget this month (it starts again at 2026-12-01T00:00:00.000Z)',
    });
    expect(budgetVerdict(t, 10_000_000n, '', 'day', at('2026-11-22T03:00:00Z'))).toMatchObject({ message: 'tenant a has spent 10.00 of its 10.00 budget today (it starts again at 2026-11-23T00:00:00.000Z)' });
  });
});
