// Reading prices and promotions as people type them (CLI flags, API bodies, stored JSON) into
// validated values. Every error is an INVALID_ARGUMENT whose field names what was wrong.
//
//   discount: "30%" or "12.5%" (percent, ≤ 4 decimals), or a fixed price "1.50/h" ("$1.50/h", "1.50/hr")
//   times:    ISO 8601 with a date: "2025-03-01", "2025-03-01T22:00", "2025-03-01T22:00:00+02:00".
//             Without an offset a time is UTC (never the server's local zone), or epoch ms.
//   hours:    "22-06", "22:30-06:00", "0-24"; a suffix "+02:00", "UTC+2", "-0530" gives the local
//             offset (default UTC). start > end wraps midnight. Fixed offset: no daylight saving.
//   models:   "H100,A100" or a list; aliases become catalogue names (H100 → H100-80GB).
//   money:    "2.50", "$2.50" (≤ 6 decimals), exact.
import { z } from 'zod';
import { GPU_CATALOGUE, findGpuModel } from '../catalogue.js';
import { FastGpuError, invalid } from '../errors.js';
import { formatMoney, MAX_AMOUNT_MICROS, MAX_LEDGER_MICROS, MAX_PRICE_MICROS, parseMoney, type Micros } from './money.js';

/** The maxima amounts are checked against: prices (and fixed discounts), other amounts (budgets). */
export interface AmountLimits {
  price: Micros;
  amount: Micros;
}
/** What the API and the CLI accept (money.ts documents them). */
export const INPUT_LIMITS: AmountLimits = { price: MAX_PRICE_MICROS, amount: MAX_AMOUNT_MICROS };
/** What a store reads back: anything it could keep (rows written before the maxima existed load). */
export const STORED_LIMITS: AmountLimits = { price: MAX_LEDGER_MICROS, amount: MAX_LEDGER_MICROS };
import type { DailyHours, Discount, PriceBook, Promotion } from './types.js';

/** The first zod issue as an INVALID_ARGUMENT naming `prefix.path`. */
export function zodToError(error: z.ZodError, prefix?: string): FastGpuError {
  const issue = error.issues[0];
  const join = (path: readonly PropertyKey[]): string => [prefix, ...path.map(String)].filter((p) => p !== undefined && p !== '').join('.');
  if (!issue) return invalid(prefix ?? 'body', 'is invalid');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    return invalid(join([...issue.path, key]), `unknown field ${JSON.stringify(key)}`);
  }
  return invalid(join(issue.path) || prefix || 'body', issue.message);
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A promotion or tenant name: 1–64 of A-Z a-z 0-9 . _ -, starting with a letter or digit. */
export function parseName(input: string, field: string): string {
  const s = input.trim();
  if (!NAME_RE.test(s)) {
    throw invalid(field, `${JSON.stringify(input.slice(0, 40))} is not a valid name; use 1 to 64 characters from A-Z a-z 0-9 . _ - starting with a letter or digit`);
  }
  return s;
}

const PERCENT_RE = /^(\d+(?:\.\d{1,4})?)\s*%$/;
const FIXED_RE = /^\$?\s*(\d+(?:\.\d{1,6})?)\s*\/\s*(?:h|hr|hour|gpu-?h(?:our)?)$/i;

/**
 * A discount: `30%` (percent of the list price) or `1.50/h` (a fixed price per GPU-hour).
 * A bare number is refused: `30` could mean either.
 * @example parseDiscount('30%', 'discount') // {kind: 'percent', percent: 30}
 */
export function parseDiscount(input: string, field: string, maxPrice: Micros = MAX_PRICE_MICROS): Discount {
  const s = input.trim();
  const pct = PERCENT_RE.exec(s);
  if (pct) {
    const percent = Number(pct[1]);
    if (percent <= 0 || percent > 100) throw invalid(field, `percent discount ${JSON.stringify(input)} must be more than 0% and at most 100%`);
    return { kind: 'percent', percent };
  }
  const fixed = FIXED_RE.exec(s);
  if (fixed) return { kind: 'fixed', pricePerGpuHour: parseMoney(fixed[1]!, field, maxPrice) };
  throw invalid(field, `cannot read discount ${JSON.stringify(input)}; write a percentage such as 30% or a fixed price per GPU-hour such as 1.50/h`);
}

