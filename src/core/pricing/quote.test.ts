import { describe, expect, it } from 'vitest';
import { formatMoney } from './money.js';
import { compilePriceBook, compilePromotion } from './parse.js';
import { promotionStatus } from './price.js';
import { quote } from './quote.js';

const H = 3_600_000;
const T0 = Date.UTC(2025, 2, 1);
const at = (hh: number, day = 0): number => T0 + day * 24 * H + hh * H;
const book = compilePriceBook({ currency: 'EUR', default: '1.00', prices: { H100: '2.50' } });
const spring = compilePromotion({ name: 'spring', discount: '30%', from: '2025-03-01T10:00Z', to: '2025-03-01T12:00Z' });
const night = compilePromotion({ name: 'night', discount: '1.00/h', from: '2025-03-01', to: '2025-04-01', hours: '22-06', budget: '50' });
const req = { gpuModel: 'H100', gpuMilli: 500, gpuCount: 1, tenant: 'a' };

describe('quote', () => {
  it('list price per hour, the active promotion and when it ends, and an estimate crossing its end', () => {
    const q = quote(req, 2 * H, at(11), book, [spring]);
    expect(q.currency).toBe('EUR');
    expect(q.gpuModel).toBe('H100-80GB');
    expect(formatMoney(q.unitPrice)).toBe('2.50');
    expect(formatMoney(q.listPerHour)).toBe('1.25');
    expect(q.promotion).toMatchObject({ name: 'spring', endsAt: at(12), budgetLeft: null });
    expect(formatMoney(q.promotion!.pricePerHour, 6)).toBe('0.875000');
    // 11-12 under spring: 1.25 − 0.375; 12-13 at list: 1.25.
    expect(q.estimate).toMatchObject({ timeLimitMs: 2 * H, listAmount: 2_500_000n, discountAmount: 375_000n, chargedAmount: 2_125_000n });
    expect(q.estimate!.lines.map((l) => l.promotion ?? '-')).toEqual(['spring', '-']);
  });

  it('a night promotion ends at the end of its daily hours, with its budget shown', () => {
    const q = quote(req, undefined, at(23), book, [night], new Map([['night', 10_000_000n]]));
    expect(q.promotion).toMatchObject({ name: 'night', endsAt: at(6, 1), budgetLeft: 40_000_000n });
    expect(formatMoney(q.promotion!.pricePerHour)).toBe('0.50'); // 1.00/h × 0.5
    expect(q.estimate).toBeNull();
  });

  it('no promotion now, but one starting within the time limit shows in the estimate', () => {
    const q = quote(req, 2 * H, at(21), book, [night]);
    expect(q.promotion).toBeNull();
    // 21-22 at 1.25, 22-23 at 0.50
    expect(formatMoney(q.estimate!.chargedAmount)).toBe('1.75');
  });

  it('an exhausted budget is not quoted as active', () => {
    const q = quote(req, H, at(23), book, [night], new Map([['night', 50_000_000n]]));
    expect(q.promotion).toBeNull();
    expect(q.estimate!.discountAmount).toBe(0n);
  });
});

describe('promotionStatus', () => {
  it('scheduled, active, off-hours, exhausted, ended', () => {
    expect(promotionStatus(night, Date.UTC(2025, 1, 1))).toBe('scheduled');
    expect(promotionStatus(night, at(23))).toBe('active');
    expect(promotionStatus(night, at(12))).toBe('off-hours');
    expect(promotionStatus(night, at(23), new Map([['night', 50_000_000n]]))).toBe('exhausted');
    expect(promotionStatus(night, Date.UTC(2025, 3, 1))).toBe('ended');
  });
});
