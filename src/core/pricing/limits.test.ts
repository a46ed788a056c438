// Amount maxima (issue 9 §4): every amount is refused above its documented maximum, and the
// ledger saturates instead of growing past what the store's 64-bit integers keep.
import { describe, expect, it } from 'vitest';
import { compileTenant } from '../tenancy/parse.js';
import { closeEntry, ledgerTotals, openEntry, settleEntry, spendByTenant, type PricingContext } from './ledger.js';
import { MAX_AMOUNT_MICROS, MAX_LEDGER_MICROS, MAX_PRICE_MICROS, parseMoney } from './money.js';
import { compilePriceBook, compilePromotion } from './parse.js';

const YEAR = 365 * 24 * 3_600_000;

describe('amount maxima', () => {
  it('prices, fixed discounts, budgets: the maximum is accepted, one micro-unit more is a 400 naming the field', () => {
    expect(compilePriceBook({ prices: { H100: '1000000' } }).prices.get('H100-80GB')).toBe(MAX_PRICE_MICROS);
    expect(() => compilePriceBook({ prices: { H100: '1000000.000001' } })).toThrow(/priceBook\.prices\.H100.*above the maximum 1000000\.00/);
    expect(() => compilePriceBook({ prices: { H100: '99999999999999999999' } })).toThrow(/above the maximum/);
    expect(() => compilePriceBook({ default: 99999999999999999999 })).toThrow(/default.*above the maximum/);
    expect(() => compilePromotion({ name: 'p', discount: '99999999999999999999/h', from: '2025-01-01', to: '2025-02-01' })).toThrow(/discount.*above the maximum/);
    expect(() => compilePromotion({ name: 'p', discount: '10%', budget: '99999999999999999999', from: '2025-01-01', to: '2025-02-01' })).toThrow(/budget.*above the maximum/);
    expect(() => compileTenant({ name: 't', budget: '99999999999999999999' })).toThrow(/budget.*above the maximum 1000000000000\.00/);
    expect(compileTenant({ name: 't', budget: '1000000000000' }).budget).toBe(MAX_AMOUNT_MICROS);
    expect(parseMoney('2.50', 'x')).toBe(2_500_000n);
  });

  it('the ledger saturates and never throws: the highest price on many GPUs for centuries', () => {
    const book = compilePriceBook({ default: '1000000' });
    const promo = compilePromotion({ name: 'half', discount: '50%', from: '2025-01-01', to: '3025-01-01' });
    const ctx: PricingContext = { book, promos: [promo], promoSpent: new Map() };
    const t0 = Date.UTC(2025, 0, 1);
    let e = openEntry({ tenant: 'a', taskId: 't1', attempt: 1, gpuModel: 'H100-80GB', gpuMilli: 1000, gpuCount: 1024, cpuMilli: 0, memoryMiB: 0 }, t0);
    let spent = ctx.promoSpent;
    for (let y = 1; y <= 500; y += 50) {
      const s = settleEntry(e, t0 + y * YEAR, { ...ctx, promoSpent: spent });
      e = s.entry;
      spent = s.promoSpent;
    }
    const closed = closeEntry(e, t0 + 600 * YEAR, { ...ctx, promoSpent: spent });
    for (const v of [closed.entry.listAmount, closed.entry.discountAmount, closed.entry.chargedAmount, ...closed.promoSpent.values()]) {
      expect(v).toBeGreaterThanOrEqual(0n);
      expect(v).toBeLessThanOrEqual(MAX_LEDGER_MICROS);
    }
    expect(closed.entry.listAmount).toBe(MAX_LEDGER_MICROS);
    const totals = ledgerTotals([closed.entry, { ...closed.entry, taskId: 't2' }, { ...closed.entry, taskId: 't3' }]);
    expect(totals.listAmount).toBe(MAX_LEDGER_MICROS);
    expect(spendByTenant([closed.entry, { ...closed.entry, taskId: 't2' }]).get('a')).toBeLessThanOrEqual(MAX_LEDGER_MICROS);
  });
});
