// A price quote before a task runs (`fastgpu submit --dry-run`, the SDK): list price per hour,
// the promotion in force and when it ends, and the estimate for the time limit, priced exactly
// as the usage would be (so a promotion ending mid-way is accounted for).
import { clockEndsAt } from './calendar.js';
import { activePromotion, budgetLeft, canonicalModel, listPerHour, percentToPpm, priceUsage, unitPriceOf } from './price.js';
import { divRoundHalfUp, type Micros } from './money.js';
import type { Discount, PriceBook, PricedLine, PromoSpent, Promotion } from './types.js';

export interface QuoteRequest {
  gpuModel: string;
  /** Milli-GPU on each GPU. */
  gpuMilli: number;
  gpuCount: number;
  tenant: string;
}

export interface QuotedPromotion {
  name: string;
  discount: Discount;
  /** When it stops applying by the clock (window end or end of its daily hours). */
  endsAt: number;
  /** The request's price per hour while it applies. */
  pricePerHour: Micros;
  /** What its budget still allows; null when it has none. A budget may end it sooner. */
  budgetLeft: Micros | null;
}

export interface Quote {
  gpuModel: string;
  currency: string;
  /** The book's price per whole GPU-hour for the model. */
  unitPrice: Micros;
  /** The request's list price per hour (unit price × milli/1000 × count, rounded half-up). */
  listPerHour: Micros;
  /** The promotion in force at `now`, if any. */
  promotion: QuotedPromotion | null;
  /** The cost of running for the whole time limit from `now`; null without a time limit. */
  estimate: {
    timeLimitMs: number;
    listAmount: Micros;
    discountAmount: Micros;
    chargedAmount: Micros;
    lines: PricedLine[];
  } | null;
}

/**
 * Quote a request at `now`. `promoSpent` (optional) lets the quote see exhausted budgets.
 * @example quote({gpuModel: 'H100', gpuMilli: 500, gpuCount: 1, tenant: 'a'}, 7_200_000, now, book, promos)
 */
export function quote(
  request: QuoteRequest,
  timeLimitMs: number | undefined,
  now: number,
  book: PriceBook,
  promos: readonly Promotion[],
  promoSpent: PromoSpent = new Map(),
): Quote {
  const gpuModel = canonicalModel(request.gpuModel);
  const unitPrice = unitPriceOf(book, gpuModel);
  const perHour = listPerHour(unitPrice, request.gpuMilli, request.gpuCount);
  const active = activePromotion(promos, request.tenant, gpuModel, unitPrice, now, promoSpent);
  let promotion: QuotedPromotion | null = null;
  if (active) {
    const d = active.discount;
    const discountPerHour =
      d.kind === 'percent'
        ? divRoundHalfUp(perHour * percentToPpm(d.percent), 1_000_000n)
        : perHour - listPerHour(d.pricePerGpuHour, request.gpuMilli, request.gpuCount);
    promotion = {
      name: active.name,
      discount: active.discount,
      endsAt: clockEndsAt(active, now),
      pricePerHour: perHour - (discountPerHour > perHour ? perHour : discountPerHour),
      budgetLeft: budgetLeft(active, promoSpent),
    };
  }
  let estimate: Quote['estimate'] = null;
  if (timeLimitMs !== undefined) {
    const priced = priceUsage(
      { tenant: request.tenant, taskId: '(quote)', attempt: 0, gpuModel, gpuMilli: request.gpuMilli, gpuCount: request.gpuCount, from: now, to: now + timeLimitMs },
      book,
      promos,
      promoSpent,
    );
    estimate = {
      timeLimitMs,
      listAmount: priced.listAmount,
      discountAmount: priced.discountAmount,
      chargedAmount: priced.chargedAmount,
      lines: priced.lines,
    };
  }
  return { gpuModel, currency: book.currency, unitPrice, listPerHour: perHour, promotion, estimate };
}