/** The discount as `parseDiscount` reads it back: `30%`, `1.5/h`. */
export function formatDiscount(d: Discount): string {
  return d.kind === 'percent' ? `${d.percent}%` : `${trimZeros(formatMoney(d.pricePerGpuHour, 6))}/h`;
}

const trimZeros = (s: string): string => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * An instant from ISO 8601 (a date is required; no offset means UTC) or from epoch ms.
 * @example parseInstant('2025-03-01T22:00', 'from') // Date.UTC(2025, 2, 1, 22)
 */
export function parseInstant(input: string | number, field: string): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input)) throw invalid(field, `epoch milliseconds must be an integer, got ${input}`);
    return input;
  }
  const s = input.trim();
  const m = ISO_RE.exec(s);
  const bad = (): FastGpuError =>
    invalid(field, `cannot read time ${JSON.stringify(input)}; use ISO 8601 such as 2025-03-01 or 2025-03-01T22:00:00Z (no offset means UTC)`);
  if (!m) throw bad();
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  const ms = Number((m[7] ?? '').padEnd(3, '0'));
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) throw bad();
  let offsetMin = 0;
  const zone = m[8];
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const z2 = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    const oh = Number(z2[2]);
    const om = Number(z2[3]);
    if (oh > 14 || om > 59) throw bad();
    offsetMin = (z2[1] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // Date.UTC maps years 0–99 to 1900–1999; nobody prices usage then.
  if (year < 1970) throw invalid(field, `time ${JSON.stringify(input)} is before 1970`);
  return utc - offsetMin * 60_000;
}

/** A window [from, to) with to after from. */
export function parseWindow(from: string | number, to: string | number, fields = { from: 'from', to: 'to' }): { from: number; to: number } {
  const f = parseInstant(from, fields.from);
  const t = parseInstant(to, fields.to);
  if (t <= f) throw invalid(fields.to, `must be after ${fields.from} (${new Date(f).toISOString()}), got ${new Date(t).toISOString()}`);
  return { from: f, to: t };
}

