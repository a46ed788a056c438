// `client.billing`: prices, promotions, usage reports and quotes. Thin wrappers over /v1/prices,
// /v1/promotions, /v1/usage and /v1/quote. Amounts are numbers rounded to the cent, with the
// exact micro-unit amounts as strings beside them where sums must add up.
import type { Requester } from './requester.js';
import type { TaskSpecInput } from './types.js';

export interface PriceBookView {
  currency: string;
  /** Price per GPU-hour of models the book does not list. */
  default: string;
  /** Canonical GPU model → price per GPU-hour, e.g. {"H100-80GB": "2.5"}. */
  prices: Record<string, string>;
}

export interface PromotionView {
  name: string;
  /** "30%" or a fixed price "1.50/h". */
  discount: string;
  from: string;
  to: string;
  priority: number;
  models?: string[];
  tenants?: string[];
  /** Daily hours, e.g. "22:00-06:00". */
  hours?: string;
  budget?: string;
  status: 'scheduled' | 'active' | 'off-hours' | 'exhausted' | 'ended';
  /** Discount given so far. */
  spent: string;
}

/** What `promotions.create` accepts. */
export interface PromotionInput {
  name: string;
  /** "30%" or a fixed price per GPU-hour such as "1.50/h". */
  discount: string;
  /** ISO 8601. */
  from: string;
  to: string;
  priority?: number;
  models?: string | string[];
  tenants?: string | string[];
  /** Daily hours, e.g. "22-06" (off-peak). */
  hours?: string;
  /** Total discount the promotion may give. */
  budget?: string | number;
}

export interface Quote {
  gpuModel: string;
  gpuMilli: number;
  gpuCount: number;
  currency: string;
  /** The book's price per whole GPU-hour of the model. */
  unitPrice: number;
  /** The request's list price per hour. */
  listPerHour: number;
  listPerHourExact: string;
  /** The promotion in force now, and when it stops applying. */
  promotion: { name: string; discount: string; endsAt: string; pricePerHour: number; pricePerHourExact: string; budgetLeft: string | null } | null;
  /** The cost of running for the whole time limit from now; null without a time limit. */
  estimate: { timeLimitMs: number; listAmount: number; discountAmount: number; chargedAmount: number; chargedExact: string } | null;
}

interface Amounts {
  listAmount: number;
  discountAmount: number;
  chargedAmount: number;
  listMicros: string;
  discountMicros: string;
  chargedMicros: string;
}

export interface UsageRow extends Amounts {
  tenant: string;
  taskId: string;
  gpuModel: string;
  gpuSeconds: number;
  promotions: string[];
}

/** The rows summed per task array, map or sweep (issue 14), with its elements counted by state. */
export interface UsageGroup extends Amounts {
  kind: 'array' | 'map' | 'sweep';
  /** `a_…` (array, map) or `sw_…` (sweep). */
  id: string;
  name: string;
  tenant: string;
  createdAt: string;
  /** Elements of an array; trials made so far of a sweep. */
  size: number;
  /** Elements by task state, or trials by trial state (PRUNED included). */
  counts: Record<string, number>;
  /** Its tasks with usage in the period. */
  tasks: number;
  gpuSeconds: number;
  promotions: string[];
}

export interface UsageReport {
  from: string | null;
  to: string | null;
  currency: string;
  rows: UsageRow[];
  totals: Amounts & { gpuSeconds: number; promotions: string[] };
  /** Per array, map and sweep with usage in the period; tasks in none are only in `rows`. */
  groups: UsageGroup[];
  /** Admins only: node-hours of the nodes that providers lent (`--autoscale`), by provider. */
  nodeHours?: ProviderNodeHours[];
}

/** One provider's lent nodes over the period: each counts from its agent's join to its release. */
export interface ProviderNodeHours {
  provider: string;
  /** Nodes asked for that were lent at some time in the period. */
  requested: number;
  /** Of those, nodes whose agent joined. */
  joined: number;
  nodeHours: number;
  /** Those hours at each node's own price; null when no node had one. */
  costAmount: number | null;
  costMicros: string | null;
  /** Node-hours of nodes without a price (not in costAmount). */
  unpricedNodeHours: number;
}

export interface UsageQuery {
  tenant?: string;
  /** ISO 8601 or a Date. */
  from?: string | Date;
  to?: string | Date;
}

const isoOf = (v: string | Date | undefined): string | undefined => (v instanceof Date ? v.toISOString() : v);


/** The pool's billing settings. */
export interface BillingSettings {
  /** Running tasks of a tenant whose budget is exhausted: `continue` or `stop`. */
  budgetPolicy: 'continue' | 'stop';
  /** What budgets count: `all` time, or the current UTC calendar `month`, `week` (from Monday) or `day`. */
  budgetPeriod: 'all' | 'month' | 'week' | 'day';
}

export class BillingApi {
  constructor(private readonly client: Requester) {}

  async settings(): Promise<BillingSettings> {
    return this.client.request<BillingSettings>('GET', '/v1/billing/settings');
  }

  /** Change billing settings (admins). @example await fg.billing.setSettings({budgetPeriod: 'month'}) */
  async setSettings(change: Partial<BillingSettings>): Promise<BillingSettings> {
    return this.client.request<BillingSettings>('POST', '/v1/billing/settings', { body: change });
  }

  /** The price book. */
  async prices(): Promise<PriceBookView> {
    return this.client.request<PriceBookView>('GET', '/v1/prices');
  }

  /** Set one model's price per GPU-hour (admins). @example await fg.billing.setPrice('H100', '2.50') */
  async setPrice(model: string, price: string | number, currency?: string): Promise<PriceBookView> {
    return this.client.request<PriceBookView>('POST', '/v1/prices', { body: { model, price, ...(currency !== undefined ? { currency } : {}) } });
  }

  async promotions(): Promise<PromotionView[]> {
    return (await this.client.request<{ promotions: PromotionView[] }>('GET', '/v1/promotions')).promotions;
  }

  /** Create a promotion (admins). @example await fg.billing.createPromotion({name: 'night', discount: '30%', from: '2025-03-01', to: '2025-04-01', hours: '22-06'}) */
  async createPromotion(p: PromotionInput): Promise<PromotionView> {
    return this.client.request<PromotionView>('POST', '/v1/promotions', { body: p });
  }

  /** What a task spec would cost: list price, the promotion in force, the estimate for its time limit. Null for a CPU-only task. */
  async quote(spec: TaskSpecInput): Promise<Quote | null> {
    return (await this.client.request<{ quote: Quote | null }>('POST', '/v1/quote', { body: spec })).quote;
  }

  /** Usage per tenant × task × GPU model over a period (members: their own tenant). */
  async usage(q: UsageQuery = {}): Promise<UsageReport> {
    return this.client.request<UsageReport>('GET', '/v1/usage', { query: { tenant: q.tenant, from: isoOf(q.from), to: isoOf(q.to) } });
  }
}
