// The usage report (`fastgpu usage`): priced usage summed per tenant × task × GPU model over a
// period [from, to). Lines are priced once, when charged (so promotion budgets are consumed in
// charging order); the report only clips and adds them.
//
// Clipping rule: a line [a, b) cut to [x, y) keeps the share of its discount and of its charge
// that the time covers, each rounded cumulatively from `a`:
//   part(amount, t) = round½↑(amount × (t − a) / (b − a)),   clipped = part(y) − part(x)
// and list = discount + charged. Reports of adjacent periods therefore add up exactly to the
// report of their union, and a line wholly inside the period is taken as it is.
import { divRoundHalfUp, formatMoney, moneyToNumber, type Micros } from './money.js';
import type { PricedLine, PricedUsage } from './types.js';

export interface UsageRow {
  tenant: string;
  taskId: string;
  gpuModel: string;
  /** GPU-seconds: Σ milli/1000 × count × seconds (for people; `gpuMilliMs` is exact). */
  gpuSeconds: number;
  /** Σ milli × count × ms (1e6 of it is one GPU-second). */
  gpuMilliMs: bigint;
  listAmount: Micros;
  discountAmount: Micros;
  chargedAmount: Micros;
  /** Names of the promotions that applied, sorted. */
  promotions: string[];
}

export interface UsageTotals {
  gpuSeconds: number;
  gpuMilliMs: bigint;
  listAmount: Micros;
  discountAmount: Micros;
  chargedAmount: Micros;
  promotions: string[];
}

export interface UsageReport {
  /** The period, as asked (null: unbounded on that side). */
  from: number | null;
  to: number | null;
  /** Rows sorted by tenant, task, GPU model. */
  rows: UsageRow[];
  totals: UsageTotals;
}

export interface ReportOptions {
  from?: number;
  to?: number;
  /** Only this tenant's usage. */
  tenant?: string;
}

type Amounts = Pick<PricedLine, 'from' | 'to' | 'listAmount' | 'discountAmount' | 'chargedAmount'>;

function clip(line: Amounts, x: number, y: number): { list: Micros; discount: Micros; charged: Micros } {
  if (x <= line.from && y >= line.to) {
    return { list: line.listAmount, discount: line.discountAmount, charged: line.chargedAmount };
  }
  const span = BigInt(line.to - line.from);
  const part = (amount: Micros, t: number): Micros => divRoundHalfUp(amount * BigInt(t - line.from), span);
  const discount = part(line.discountAmount, y) - part(line.discountAmount, x);
  const charged = part(line.chargedAmount, y) - part(line.chargedAmount, x);
  return { list: discount + charged, discount, charged };
}

/**
 * The charged amount of a line that falls in [x, y), by the clipping rule above: spend over a
 * period (a budget's) adds up exactly as the usage report of that period does.
 * @example chargedWithin(line, Date.parse('2026-11-01T00:00Z'), Infinity)
 */
export function chargedWithin(line: Amounts, x: number, y: number): Micros {
  const a = Math.max(line.from, x);
  const b = Math.min(line.to, y);
  return b <= a ? 0n : clip(line, a, b).charged;
}

const gpuSecondsOf = (milliMs: bigint): number => Number(milliMs) / 1e6;

/**
 * Sum priced usage into report rows over [from, to), clipping lines that cross the edges.
 * @example usageReport(priced, {from: Date.parse('2025-01-01T00:00Z'), to: Date.parse('2025-02-01T00:00Z')})
 */
