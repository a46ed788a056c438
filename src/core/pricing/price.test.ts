import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMoney } from './money.js';
import { compilePriceBook, compilePromotion } from './parse.js';
import { activePromotion, priceSegments, priceUsage, unitPriceOf } from './price.js';
import type { Promotion, UsageSegment } from './types.js';

const H = 3_600_000;
const MIN = 60_000;
const T0 = Date.UTC(2025, 2, 1); // 2025-03-01T00:00Z
const at = (hh: number, mm = 0, day = 0): number => T0 + day * 24 * H + hh * H + mm * MIN;

const book = compilePriceBook({ currency: 'USD', default: '1.00', prices: { H100: '2.50', A100: '1.60' } });

function usage(over: Partial<UsageSegment> = {}): UsageSegment {
  return { tenant: 'a', taskId: 't1', attempt: 1, gpuModel: 'H100', gpuMilli: 1000, gpuCount: 1, from: at(0), to: at(1), ...over };
}

function promo(p: Record<string, unknown>): Promotion {
  return compilePromotion({ from: '2025-01-01', to: '2026-01-01', ...p });
}

/** Lines as [from hh:mm, to hh:mm, list, discount, charged, promotion] in cents-level strings. */
function show(u: ReturnType<typeof priceUsage>): [string, string, string, string, string, string][] {
  const hm = (t: number): string => new Date(t).toISOString().slice(11, 16);
  return u.lines.map((l) => [hm(l.from), hm(l.to), formatMoney(l.listAmount, 6), formatMoney(l.discountAmount, 6), formatMoney(l.chargedAmount, 6), l.promotion ?? '-']);
}

describe('price book', () => {
  it('looks up by catalogue name and alias, falling back to the default', () => {
    expect(unitPriceOf(book, 'H100')).toBe(2_500_000n);
    expect(unitPriceOf(book, 'H100-80GB')).toBe(2_500_000n);
    expect(unitPriceOf(book, 'nvidia a100-sxm4-80gb')).toBe(1_600_000n);
    expect(unitPriceOf(book, 'T4')).toBe(1_000_000n);
    expect(unitPriceOf(book, 'SomethingElse')).toBe(1_000_000n);
  });

  it('charges a whole GPU for an hour its price', () => {
    const p = priceUsage(usage(), book, [], new Map());
    expect(p.listAmount).toBe(2_500_000n);
    expect(p.chargedAmount).toBe(2_500_000n);
    expect(p.gpuModel).toBe('H100-80GB');
  });

  it('a fraction pays its fraction: 0.3 of an H100 for 17 minutes = 0.2125', () => {
    const p = priceUsage(usage({ gpuMilli: 300, from: at(0), to: at(0, 17) }), book, [], new Map());
    expect(p.listAmount).toBe(212_500n); // 2.50 × 0.3 × 17/60
  });

  it('multiplies by the GPU count: 2 × A100 for 90 minutes = 4.80', () => {
    const p = priceUsage(usage({ gpuModel: 'A100', gpuCount: 2, to: at(1, 30) }), book, [], new Map());
    expect(p.listAmount).toBe(4_800_000n);
  });

  it('rounds half-up to the micro-unit: 1 ms of 1 milli-GPU at 2.50 is 0', () => {
    const p = priceUsage(usage({ gpuMilli: 1, to: at(0) + 1 }), book, [], new Map());
    expect(p.listAmount).toBe(0n);
    // 0.5 of an H100 for 1 s = 2.50 × 0.5 / 3600 = 0.000347222… → 347 micro
    expect(priceUsage(usage({ gpuMilli: 500, to: at(0) + 1000 }), book, [], new Map()).listAmount).toBe(347n);
  });

  it('an empty segment costs nothing and has no lines', () => {
    const p = priceUsage(usage({ to: at(0) }), book, [], new Map());
    expect(p.lines).toEqual([]);
    expect(p.chargedAmount).toBe(0n);
  });

  it('refuses a segment that ends before it starts', () => {
    expect(() => priceUsage(usage({ from: at(2), to: at(1) }), book, [], new Map())).toThrow(/usage.to/);
  });
});

