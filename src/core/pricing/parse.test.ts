import { describe, expect, it } from 'vitest';
import { FastGpuError } from '../errors.js';
import { divRoundHalfUp, formatMoney, microsToCents, parseMoney, toMicros } from './money.js';
import {
  compilePriceBook,
  compilePromotion,
  formatHours,
  parseDiscount,
  parseHours,
  parseInstant,
  parseModelList,
  parseTenantList,
  parseWindow,
  priceBookToInput,
  promotionToInput,
  setPrice,
} from './parse.js';

function errorOf(fn: () => unknown): FastGpuError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FastGpuError);
    return e as FastGpuError;
  }
  throw new Error('expected a FastGpuError');
}

describe('money', () => {
  it('rounds half-up', () => {
    expect(divRoundHalfUp(5n, 2n)).toBe(3n);
    expect(divRoundHalfUp(4n, 3n)).toBe(1n);
    expect(divRoundHalfUp(0n, 3n)).toBe(0n);
    expect(() => divRoundHalfUp(-1n, 3n)).toThrow();
  });
  it('parses and formats exactly', () => {
    expect(parseMoney('2.50', 'p')).toBe(2_500_000n);
    expect(parseMoney('$0.000001', 'p')).toBe(1n);
    expect(parseMoney(3, 'p')).toBe(3_000_000n);
    expect(parseMoney('10', 'p')).toBe(10_000_000n);
    expect(errorOf(() => parseMoney('1.0000001', 'budget')).field).toBe('budget');
    expect(errorOf(() => parseMoney('-1', 'price')).message).toMatch(/^price: /);
    expect(formatMoney(1_234_567n)).toBe('1.23');
    expect(formatMoney(1_235_000n)).toBe('1.24');
    expect(formatMoney(5n, 6)).toBe('0.000005');
    expect(formatMoney(7_000_000n, 0)).toBe('7');
    expect(microsToCents(6_625_000n)).toBe(663n);
    expect(toMicros('42')).toBe(42n);
    expect(() => toMicros(0.5)).toThrow(/safe integer/);
  });
});

