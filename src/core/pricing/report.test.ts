import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMoney } from './money.js';
import { compilePriceBook, compilePromotion } from './parse.js';
import { priceSegments } from './price.js';
import { chargedWithin, usageReport, usageReportToJson } from './report.js';
import type { UsageSegment } from './types.js';

const H = 3_600_000;
const MIN = 60_000;
const T0 = Date.UTC(2025, 2, 1);
const at = (hh: number, mm = 0): number => T0 + hh * H + mm * MIN;
const book = compilePriceBook({ currency: 'USD', default: '1.00', prices: { H100: '2.50', A100: '1.60' } });
const spring = compilePromotion({ name: 'spring', discount: '30%', from: '2025-03-01T10:00Z', to: '2025-03-01T12:00Z' });

const segA: UsageSegment = { tenant: 'a', taskId: 't1', attempt: 1, gpuModel: 'H100', gpuMilli: 1000, gpuCount: 1, from: at(9, 30), to: at(12, 45) };
const segB: UsageSegment = { tenant: 'b', taskId: 't2', attempt: 1, gpuModel: 'A100', gpuMilli: 500, gpuCount: 1, from: at(11), to: at(13) };
const { priced } = priceSegments([segA, segB], book, [spring], new Map());

const cents = (r: { listAmount: bigint; discountAmount: bigint; chargedAmount: bigint }): string[] =>
  [r.listAmount, r.discountAmount, r.chargedAmount].map((m) => formatMoney(m));

describe('usageReport', () => {
  it('sums everything without a period', () => {
    const r = usageReport(priced);
    expect(r.rows.map((x) => [x.tenant, x.taskId, x.gpuModel, x.gpuSeconds, ...cents(x), x.promotions])).toEqual([
      ['a', 't1', 'H100-80GB', 3.25 * 3600, '8.13', '1.50', '6.63', ['spring']],
      ['b', 't2', 'A100-80GB', 0.5 * 2 * 3600, '1.60', '0.24', '1.36', ['spring']],
    ]);
    expect(cents(r.totals)).toEqual(['9.73', '1.74', '7.99']); // 8.125 + 1.60 = 9.725 → 9.73
  });

  it('clips to a period across a promotion boundary (hand computed to the cent)', () => {
    // [10:00, 12:30): a: 10-12 under spring (5.00 − 1.50) + 12:00-12:30 at list (1.25)
    //                 b: 11-12 under spring (0.80 − 0.24) + 12:00-12:30 at list (0.40)
    const r = usageReport(priced, { from: at(10), to: at(12, 30) });
    expect(r.rows.map((x) => [x.tenant, x.gpuSeconds, ...cents(x)])).toEqual([
      ['a', 2.5 * 3600, '6.25', '1.50', '4.75'],
      ['b', 0.5 * 1.5 * 3600, '1.20', '0.24', '0.96'],
    ]);
    expect(cents(r.totals)).toEqual(['7.45', '1.74', '5.71']);
    expect(r.totals.gpuSeconds).toBe(2.5 * 3600 + 0.75 * 3600);
  });

  it('filters by tenant and leaves out rows with no time in the period', () => {
    expect(usageReport(priced, { tenant: 'b' }).rows.map((x) => x.taskId)).toEqual(['t2']);
    expect(usageReport(priced, { from: at(9), to: at(10) }).rows.map((x) => x.taskId)).toEqual(['t1']);
    const none = usageReport(priced, { from: at(20), to: at(21) });
    expect(none.rows).toEqual([]);
    expect(none.totals.chargedAmount).toBe(0n);
  });

  it('promotions list only those that applied within the period', () => {
    expect(usageReport(priced, { from: at(12, 30), to: at(13) }).rows.every((r) => r.promotions.length === 0)).toBe(true);
  });

  it('reports of adjacent periods add up exactly to the report of their union', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 14 * H }), fc.integer({ min: 0, max: 14 * H }), fc.integer({ min: 0, max: 14 * H }), (x, y, z) => {
        const [lo, mid, hi] = [x, y, z].sort((a, b) => a - b).map((v) => T0 + v) as [number, number, number];
        const whole = usageReport(priced, { from: lo, to: hi });
        const left = usageReport(priced, { from: lo, to: mid });
        const right = usageReport(priced, { from: mid, to: hi });
        for (const k of ['listAmount', 'discountAmount', 'chargedAmount', 'gpuMilliMs'] as const) {
          expect(left.totals[k] + right.totals[k]).toBe(whole.totals[k]);
        }
        for (const row of [...left.rows, ...right.rows, ...whole.rows]) {
          expect(row.chargedAmount).toBe(row.listAmount - row.discountAmount);
          expect(row.discountAmount >= 0n && row.chargedAmount >= 0n).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('JSON form: amounts to the cent plus exact micro strings, ISO period', () => {
    const j = usageReportToJson(usageReport(priced, { from: at(10), to: at(12, 30) }), 'USD');
    expect(j.from).toBe('2025-03-01T10:00:00.000Z');
    expect(j.rows[0]).toMatchObject({ tenant: 'a', taskId: 't1', gpuModel: 'H100-80GB', listAmount: 6.25, discountAmount: 1.5, chargedAmount: 4.75, chargedMicros: '4750000', promotions: ['spring'] });
    expect(j.totals).toMatchObject({ listAmount: 7.45, discountAmount: 1.74, chargedAmount: 5.71 });
    expect(() => JSON.stringify(j)).not.toThrow();
  });
});

describe('chargedWithin', () => {
  it('adds up, line by line, to the charged total of the usage report for the same period', () => {
    for (const [from, to] of [
      [at(10, 15), Infinity],
      [at(9), at(11, 7)],
      [-Infinity, Infinity],
      [at(12, 45), Infinity],
      [at(14), Infinity],
    ] as const) {
      const byTenant = new Map<string, bigint>();
      for (const p of priced) for (const l of p.lines) byTenant.set(p.segment.tenant, (byTenant.get(p.segment.tenant) ?? 0n) + chargedWithin(l, from, to));
      const report = usageReport(priced, { ...(Number.isFinite(from) ? { from } : {}), ...(Number.isFinite(to) ? { to } : {}) });
      for (const tenant of ['a', 'b']) {
        const want = report.rows.filter((r) => r.tenant === tenant).reduce((s, r) => s + r.chargedAmount, 0n);
        expect(byTenant.get(tenant), `${tenant} over [${from}, ${to})`).toBe(want);
      }
    }
  });
});
