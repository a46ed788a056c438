// Pricing's data: the price book, promotions, metered usage and what it costs. All money is
// bigint micro-units (see money.ts); all times are epoch milliseconds passed in by the caller.
import type { Micros } from './money.js';

/**
 * Price per GPU-hour by GPU model. A fraction pays its fraction: a task holding `gpuMilli`
 * on each of `gpuCount` GPUs pays price × gpuMilli/1000 × gpuCount per hour.
 */
export interface PriceBook {
  /** ISO 4217 code or any label; only shown to people. */
  currency: string;
  /** Canonical GPU model name (`H100-80GB`) → micro-units per GPU-hour. */
  prices: ReadonlyMap<string, Micros>;
  /** Price of models the book does not list. */
  defaultPrice: Micros;
}

/** What a promotion takes off: a percentage of the list price, or a fixed price per GPU-hour. */
export type Discount =
  | {
      kind: 'percent';
      /** 0 < percent ≤ 100, at most 4 decimals (so it is an exact integer in parts per million). */
      percent: number;
    }
  | {
      kind: 'fixed';
      /** The price paid per GPU-hour while the promotion applies; never more than the list price. */
      pricePerGpuHour: Micros;
    };

/**
 * Daily hours in which a promotion applies (off-peak), as minutes of the day in the local time
 * of `offsetMinutes` east of UTC (0: UTC). `start > end` wraps midnight: 22:00–06:00 is
 * {start: 1320, end: 360}. `end` may be 1440 (midnight at the end of the day). start ≠ end.
 */
export interface DailyHours {
  startMinute: number;
  endMinute: number;
  /** Local time = UTC + offsetMinutes (e.g. +120 for UTC+02:00). A fixed offset: no DST. */
  offsetMinutes: number;
}

export interface Promotion {
  /** Unique; also the key of its budget consumption. */
  name: string;
  discount: Discount;
  /** Applies in [from, to). */
  from: number;
  to: number;
  /** Among overlapping promotions the highest wins; ties: the larger discount, then the name. */
  priority: number;
  /** Canonical GPU model names; absent or empty: every model. */
  models?: readonly string[];
  /** Tenant names; absent or empty: every tenant. */
  tenants?: readonly string[];
  hours?: DailyHours;
  /** Total discount the promotion may give, over all usage; absent or null: unlimited. */
  budget?: Micros | null;
}

/**
 * GPU usage to price: one attempt's GPUs over [from, to). `anchor` (default `from`) is where
 * the attempt began: list amounts are rounded cumulatively from it, so pricing an attempt in
 * several settlements gives the very same list total as pricing it in one go.
 */
export interface UsageSegment {
  tenant: string;
  taskId: string;
  attempt: number;
  gpuModel: string;
  /** Milli-GPU on each GPU, 1..1000. */
  gpuMilli: number;
  gpuCount: number;
  from: number;
  to: number;
  anchor?: number;
}

/** One piece of a priced segment: the whole piece had one promotion (or none). */
export interface PricedLine {
  from: number;
  to: number;
  /** (to − from) / 1000, for people; amounts are computed from the ms. */
  seconds: number;
  listAmount: Micros;
  discountAmount: Micros;
  /** listAmount − discountAmount, ≥ 0. */
  chargedAmount: Micros;
  /** Name of the promotion applied; absent when none did. */
  promotion?: string;
}

export interface PricedUsage {
  segment: UsageSegment;
  /** Canonical model the price was looked up under. */
  gpuModel: string;
  /** The book's price per whole GPU-hour for the model. */
  unitPrice: Micros;
  /** Pieces in time order, contiguous, covering [from, to) exactly; empty when from = to. */
  lines: PricedLine[];
  listAmount: Micros;
  discountAmount: Micros;
  chargedAmount: Micros;
  /** Budget consumed per promotion after this segment (a new map; the input is not changed). */
  promoSpent: Map<string, Micros>;
}

/** Promotion name → discount given so far; accepted as bigints or safe integers. */
export type PromoSpent = ReadonlyMap<string, bigint | number>;