describe('promotions', () => {
  it('splits a usage interval crossing a promotion start and end (hand computed)', () => {
    const spring = promo({ name: 'spring', discount: '30%', from: '2025-03-01T10:00Z', to: '2025-03-01T12:00Z' });
    const p = priceUsage(usage({ from: at(9, 30), to: at(12, 45) }), book, [spring], new Map());
    expect(show(p)).toEqual([
      ['09:30', '10:00', '1.250000', '0.000000', '1.250000', '-'],
      ['10:00', '12:00', '5.000000', '1.500000', '3.500000', 'spring'],
      ['12:00', '12:45', '1.875000', '0.000000', '1.875000', '-'],
    ]);
    expect(formatMoney(p.listAmount)).toBe('8.13'); // 8.125 half-up
    expect(formatMoney(p.discountAmount)).toBe('1.50');
    expect(formatMoney(p.chargedAmount)).toBe('6.63'); // 6.625 half-up
  });

  it('daily hours wrap midnight: 22-06 at 50% on 2 × A100 from 20:00 to 08:00', () => {
    const night = promo({ name: 'night', discount: '50%', hours: '22-06' });
    const p = priceUsage(usage({ gpuModel: 'A100', gpuCount: 2, from: at(20), to: at(8, 0, 1) }), book, [night], new Map());
    expect(show(p)).toEqual([
      ['20:00', '22:00', '6.400000', '0.000000', '6.400000', '-'],
      ['22:00', '06:00', '25.600000', '12.800000', '12.800000', 'night'],
      ['06:00', '08:00', '6.400000', '0.000000', '6.400000', '-'],
    ]);
    expect(p.chargedAmount).toBe(25_600_000n);
  });

  it('daily hours take an offset: 22-06+02:00 is 20:00-04:00 UTC', () => {
    const night = promo({ name: 'night', discount: '50%', hours: '22-06+02:00' });
    const p = priceUsage(usage({ from: at(19), to: at(5, 0, 1) }), book, [night], new Map());
    expect(show(p).map((l) => [l[0], l[1], l[5]])).toEqual([
      ['19:00', '20:00', '-'],
      ['20:00', '04:00', 'night'],
      ['04:00', '05:00', '-'],
    ]);
  });

  it('over several days, daily hours cut every night', () => {
    const night = promo({ name: 'night', discount: '50%', hours: '22-06' });
    const p = priceUsage(usage({ from: at(0), to: at(0, 0, 3) }), book, [night], new Map());
    // 00-06 night, 06-22, 22-06 night, 06-22, 22-06 night, 06-22, 22-24 night
    expect(p.lines.map((l) => l.promotion ?? '-')).toEqual(['night', '-', 'night', '-', 'night', '-', 'night']);
    // 72 h at 2.50 = 180; night hours 6 + 8 + 8 + 2 = 24 h → discount 30
    expect(p.listAmount).toBe(180_000_000n);
    expect(p.discountAmount).toBe(30_000_000n);
  });

  it('the window cuts daily hours: a promotion ending at 02:00 inside its night', () => {
    const night = promo({ name: 'night', discount: '50%', hours: '22-06', to: '2025-03-02T02:00Z' });
    const p = priceUsage(usage({ from: at(21), to: at(4, 0, 1) }), book, [night], new Map());
    expect(show(p).map((l) => [l[0], l[1], l[5]])).toEqual([
      ['21:00', '22:00', '-'],
      ['22:00', '02:00', 'night'],
      ['02:00', '04:00', '-'],
    ]);
  });

  it('overlapping promotions: the highest priority wins where they overlap', () => {
    const a = promo({ name: 'a', discount: '20%', priority: 1, from: '2025-03-01T10:00Z', to: '2025-03-01T14:00Z' });
    const b = promo({ name: 'b', discount: '10%', priority: 2, from: '2025-03-01T11:00Z', to: '2025-03-01T12:00Z' });
    const p = priceUsage(usage({ from: at(10), to: at(14) }), book, [a, b], new Map());
    expect(show(p)).toEqual([
      ['10:00', '11:00', '2.500000', '0.500000', '2.000000', 'a'],
      ['11:00', '12:00', '2.500000', '0.250000', '2.250000', 'b'],
      ['12:00', '14:00', '5.000000', '1.000000', '4.000000', 'a'],
    ]);
  });

  it('ties on priority go to the larger discount (percent vs fixed compared exactly), then the name', () => {
    const pct = promo({ name: 'pct', discount: '20%' }); // 0.50/h off at 2.50
    const fixed = promo({ name: 'fixed', discount: '1.50/h' }); // 1.00/h off
    expect(priceUsage(usage(), book, [pct, fixed], new Map()).lines[0]?.promotion).toBe('fixed');
    // On an A100 (1.60): 20% is 0.32 off, 1.50/h is 0.10 off.
    expect(priceUsage(usage({ gpuModel: 'A100' }), book, [pct, fixed], new Map()).lines[0]?.promotion).toBe('pct');
    const x = promo({ name: 'x', discount: '40%' });
    const y = promo({ name: 'y', discount: '1.50/h' }); // also 1.00/h off, i.e. 40%
    expect(priceUsage(usage(), book, [y, x], new Map()).lines[0]?.promotion).toBe('x');
  });

  it('a fixed price charges that price per GPU-hour, pro rata for fractions', () => {
    const fixed = promo({ name: 'fixed', discount: '1.50/h' });
    const p = priceUsage(usage({ gpuMilli: 250, to: at(2) }), book, [fixed], new Map());
    expect(p.listAmount).toBe(1_250_000n); // 2.50 × 0.25 × 2
    expect(p.chargedAmount).toBe(750_000n); // 1.50 × 0.25 × 2
  });

  it('a fixed price at or above the list price does not apply', () => {
    const dear = promo({ name: 'dear', discount: '3.00/h', priority: 9 });
    const cheap = promo({ name: 'cheap', discount: '10%' });
    const p = priceUsage(usage(), book, [dear, cheap], new Map());
    expect(p.lines.map((l) => l.promotion)).toEqual(['cheap']);
  });

  it('model and tenant filters', () => {
    const h100only = promo({ name: 'h', discount: '50%', models: 'H100' });
    const tenantB = promo({ name: 'b', discount: '50%', tenants: ['b'] });
    expect(priceUsage(usage(), book, [h100only], new Map()).discountAmount).toBe(1_250_000n);
    expect(priceUsage(usage({ gpuModel: 'A100' }), book, [h100only], new Map()).discountAmount).toBe(0n);
    expect(priceUsage(usage(), book, [tenantB], new Map()).discountAmount).toBe(0n);
    expect(priceUsage(usage({ tenant: 'b' }), book, [tenantB], new Map()).discountAmount).toBe(1_250_000n);
  });

  it('merges adjacent time with the same outcome: a promotion for another model does not cut lines', () => {
    const other = promo({ name: 'other', discount: '50%', models: 'A100', from: '2025-03-01T00:30Z', to: '2025-03-01T00:40Z' });
    expect(priceUsage(usage(), book, [other], new Map()).lines).toHaveLength(1);
  });

  it('a budget exhausted mid-interval splits exactly where it runs out', () => {
    // 50% on an H100 gives 1.25/h; a 1.00 budget lasts 48 minutes.
    const launch = promo({ name: 'launch', discount: '50%', budget: '1.00' });
    const p = priceUsage(usage({ to: at(2) }), book, [launch], new Map());
    expect(show(p)).toEqual([
      ['00:00', '00:48', '2.000000', '1.000000', '1.000000', 'launch'],
      ['00:48', '02:00', '3.000000', '0.000000', '3.000000', '-'],
    ]);
    expect(p.promoSpent.get('launch')).toBe(1_000_000n);
  });

  it('an exhausted budget lets the next promotion apply, and earlier spend counts', () => {
    const launch = promo({ name: 'launch', discount: '50%', budget: '1.00', priority: 5 });
    const base = promo({ name: 'base', discount: '10%' });
    // 0.50 already given: 0.50 left lasts 24 minutes.
    const p = priceUsage(usage(), book, [launch, base], new Map([['launch', 500_000]]));
    expect(show(p)).toEqual([
      ['00:00', '00:24', '1.000000', '0.500000', '0.500000', 'launch'],
      ['00:24', '01:00', '1.500000', '0.150000', '1.350000', 'base'],
    ]);
    expect(p.promoSpent.get('launch')).toBe(1_000_000n);
    expect(p.promoSpent.get('base')).toBe(150_000n);
    // Fully spent: it no longer applies at all.
    expect(priceUsage(usage(), book, [launch, base], new Map([['launch', 1_000_000n]])).lines.map((l) => l.promotion)).toEqual(['base']);
  });

  it('budget consumption follows the charging order, deterministically', () => {
    const launch = promo({ name: 'launch', discount: '50%', budget: '1.00' });
    const s1 = usage({ taskId: 't1' });
    const s2 = usage({ taskId: 't2', tenant: 'b' });
    const one = priceSegments([s1, s2], book, [launch], new Map());
    expect(one.priced.map((p) => p.discountAmount)).toEqual([1_000_000n, 0n]);
    const two = priceSegments([s2, s1], book, [launch], new Map());
    expect(two.priced.map((p) => p.discountAmount)).toEqual([1_000_000n, 0n]);
    expect(one.promoSpent.get('launch')).toBe(1_000_000n);
    expect(priceSegments([s1, s2], book, [launch], new Map())).toEqual(one);
  });

  it('does not change the spent map it is given', () => {
    const launch = promo({ name: 'launch', discount: '50%', budget: '1.00' });
    const spent = new Map([['launch', 0n]]);
    priceUsage(usage(), book, [launch], spent);
    expect(spent.get('launch')).toBe(0n);
  });

  it('a 100% discount with a budget never charges below zero nor gives more than the budget', () => {
    const free = promo({ name: 'free', discount: '100%', budget: '0.333333' });
    const p = priceUsage(usage({ gpuMilli: 777, to: at(1) }), book, [free], new Map());
    expect(p.discountAmount).toBe(333_333n);
    for (const l of p.lines) expect(l.chargedAmount >= 0n).toBe(true);
  });

  it('activePromotion answers the winner at an instant', () => {
    const night = promo({ name: 'night', discount: '50%', hours: '22-06' });
    expect(activePromotion([night], 'a', 'H100', 2_500_000n, at(23))?.name).toBe('night');
    expect(activePromotion([night], 'a', 'H100', 2_500_000n, at(12))).toBeUndefined();
  });
});

