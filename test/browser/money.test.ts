// Usage amounts as the dashboard shows them: precise enough for the smallest, and adding up.
import { describe, expect, it } from 'vitest';
import { moneyDecimals, shownAmounts } from '../../web/src/format.js';

describe('usage amounts', () => {
  it('shows sub-cent amounts with the decimals they need', () => {
    expect(moneyDecimals([12.5, 3])).toBe(2);
    expect(moneyDecimals([0.5, 0])).toBe(2);
    expect(moneyDecimals([0.0166, 0.0083])).toBe(4);
    expect(moneyDecimals([])).toBe(2);
  });

  it('list − discount = charged as shown (the issue: list 0.02, discount 0.00, charged 0.01)', () => {
    // 0.016 list, 0.0064 charged: rounded one by one to cents they were 0.02, 0.01 and 0.01.
    const s = shownAmounts(0.016, 0.0064, 2);
    expect(s).toEqual({ list: 0.02, discount: 0.01, charged: 0.01 });
    expect(Math.round((s.list - s.discount) * 100) / 100).toBe(s.charged);
    const fine = shownAmounts(0.016, 0.0064, moneyDecimals([0.016, 0.0064]));
    expect(fine).toEqual({ list: 0.016, discount: 0.0096, charged: 0.0064 });
  });
});
