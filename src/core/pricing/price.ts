// Pricing one segment of GPU usage against the price book and the promotions.
//
// Rounding rules (the only places money is rounded):
// 1. List amount: cumulative from the attempt's start (`anchor`). With K = price × milli × count,
//    list(t) = round½↑(K × (t − anchor) / 3.6e9) micro-units, and a piece [a, b) costs
//    list(b) − list(a). Pieces therefore add up to the whole exactly, however the usage is cut
//    (promotion edges, settlements, report periods).
// 2. Percent discount of a piece: round½↑(list of the piece × percent / 100).
//    Fixed-price discount of a piece: min(list of the piece,
//    round½↑((price − fixed) × milli × count × (b − a) / 3.6e9)).
// 3. Charged = list − discount, never negative. Reports round to the cent only at the end.
//
// Promotion choice at an instant: among promotions whose window and daily hours cover it, whose
// model and tenant filters admit the usage, that still have budget, and that lower the price at
// all, the highest priority wins; ties go to the larger discount per GPU-hour, then the name.
//
// Budgets: a promotion with a budget gives at most that much discount in total. The discount it
// has given so far comes in `promoSpent`; segments must be priced in the order they are charged
// (the ledger settles in a fixed order), which makes consumption deterministic. When a piece
// would reach what is left, it is cut at the first whole ms at which the exact (unrounded)
// discount accrued reaches the rest; that piece gets exactly the rest (never more than its list
// amount), and later time falls to the next promotion (or none).
import { findGpuModel } from '../catalogue.js';
import { invalid } from '../errors.js';
import { nextClockBoundary, promoClockActive } from './calendar.js';
import { addMicros, capMicros, divRoundHalfUp, MS_PER_HOUR, type Micros } from './money.js';
import type { Discount, PriceBook, PricedLine, PricedUsage, PromoSpent, Promotion, UsageSegment } from './types.js';

const MILLI_PER_GPU = 1000n;
/** ms per hour × milli per GPU: the denominator of every rate. */
const RATE_DENOMINATOR = MS_PER_HOUR * MILLI_PER_GPU;
const PPM = 1_000_000n;

/** The canonical catalogue name of a model, or the trimmed name itself when it is unknown. */
export function canonicalModel(name: string): string {
  return findGpuModel(name)?.name ?? name.trim();
}

/** The book's price per whole GPU-hour for a model (the default for unlisted models). */
export function unitPriceOf(book: PriceBook, gpuModel: string): Micros {
  const model = canonicalModel(gpuModel);
  const direct = book.prices.get(model);
  if (direct !== undefined) return direct;
  for (const [name, price] of book.prices) if (canonicalModel(name) === model) return price;
  return book.defaultPrice;
}

/** A percentage as an exact integer of parts per million (30 → 300 000; 12.5 → 125 000). */
export function percentToPpm(percent: number): bigint {
  return BigInt(Math.round(percent * 10_000));
}

/**
 * Discount per GPU-hour a promotion gives at a unit price, scaled by 1e6 so that percentages
 * compare exactly with fixed prices. 0 when a fixed price is not below the list price.
 */
export function discountPerGpuHourScaled(discount: Discount, unitPrice: Micros): bigint {
  if (discount.kind === 'percent') return unitPrice * percentToPpm(discount.percent);
  const d = unitPrice - discount.pricePerGpuHour;
  return d > 0n ? d * PPM : 0n;
}

/** The list amount of `gpuMilli × gpuCount` at `unitPrice` for one hour, rounded half-up. */
export function listPerHour(unitPrice: Micros, gpuMilli: number, gpuCount: number): Micros {
  return divRoundHalfUp(unitPrice * BigInt(gpuMilli) * BigInt(gpuCount), MILLI_PER_GPU);
}

function spentOf(spent: PromoSpent, name: string): bigint {
  const v = spent.get(name);
  return v === undefined ? 0n : BigInt(v);
}

/** What a promotion still may give; null: no budget. */
export function budgetLeft(p: Promotion, spent: PromoSpent): bigint | null {
  if (p.budget === undefined || p.budget === null) return null;
  const left = p.budget - spentOf(spent, p.name);
  return left > 0n ? left : 0n;
}

/** Whether the promotion's filters (model, tenant) admit the usage; the clock is checked apart. */
export function promoAdmits(p: Promotion, tenant: string, canonicalGpuModel: string): boolean {
  if (p.tenants && p.tenants.length > 0 && !p.tenants.includes(tenant)) return false;
  if (p.models && p.models.length > 0 && !p.models.some((m) => canonicalModel(m) === canonicalGpuModel)) return false;
  return true;
}

/**
 * The winning promotion at instant `t` among `candidates` (already filtered for model, tenant
 * and a positive discount), or undefined.
 */