export function usageReport(items: readonly PricedUsage[], opts: ReportOptions = {}): UsageReport {
  const lo = opts.from ?? -Infinity;
  const hi = opts.to ?? Infinity;
  const rows = new Map<string, UsageRow & { promoSet: Set<string> }>();
  for (const item of items) {
    const seg = item.segment;
    if (opts.tenant !== undefined && seg.tenant !== opts.tenant) continue;
    const milliCount = BigInt(seg.gpuMilli) * BigInt(seg.gpuCount);
    for (const l of item.lines) {
      const x = Math.max(l.from, lo);
      const y = Math.min(l.to, hi);
      if (y <= x) continue;
      const amounts = clip(l, x, y);
      const key = JSON.stringify([seg.tenant, seg.taskId, item.gpuModel]);
      let row = rows.get(key);
      if (!row) {
        row = {
          tenant: seg.tenant,
          taskId: seg.taskId,
          gpuModel: item.gpuModel,
          gpuSeconds: 0,
          gpuMilliMs: 0n,
          listAmount: 0n,
          discountAmount: 0n,
          chargedAmount: 0n,
          promotions: [],
          promoSet: new Set(),
        };
        rows.set(key, row);
      }
      row.gpuMilliMs += milliCount * BigInt(y - x);
      row.listAmount += amounts.list;
      row.discountAmount += amounts.discount;
      row.chargedAmount += amounts.charged;
      if (l.promotion !== undefined) row.promoSet.add(l.promotion);
    }
  }
  const out: UsageRow[] = [];
  const totals: UsageTotals = { gpuSeconds: 0, gpuMilliMs: 0n, listAmount: 0n, discountAmount: 0n, chargedAmount: 0n, promotions: [] };
  const allPromos = new Set<string>();
  for (const { promoSet, ...row } of rows.values()) {
    row.promotions = [...promoSet].sort();
    row.gpuSeconds = gpuSecondsOf(row.gpuMilliMs);
    out.push(row);
    totals.gpuMilliMs += row.gpuMilliMs;
    totals.listAmount += row.listAmount;
    totals.discountAmount += row.discountAmount;
    totals.chargedAmount += row.chargedAmount;
    for (const p of promoSet) allPromos.add(p);
  }
  out.sort((a, b) => cmp(a.tenant, b.tenant) || cmp(a.taskId, b.taskId) || cmp(a.gpuModel, b.gpuModel));
  totals.gpuSeconds = gpuSecondsOf(totals.gpuMilliMs);
  totals.promotions = [...allPromos].sort();
  return { from: opts.from ?? null, to: opts.to ?? null, rows: out, totals };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** JSON-ready amounts: numbers rounded half-up to the cent, plus exact micro-unit strings. */
export interface AmountsJson {
  listAmount: number;
  discountAmount: number;
  chargedAmount: number;
  listMicros: string;
  discountMicros: string;
  chargedMicros: string;
}

export type UsageRowJson = Omit<UsageRow, 'gpuMilliMs' | 'listAmount' | 'discountAmount' | 'chargedAmount'> & AmountsJson;
export type UsageReportJson = {
  from: string | null;
  to: string | null;
  currency: string;
  rows: UsageRowJson[];
  totals: Omit<UsageTotals, 'gpuMilliMs' | 'listAmount' | 'discountAmount' | 'chargedAmount'> & AmountsJson;
};

function amountsJson(a: { listAmount: Micros; discountAmount: Micros; chargedAmount: Micros }): AmountsJson {
  return {
    listAmount: moneyToNumber(a.listAmount),
    discountAmount: moneyToNumber(a.discountAmount),
    chargedAmount: moneyToNumber(a.chargedAmount),
    listMicros: a.listAmount.toString(),
    discountMicros: a.discountAmount.toString(),
    chargedMicros: a.chargedAmount.toString(),
  };
}

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/**
 * The report as `fastgpu usage --output json` prints it. Each amount is rounded to the cent on
 * its own, so rows in cents need not add up to the total in cents; the micro strings always do.
 */
export function usageReportToJson(report: UsageReport, currency: string): UsageReportJson {
  return {
    from: iso(report.from),
    to: iso(report.to),
    currency,
    rows: report.rows.map(({ gpuMilliMs: _m, listAmount, discountAmount, chargedAmount, ...rest }) => ({
      ...rest,
      ...amountsJson({ listAmount, discountAmount, chargedAmount }),
    })),
    totals: (({ gpuMilliMs: _m, listAmount, discountAmount, chargedAmount, ...rest }) => ({
      ...rest,
      ...amountsJson({ listAmount, discountAmount, chargedAmount }),
    }))(report.totals),
  };
}

/** An amount for a table cell: `12.34`. */
export const formatAmount = (m: Micros): string => formatMoney(m, 2);