describe('anchored rounding', () => {
  it('pricing an attempt in settlements gives the same list amount as pricing it at once', () => {
    // 0.333 GPU: every second costs a non-integer number of micro-units.
    const whole = priceUsage(usage({ gpuMilli: 333, to: at(1) }), book, [], new Map());
    let sum = 0n;
    for (let t = at(0); t < at(1); t += 7_777) {
      sum += priceUsage(usage({ gpuMilli: 333, from: t, to: Math.min(t + 7_777, at(1)), anchor: at(0) }), book, [], new Map()).listAmount;
    }
    expect(sum).toBe(whole.listAmount);
  });
});

describe('properties', () => {
  const promoArb = fc.record({
    name: fc.constantFrom('p1', 'p2', 'p3', 'p4'),
    pct: fc.integer({ min: 1, max: 100 }),
    fixed: fc.option(fc.integer({ min: 0, max: 3_000_000 }), { nil: undefined }),
    start: fc.integer({ min: 0, max: 72 * 60 }),
    len: fc.integer({ min: 1, max: 48 * 60 }),
    priority: fc.integer({ min: 0, max: 3 }),
    hours: fc.option(fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 23 })).filter(([a, b]) => a !== b), { nil: undefined }),
    budget: fc.option(fc.integer({ min: 1, max: 5_000_000 }), { nil: undefined }),
    model: fc.option(fc.constantFrom('H100', 'A100'), { nil: undefined }),
  });

  it('pieces are contiguous, sum to the whole, and charged = list − discount ≥ 0', () => {
    fc.assert(
      fc.property(
        fc.array(promoArb, { maxLength: 4 }),
        fc.integer({ min: 0, max: 72 * H }),
        fc.integer({ min: 0, max: 30 * H }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom('H100', 'A100', 'T4'),
        fc.array(fc.integer({ min: 1, max: 30 * H - 1 }), { maxLength: 4 }),
        (raw, start, len, milli, count, model, cuts) => {
          const promos: Promotion[] = [];
          const seen = new Set<string>();
          for (const r of raw) {
            if (seen.has(r.name)) continue;
            seen.add(r.name);
            promos.push({
              name: r.name,
              discount: r.fixed !== undefined ? { kind: 'fixed', pricePerGpuHour: BigInt(r.fixed) } : { kind: 'percent', percent: r.pct },
              from: T0 + r.start * MIN,
              to: T0 + (r.start + r.len) * MIN,
              priority: r.priority,
              ...(r.hours ? { hours: { startMinute: r.hours[0] * 60, endMinute: r.hours[1] * 60, offsetMinutes: 0 } } : {}),
              ...(r.budget !== undefined ? { budget: BigInt(r.budget) } : {}),
              ...(r.model ? { models: [r.model === 'H100' ? 'H100-80GB' : 'A100-80GB'] } : {}),
            });
          }
          const seg = usage({ gpuModel: model, gpuMilli: milli, gpuCount: count, from: T0 + start, to: T0 + start + len });
          const p = priceUsage(seg, book, promos, new Map());
          let cursor = seg.from;
          let list = 0n;
          let discount = 0n;
          for (const l of p.lines) {
            expect(l.from).toBe(cursor);
            expect(l.to).toBeGreaterThan(l.from);
            expect(l.chargedAmount).toBe(l.listAmount - l.discountAmount);
            expect(l.discountAmount >= 0n && l.chargedAmount >= 0n).toBe(true);
            cursor = l.to;
            list += l.listAmount;
            discount += l.discountAmount;
          }
          expect(cursor).toBe(len === 0 ? seg.from : seg.to);
          expect(p.listAmount).toBe(list);
          expect(p.discountAmount).toBe(discount);
          expect(p.chargedAmount).toBe(list - discount);
          // The whole list amount is the list price of the whole interval, however it was cut.
          expect(p.listAmount).toBe(priceUsage(seg, book, [], new Map()).listAmount);
          // Budgets are never exceeded.
          for (const pr of promos) {
            if (pr.budget !== undefined && pr.budget !== null) expect((p.promoSpent.get(pr.name) ?? 0n) <= pr.budget).toBe(true);
          }
          // Settling the same usage in pieces (anchored) gives the same list total.
          const points = [...new Set(cuts.filter((c) => c < len).map((c) => seg.from + c))].sort((a, b) => a - b);
          let from = seg.from;
          let pieces = 0n;
          for (const to of [...points, seg.to]) {
            pieces += priceUsage({ ...seg, from, to, anchor: seg.from }, book, [], new Map()).listAmount;
            from = to;
          }
          expect(pieces).toBe(p.listAmount);
        },
      ),
      { numRuns: 300 },
    );
  });
});