function winnerAt(candidates: readonly Candidate[], t: number, spent: PromoSpent): Candidate | undefined {
  let best: Candidate | undefined;
  for (const c of candidates) {
    if (!promoClockActive(c.promo, t)) continue;
    const left = budgetLeft(c.promo, spent);
    if (left !== null && left <= 0n) continue;
    if (best === undefined || beats(c, best)) best = c;
  }
  return best;
}

/** A promotion that could apply to one usage, with its strength there. */
export interface Candidate {
  promo: Promotion;
  /** discountPerGpuHourScaled for this usage's unit price. */
  strength: bigint;
}

function beats(a: Candidate, b: Candidate): boolean {
  if (a.promo.priority !== b.promo.priority) return a.promo.priority > b.promo.priority;
  if (a.strength !== b.strength) return a.strength > b.strength;
  return a.promo.name < b.promo.name;
}

/**
 * The promotions that could apply to usage of this tenant and model, with their strength,
 * in a stable order. Exposed for `quote`.
 */
export function candidatesFor(promos: readonly Promotion[], tenant: string, gpuModel: string, unitPrice: Micros): Candidate[] {
  const model = canonicalModel(gpuModel);
  const out: Candidate[] = [];
  for (const promo of promos) {
    if (!promoAdmits(promo, tenant, model)) continue;
    const strength = discountPerGpuHourScaled(promo.discount, unitPrice);
    if (strength > 0n) out.push({ promo, strength });
  }
  return out;
}

/** The winning promotion at `t` for a usage, or undefined. */
export function activePromotion(
  promos: readonly Promotion[],
  tenant: string,
  gpuModel: string,
  unitPrice: Micros,
  t: number,
  spent: PromoSpent = new Map(),
): Promotion | undefined {
  return winnerAt(candidatesFor(promos, tenant, gpuModel, unitPrice), t, spent)?.promo;
}

/** Everything needed to price pieces of one segment. */
interface Rates {
  unitPrice: Micros;
  /** unitPrice × milli × count. */
  k: bigint;
  milliCount: bigint;
  anchor: number;
}

function listBetween(r: Rates, a: number, b: number): Micros {
  const cum = (t: number): bigint => divRoundHalfUp(r.k * BigInt(t - r.anchor), RATE_DENOMINATOR);
  return cum(b) - cum(a);
}

function discountBetween(r: Rates, d: Discount, a: number, b: number, list: Micros): Micros {
  if (d.kind === 'percent') return divRoundHalfUp(list * percentToPpm(d.percent), PPM);
  const per = r.unitPrice - d.pricePerGpuHour;
  if (per <= 0n) return 0n;
  const disc = divRoundHalfUp(per * r.milliCount * BigInt(b - a), RATE_DENOMINATOR);
  return disc < list ? disc : list;
}

const ceilDiv = (n: bigint, d: bigint): bigint => (n + d - 1n) / d;

/** The first ms after `a` at which the exact discount accrued since `a` reaches `left` (> 0). */
function exhaustedAt(r: Rates, d: Discount, a: number, left: bigint): number {
  // discount(a, t) = rate × (t − a) exactly, with rate = num / den per ms.
  const [num, den] =
    d.kind === 'percent'
      ? [r.k * percentToPpm(d.percent), RATE_DENOMINATOR * PPM]
      : [(r.unitPrice - d.pricePerGpuHour) * r.milliCount, RATE_DENOMINATOR];
  if (num <= 0n) return Infinity;
  return a + Number(ceilDiv(left * den, num));
}

function line(from: number, to: number, rawList: Micros, rawDiscount: Micros, promotion: string | undefined): PricedLine {
  // Capped, so that no line holds more than the store can keep (money.ts MAX_LEDGER_MICROS).
  const list = capMicros(rawList);
  const discount = capMicros(rawDiscount) > list ? list : capMicros(rawDiscount);
  const out: PricedLine = {
    from,
    to,
    seconds: (to - from) / 1000,
    listAmount: list,
    discountAmount: discount,
    chargedAmount: list - discount,
  };
  if (promotion !== undefined) out.promotion = promotion;
  return out;
}

function validateSegment(u: UsageSegment): void {
  const intField = (v: number, name: string, min: number): void => {
    if (!Number.isSafeInteger(v) || v < min) throw invalid(`usage.${name}`, `must be an integer ≥ ${min}, got ${v}`);
  };
  intField(u.from, 'from', Number.MIN_SAFE_INTEGER);
  intField(u.to, 'to', Number.MIN_SAFE_INTEGER);
  intField(u.gpuMilli, 'gpuMilli', 0);
  intField(u.gpuCount, 'gpuCount', 0);
  if (u.gpuMilli > 1000) throw invalid('usage.gpuMilli', `must be at most 1000, got ${u.gpuMilli}`);
  if (u.to < u.from) throw invalid('usage.to', `must not be before from (${u.from}), got ${u.to}`);
  if (u.anchor !== undefined) {
    intField(u.anchor, 'anchor', Number.MIN_SAFE_INTEGER);
    if (u.anchor > u.from) throw invalid('usage.anchor', `must not be after from (${u.from}), got ${u.anchor}`);
  }
}