describe('parsing', () => {
  it('discounts', () => {
    expect(parseDiscount('30%', 'discount')).toEqual({ kind: 'percent', percent: 30 });
    expect(parseDiscount(' 12.5 % ', 'discount')).toEqual({ kind: 'percent', percent: 12.5 });
    expect(parseDiscount('1.50/h', 'discount')).toEqual({ kind: 'fixed', pricePerGpuHour: 1_500_000n });
    expect(parseDiscount('$0.9/hr', 'discount')).toEqual({ kind: 'fixed', pricePerGpuHour: 900_000n });
    for (const bad of ['30', '0%', '101%', 'abc', '1.123456789/h', '-5%']) {
      const e = errorOf(() => parseDiscount(bad, 'discount'));
      expect(e.field).toBe('discount');
      expect(e.code).toBe('INVALID_ARGUMENT');
    }
    expect(errorOf(() => parseDiscount('30', 'discount')).message).toMatch(/30% or a fixed price/);
  });

  it('instants: ISO with a date, UTC unless an offset is given', () => {
    expect(parseInstant('2025-03-01', 'from')).toBe(Date.UTC(2025, 2, 1));
    expect(parseInstant('2025-03-01T22:00', 'from')).toBe(Date.UTC(2025, 2, 1, 22));
    expect(parseInstant('2025-03-01T22:00:00Z', 'from')).toBe(Date.UTC(2025, 2, 1, 22));
    expect(parseInstant('2025-03-01T22:00:00.5+02:00', 'from')).toBe(Date.UTC(2025, 2, 1, 20, 0, 0, 500));
    expect(parseInstant(1234, 'from')).toBe(1234);
    for (const bad of ['2025-02-30', '2025-13-01', 'tomorrow', '2025-03-01T25:00', '03/01/2025', '']) {
      expect(errorOf(() => parseInstant(bad, 'to')).field).toBe('to');
    }
  });

  it('windows need to after from', () => {
    expect(parseWindow('2025-03-01', '2025-03-02')).toEqual({ from: Date.UTC(2025, 2, 1), to: Date.UTC(2025, 2, 2) });
    const e = errorOf(() => parseWindow('2025-03-02', '2025-03-01'));
    expect(e.field).toBe('to');
    expect(e.message).toMatch(/must be after from/);
    expect(errorOf(() => parseWindow('2025-03-01', '2025-03-01')).field).toBe('to');
  });

  it('hours', () => {
    expect(parseHours('22-06', 'hours')).toEqual({ startMinute: 1320, endMinute: 360, offsetMinutes: 0 });
    expect(parseHours('09:30-17:00', 'hours')).toEqual({ startMinute: 570, endMinute: 1020, offsetMinutes: 0 });
    expect(parseHours('0-24', 'hours')).toEqual({ startMinute: 0, endMinute: 1440, offsetMinutes: 0 });
    expect(parseHours('22-06+02:00', 'hours').offsetMinutes).toBe(120);
    expect(parseHours('22-06 UTC-5', 'hours').offsetMinutes).toBe(-300);
    expect(parseHours('22-06-0530', 'hours').offsetMinutes).toBe(-330);
    expect(formatHours(parseHours('22-06-0530', 'h'))).toBe('22:00-06:00-05:30');
    for (const bad of ['22', '22-22', '25-06', '24-06', '22:60-06', '22-06+15', 'night']) {
      expect(errorOf(() => parseHours(bad, 'hours')).field).toBe('hours');
    }
  });

  it('models and tenants', () => {
    expect(parseModelList('H100,A100', 'models')).toEqual(['H100-80GB', 'A100-80GB']);
    expect(parseModelList(['h100', 'H100-80GB'], 'models')).toEqual(['H100-80GB']);
    const e = errorOf(() => parseModelList('H100,H1OO', 'models'));
    expect(e.field).toBe('models');
    expect(e.message).toMatch(/unknown GPU model "H1OO"/);
    expect(errorOf(() => parseModelList(',', 'models')).message).toMatch(/no GPU model/);
    expect(parseTenantList('a, b,a', 'tenants')).toEqual(['a', 'b']);
    expect(errorOf(() => parseTenantList('a,b c', 'tenants')).field).toBe('tenants');
  });

  it('compilePromotion names the field of each error', () => {
    const ok = { name: 'night', discount: '30%', from: '2025-03-01', to: '2025-04-01' };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...ok, discount: '30' }, 'promotion.discount'],
      [{ ...ok, to: '2025-02-01' }, 'promotion.to'],
      [{ ...ok, from: 'soon' }, 'promotion.from'],
      [{ ...ok, hours: '22' }, 'promotion.hours'],
      [{ ...ok, models: 'Z9' }, 'promotion.models'],
      [{ ...ok, tenants: ['ok', 'not ok'] }, 'promotion.tenants'],
      [{ ...ok, budget: '0' }, 'promotion.budget'],
      [{ ...ok, priority: 1.5 }, 'promotion.priority'],
      [{ ...ok, name: '' }, 'promotion.name'],
      [{ ...ok, colour: 'red' }, 'promotion.colour'],
      [{ discount: '30%', from: '2025-03-01', to: '2025-04-01' }, 'promotion.name'],
    ];
    for (const [raw, field] of cases) expect(errorOf(() => compilePromotion(raw)).field, JSON.stringify(raw)).toBe(field);
    expect(errorOf(() => compilePromotion('x')).field).toBe('promotion');
  });

  it('a promotion round-trips through its JSON form', () => {
    const p = compilePromotion({ name: 'n', discount: '1.25/h', from: '2025-03-01T00:00+01:00', to: '2025-04-01', models: 'H100,A100', tenants: 'a,b', hours: '22-06+02:00', budget: '100.5', priority: 3 });
    expect(p).toMatchObject({ priority: 3, budget: 100_500_000n, models: ['H100-80GB', 'A100-80GB'], from: Date.UTC(2025, 1, 28, 23) });
    const json = promotionToInput(p);
    expect(json).toEqual({ name: 'n', discount: '1.25/h', from: '2025-02-28T23:00:00.000Z', to: '2025-04-01T00:00:00.000Z', priority: 3, models: ['H100-80GB', 'A100-80GB'], tenants: ['a', 'b'], hours: '22:00-06:00+02:00', budget: '100.5' });
    expect(compilePromotion(json)).toEqual(p);
  });

  it('price books', () => {
    const b = compilePriceBook({ currency: 'eur', default: '0.5', prices: { H100: '2.50', 'A100-40GB': 1 } });
    expect(b.currency).toBe('EUR');
    expect(b.prices).toEqual(new Map([['H100-80GB', 2_500_000n], ['A100-40GB', 1_000_000n]]));
    expect(errorOf(() => compilePriceBook({ prices: { Z9: '1' } })).field).toBe('priceBook.prices.Z9');
    expect(errorOf(() => compilePriceBook({ prices: { H100: 'cheap' } })).field).toBe('priceBook.prices.H100');
    const b2 = setPrice(b, 'L4', '0.80');
    expect(b2.prices.get('L4')).toBe(800_000n);
    expect(b.prices.has('L4')).toBe(false);
    expect(compilePriceBook(priceBookToInput(b2))).toEqual(b2);
  });
});