const HOURS_RE = /^(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?(?:\s*(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?|\s*(?:UTC|GMT|Z))?$/i;

/**
 * Daily hours: `22-06` (wraps midnight), `09:30-17:00`, `0-24` (all day), with an optional
 * offset suffix (`22-06+02:00`, `22-06 UTC+2`); UTC without one.
 * @example parseHours('22-06', 'hours') // {startMinute: 1320, endMinute: 360, offsetMinutes: 0}
 */
export function parseHours(input: string, field: string): DailyHours {
  const m = HOURS_RE.exec(input.trim());
  const help = 'use HH-HH or HH:MM-HH:MM in UTC, such as 22-06 (wrapping midnight), optionally with an offset such as 22-06+02:00';
  if (!m) throw invalid(field, `cannot read hours ${JSON.stringify(input)}; ${help}`);
  const minuteOf = (h: string, mm: string | undefined, end: boolean): number => {
    const hour = Number(h);
    const min = Number(mm ?? 0);
    if (min > 59 || hour > 24 || (hour === 24 && (min !== 0 || !end))) {
      throw invalid(field, `${JSON.stringify(input)} has an impossible time of day; ${help}`);
    }
    return hour * 60 + min;
  };
  const startMinute = minuteOf(m[1]!, m[2], false);
  const endMinute = minuteOf(m[3]!, m[4], true);
  if (startMinute === endMinute) {
    throw invalid(field, `hours ${JSON.stringify(input)} start and end at the same time; use 0-24 for the whole day`);
  }
  let offsetMinutes = 0;
  if (m[5] !== undefined) {
    const oh = Number(m[6]);
    const om = Number(m[7] ?? 0);
    if (oh > 14 || om > 59) throw invalid(field, `offset in ${JSON.stringify(input)} must be between -14:00 and +14:00`);
    offsetMinutes = (m[5] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return { startMinute, endMinute, offsetMinutes };
}

const hhmm = (minute: number): string => `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;

/** Daily hours as `parseHours` reads them back: `22:00-06:00`, `22:00-06:00+02:00`. */
export function formatHours(h: DailyHours): string {
  let off = '';
  if (h.offsetMinutes !== 0) {
    const a = Math.abs(h.offsetMinutes);
    off = `${h.offsetMinutes < 0 ? '-' : '+'}${hhmm(a)}`;
  }
  return `${hhmm(h.startMinute)}-${hhmm(h.endMinute)}${off}`;
}

const listOf = (input: string | readonly string[]): string[] =>
  (typeof input === 'string' ? input.split(',') : [...input]).map((s) => s.trim()).filter((s) => s !== '');

/**
 * GPU model names (comma-separated or a list) as catalogue names; an unknown name is refused,
 * since a misspelt model would silently never match.
 * @example parseModelList('H100,A100', 'models') // ['H100-80GB', 'A100-80GB']
 */
export function parseModelList(input: string | readonly string[], field: string): string[] {
  const out: string[] = [];
  for (const [i, name] of listOf(input).entries()) {
    const m = findGpuModel(name);
    if (!m) {
      throw invalid(field, `unknown GPU model ${JSON.stringify(name)} (item ${i + 1}); known: ${GPU_CATALOGUE.map((g) => g.name).join(', ')}`);
    }
    if (!out.includes(m.name)) out.push(m.name);
  }
  if (out.length === 0) throw invalid(field, 'names no GPU model; give one or more, such as H100,A100');
  return out;
}

/** Tenant names (comma-separated or a list). */
export function parseTenantList(input: string | readonly string[], field: string): string[] {
  const out: string[] = [];
  for (const name of listOf(input)) {
    const n = parseName(name, field);
    if (!out.includes(n)) out.push(n);
  }
  if (out.length === 0) throw invalid(field, 'names no tenant; give one or more, such as a,b');
  return out;
}

const stringOrList = z.union([z.string(), z.array(z.string())], { error: 'must be a comma-separated string or a list of strings' });
const moneyInput = z.union([z.string(), z.number()], { error: 'must be an amount such as "100.00"' });
const instantInput = z.union([z.string(), z.number()], { error: 'must be an ISO 8601 time such as 2025-03-01T00:00:00Z' });

/** The JSON form of a promotion (API bodies, stored rows, `promo ls --output json`). */
export const promotionInputSchema = z.strictObject(
  {
    name: z.string({ error: 'is required: a name for the promotion' }),
    discount: z.string({ error: 'is required: a percentage such as "30%" or a fixed price such as "1.50/h"' }),
    from: instantInput,
    to: instantInput,
    priority: z.number({ error: 'must be a whole number' }).int({ error: 'must be a whole number' }).min(-1_000_000).max(1_000_000).nullish(),
    models: stringOrList.nullish(),
    tenants: stringOrList.nullish(),
    hours: z.string({ error: 'must be daily hours such as "22-06"' }).nullish(),
    budget: moneyInput.nullish(),
  },
  { error: 'a promotion must be an object' },
);
export type PromotionInput = z.input<typeof promotionInputSchema>;

/**
 * A promotion from its JSON form, validated; errors name the field (`promotion.discount`).
 * @example compilePromotion({name: 'night', discount: '30%', from: '2025-03-01', to: '2025-04-01', hours: '22-06'})
 */
export function compilePromotion(raw: unknown, prefix = 'promotion', limits: AmountLimits = INPUT_LIMITS): Promotion {
  const r = promotionInputSchema.safeParse(raw);
  if (!r.success) throw zodToError(r.error, prefix);
  const v = r.data;
  const f = (name: string): string => `${prefix}.${name}`;
  const window = parseWindow(v.from, v.to, { from: f('from'), to: f('to') });
  const promo: Promotion = {
    name: parseName(v.name, f('name')),
    discount: parseDiscount(v.discount, f('discount'), limits.price),
    from: window.from,
    to: window.to,
    priority: v.priority ?? 0,
  };
  if (v.models !== undefined && v.models !== null) promo.models = parseModelList(v.models, f('models'));
  if (v.tenants !== undefined && v.tenants !== null) promo.tenants = parseTenantList(v.tenants, f('tenants'));
  if (v.hours !== undefined && v.hours !== null) promo.hours = parseHours(v.hours, f('hours'));
  if (v.budget !== undefined && v.budget !== null) {
    const budget = parseMoney(v.budget, f('budget'), limits.amount);
    if (budget <= 0n) throw invalid(f('budget'), 'must be more than 0');
    promo.budget = budget;
  }
  return promo;
}

/** The JSON form `compilePromotion` reads back (times as ISO strings in UTC). */
export function promotionToInput(p: Promotion): PromotionInput {
  const out: PromotionInput = {
    name: p.name,
    discount: formatDiscount(p.discount),
    from: new Date(p.from).toISOString(),
    to: new Date(p.to).toISOString(),
    priority: p.priority,
  };
  if (p.models && p.models.length > 0) out.models = [...p.models];
  if (p.tenants && p.tenants.length > 0) out.tenants = [...p.tenants];
  if (p.hours) out.hours = formatHours(p.hours);
  if (p.budget !== undefined && p.budget !== null) out.budget = trimZeros(formatMoney(p.budget, 6));
  return out;
}

/** The JSON form of a price book. */
export const priceBookInputSchema = z.strictObject(
  {
    currency: z.string({ error: 'must be a currency code such as "USD"' }).regex(/^[A-Za-z]{1,8}$/, { error: 'must be a currency code such as "USD"' }).nullish(),
    default: moneyInput.nullish(),
    prices: z.record(z.string(), moneyInput, { error: 'must be an object of MODEL: price per GPU-hour' }).nullish(),
  },
  { error: 'a price book must be an object' },
);
export type PriceBookInput = z.input<typeof priceBookInputSchema>;

/** An empty book (everything at 0 USD) to start from. */
export const EMPTY_PRICE_BOOK: PriceBook = { currency: 'USD', prices: new Map(), defaultPrice: 0n };

/**
 * A price book from its JSON form; model names become catalogue names.
 * @example compilePriceBook({currency: 'USD', default: '1.00', prices: {H100: '2.50', A100: '1.60'}})
 */
export function compilePriceBook(raw: unknown, prefix = 'priceBook', limits: AmountLimits = INPUT_LIMITS): PriceBook {
  const r = priceBookInputSchema.safeParse(raw);
  if (!r.success) throw zodToError(r.error, prefix);
  const v = r.data;
  const prices = new Map<string, Micros>();
  for (const [model, price] of Object.entries(v.prices ?? {})) {
    const field = `${prefix}.prices.${model}`;
    const [name] = parseModelList(model, field);
    prices.set(name!, parseMoney(price, field, limits.price));
  }
  return {
    currency: (v.currency ?? 'USD').toUpperCase(),
    prices,
    defaultPrice: v.default === undefined || v.default === null ? 0n : parseMoney(v.default, `${prefix}.default`, limits.price),
  };
}

/** The book with one model's price set (`fastgpu admin price set MODEL PRICE`); a new book. */
export function setPrice(book: PriceBook, model: string, price: string | number, field = 'price'): PriceBook {
  const [name] = parseModelList(model, 'model');
  const prices = new Map(book.prices);
  prices.set(name!, parseMoney(price, field, MAX_PRICE_MICROS));
  return { ...book, prices };
}

/** The JSON form `compilePriceBook` reads back. */
export function priceBookToInput(book: PriceBook): PriceBookInput {
  const prices: Record<string, string> = {};
  for (const [model, price] of [...book.prices].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) prices[model] = trimZeros(formatMoney(price, 6));
  return { currency: book.currency, default: trimZeros(formatMoney(book.defaultPrice, 6)), prices };
}