/**
 * Price one segment of usage: split [from, to) exactly where the winning promotion changes
 * (window edges, daily-hour edges, a budget running out) and price each piece. The lines add up
 * to the totals exactly; `promoSpent` is not changed, the result carries the new consumption.
 * @example priceUsage({tenant: 'a', taskId: 't1', attempt: 1, gpuModel: 'H100', gpuMilli: 500,
 *   gpuCount: 1, from: 0, to: 3_600_000}, book, [], new Map()).chargedAmount // half the H100 hourly price
 */
export function priceUsage(usage: UsageSegment, book: PriceBook, promos: readonly Promotion[], promoSpentSoFar: PromoSpent): PricedUsage {
  validateSegment(usage);
  const gpuModel = canonicalModel(usage.gpuModel);
  const unitPrice = unitPriceOf(book, gpuModel);
  const milliCount = BigInt(usage.gpuMilli) * BigInt(usage.gpuCount);
  const rates: Rates = { unitPrice, k: unitPrice * milliCount, milliCount, anchor: usage.anchor ?? usage.from };
  const spent = new Map<string, bigint>();
  for (const [name, v] of promoSpentSoFar) spent.set(name, BigInt(v));

  const candidates = candidatesFor(promos, usage.tenant, gpuModel, unitPrice);
  const lines: PricedLine[] = [];
  let cursor = usage.from;
  while (cursor < usage.to) {
    const winner = winnerAt(candidates, cursor, spent);
    // Extend the piece over boundaries at which the winner stays the same.
    let end = cursor;
    for (;;) {
      let next = usage.to;
      for (const c of candidates) next = Math.min(next, nextClockBoundary(c.promo, end));
      end = next;
      if (end >= usage.to || winnerAt(candidates, end, spent) !== winner) break;
    }
    const list = listBetween(rates, cursor, end);
    if (winner === undefined) {
      lines.push(line(cursor, end, list, 0n, undefined));
      cursor = end;
      continue;
    }
    const p = winner.promo;
    let discount = discountBetween(rates, p.discount, cursor, end, list);
    const left = budgetLeft(p, spent);
    if (left !== null && discount >= left) {
      // The budget runs out within the piece: cut it at the first ms at which the exact
      // (unrounded) discount reaches what is left; that piece gives exactly what is left.
      end = Math.min(end, exhaustedAt(rates, p.discount, cursor, left));
      const cutList = listBetween(rates, cursor, end);
      discount = left < cutList ? left : cutList;
      lines.push(line(cursor, end, cutList, discount, p.name));
    } else {
      lines.push(line(cursor, end, list, discount, p.name));
    }
    spent.set(p.name, addMicros(spentOf(spent, p.name), discount));
    cursor = end;
  }

  let listAmount = 0n;
  let discountAmount = 0n;
  for (const l of lines) {
    listAmount = addMicros(listAmount, l.listAmount);
    discountAmount = addMicros(discountAmount, l.discountAmount);
  }
  return {
    segment: usage,
    gpuModel,
    unitPrice,
    lines,
    listAmount,
    discountAmount,
    chargedAmount: listAmount - discountAmount,
    promoSpent: spent,
  };
}

/**
 * Price segments one after another in the given (charging) order, threading the promotion
 * budgets through. The order is the caller's: the same order gives the same result.
 */
export function priceSegments(
  segments: readonly UsageSegment[],
  book: PriceBook,
  promos: readonly Promotion[],
  promoSpentSoFar: PromoSpent,
): { priced: PricedUsage[]; promoSpent: Map<string, Micros> } {
  const priced: PricedUsage[] = [];
  let spent: PromoSpent = promoSpentSoFar;
  for (const s of segments) {
    const p = priceUsage(s, book, promos, spent);
    priced.push(p);
    spent = p.promoSpent;
  }
  const out = new Map<string, Micros>();
  for (const [k, v] of spent) out.set(k, BigInt(v));
  return { priced, promoSpent: out };
}

/** Where a promotion stands at an instant, for `promo ls` and metrics. */
export type PromotionStatus = 'scheduled' | 'active' | 'off-hours' | 'exhausted' | 'ended';

/**
 * `scheduled` before its window, `ended` after it, `exhausted` once its budget is spent,
 * `off-hours` inside its window but outside its daily hours, `active` otherwise.
 */
export function promotionStatus(p: Promotion, now: number, spent: PromoSpent = new Map()): PromotionStatus {
  if (now < p.from) return 'scheduled';
  if (now >= p.to) return 'ended';
  const left = budgetLeft(p, spent);
  if (left !== null && left <= 0n) return 'exhausted';
  return promoClockActive(p, now) ? 'active' : 'off-hours';
}
