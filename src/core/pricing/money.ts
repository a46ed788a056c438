// Money, exactly. Every amount is an integer number of micro-units (1e-6 of the currency) held
// in a bigint, so that sums never drift and products of price × milli × count × ms never lose
// precision (they pass 2^53 within hours on a large node). Rounding happens in one place,
// `divRoundHalfUp`, and only where a rule in pricing says it does.
import { invalid } from '../errors.js';

/** An amount of money in micro-units (1 = 0.000001 of the currency). Never negative here. */
export type Micros = bigint;

/** Micro-units per currency unit. */
export const MICROS_PER_UNIT = 1_000_000n;
/** Micro-units per cent. */
export const MICROS_PER_CENT = 10_000n;

/** Milliseconds per hour, as a bigint: prices are per GPU-hour and time is in ms. */
export const MS_PER_HOUR = 3_600_000n;

/**
 * `n / d` rounded half-up (to the nearest integer, halves away from zero) for n ≥ 0, d > 0.
 * @example divRoundHalfUp(5n, 2n) // 3n; divRoundHalfUp(7n, 3n) // 2n
 */
export function divRoundHalfUp(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError('divRoundHalfUp: divisor must be positive');
  if (n < 0n) throw new RangeError('divRoundHalfUp: amounts are never negative');
  return (2n * n + d) / (2n * d);
}

/** A micro amount from a bigint, a safe integer or a decimal-integer string (as JSON stores it). */
export function toMicros(value: bigint | number | string, field = 'amount'): Micros {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw invalid(field, `micro-unit amount ${value} must be a safe integer`);
    return BigInt(value);
  }
  if (!/^-?\d+$/.test(value)) throw invalid(field, `micro-unit amount ${JSON.stringify(value)} must be an integer`);
  return BigInt(value);
}

/**
 * The largest amount the ledger holds: every entry, line and total saturates here instead of
 * growing past what the store's 64-bit integers (SQLite, Postgres BIGINT) can keep: 2^63 - 1
 * micro-units, about 9.2 trillion currency units. With the input maxima below it is reached only
 * after millions of GPU-hours at the highest price.
 */
export const MAX_LEDGER_MICROS: Micros = 2n ** 63n - 1n;
/** Highest price (or fixed promotion price) per GPU-hour: 1,000,000.00. */
export const MAX_PRICE_MICROS: Micros = 1_000_000n * MICROS_PER_UNIT;
/** Highest budget (tenant or promotion) or other amount: 1,000,000,000,000.00. */
export const MAX_AMOUNT_MICROS: Micros = 1_000_000_000_000n * MICROS_PER_UNIT;

/** `a + b`, saturating at MAX_LEDGER_MICROS: ledger sums never outgrow the store. */
export function addMicros(a: Micros, b: Micros): Micros {
  const s = a + b;
  return s > MAX_LEDGER_MICROS ? MAX_LEDGER_MICROS : s;
}

/** `a` capped at MAX_LEDGER_MICROS. */
export function capMicros(a: Micros): Micros {
  return a > MAX_LEDGER_MICROS ? MAX_LEDGER_MICROS : a;
}

const MONEY_RE = /^\$?\s*(\d+)(?:\.(\d{0,6}))?$/;

/**
 * A decimal amount of currency, exactly, as micro-units: at most 6 decimals, no float on the way,
 * and at most `max` (MAX_AMOUNT_MICROS unless given; prices pass MAX_PRICE_MICROS).
 * @example parseMoney('2.50', 'price') // 2_500_000n; parseMoney('$0.000001', 'budget') // 1n
 */
export function parseMoney(input: string | number, field: string, max: Micros = MAX_AMOUNT_MICROS): Micros {
  const text = typeof input === 'number' ? String(input) : input.trim();
  const m = MONEY_RE.exec(text);
  if (!m || (typeof input === 'number' && !Number.isFinite(input))) {
    throw invalid(field, `cannot read amount ${JSON.stringify(input)}; use a non-negative decimal such as 2.50 (at most 6 decimals)`);
  }
  const whole = BigInt(m[1]!);
  const frac = BigInt((m[2] ?? '').padEnd(6, '0'));
  const micros = whole * MICROS_PER_UNIT + frac;
  if (micros > max) throw invalid(field, `amount ${text} is above the maximum ${formatMoney(max)}`);
  return micros;
}

/** Micro-units rounded half-up to whole cents. Reports round once, at the end, to the cent. */
export function microsToCents(micros: Micros): bigint {
  return micros < 0n ? -divRoundHalfUp(-micros, MICROS_PER_CENT) : divRoundHalfUp(micros, MICROS_PER_CENT);
}

/**
 * An amount for people and JSON, rounded half-up to `decimals` (default 2, the cent).
 * @example formatMoney(1_234_567n) // '1.23'; formatMoney(1_235_000n) // '1.24'; formatMoney(5n, 6) // '0.000005'
 */
export function formatMoney(micros: Micros, decimals = 2): string {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 6) throw new RangeError('formatMoney: 0..6 decimals');
  const neg = micros < 0n;
  const abs = neg ? -micros : micros;
  const step = 10n ** BigInt(6 - decimals);
  const q = divRoundHalfUp(abs, step);
  const scale = 10n ** BigInt(decimals);
  const whole = q / scale;
  const frac = (q % scale).toString().padStart(decimals, '0');
  return `${neg ? '-' : ''}${whole}${decimals > 0 ? `.${frac}` : ''}`;
}

/** An amount as a JSON number of currency units, rounded half-up to the cent. */
export function moneyToNumber(micros: Micros): number {
  return Number(formatMoney(micros, 2));
}
