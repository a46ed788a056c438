// Prices and promotions (admin writes, anyone reads the book), and price quotes:
//   GET  /v1/prices            the price book
//   POST /v1/prices            {model, price[, currency]}: `fastgpu admin price set MODEL PRICE`
//   GET  /v1/promotions        every promotion with its status and budget used
//   POST /v1/promotions        a promotion in its JSON form: `fastgpu admin promo create ...`
//   POST /v1/quote             a task spec → what it costs (also in POST /v1/tasks?dryRun=true)
// Price and promotion changes go through `billing.changePricing`, which settles all running
// usage first: usage before a change is charged at the terms in force then.
import { z } from 'zod';
import { findGpuModel, GPU_CATALOGUE } from '../../core/catalogue.js';
import { conflict, FastGpuError } from '../../core/errors.js';
import { formatMoney, moneyToNumber, type Micros } from '../../core/pricing/money.js';
import { compilePromotion, formatDiscount, priceBookToInput, promotionInputSchema, promotionToInput, setPrice } from '../../core/pricing/parse.js';
import { promotionStatus, unitPriceOf } from '../../core/pricing/price.js';
import { quote, type Quote } from '../../core/pricing/quote.js';
import type { Promotion } from '../../core/pricing/types.js';
import { amountForModel } from '../../core/resolve.js';
import { whyNeverFits } from '../../core/scheduler/index.js';
import { parseTaskSpec } from '../../core/spec.js';
import type { GpuRequest, NodeRecord, TaskSpec } from '../../core/types.js';
import { authorize } from '../auth.js';
import { TaskSpecInputSchema } from '../schemas.js';
import { specContextFor } from '../time-limits.js';
import { wireAlso, wireAs } from '../wire.js';
import { BUDGET_PERIOD_META } from '../billing.js';
import { BUDGET_POLICY_META, type ControlPlane } from '../control.js';
import type { RouteContext } from './context.js';

const iso = (t: number): string => new Date(t).toISOString();
/** Money for JSON: a number rounded to the cent, and the exact amount as text (6 decimals). */
const money = (m: Micros): number => moneyToNumber(m);
const exact = (m: Micros): string => formatMoney(m, 6);

export const PriceBookViewSchema = z.object({
  currency: z.string(),
  default: z.string().describe('price per GPU-hour of models not listed'),
  prices: z.record(z.string(), z.string()).describe('canonical GPU model → price per GPU-hour'),
});

export const PromotionViewSchema = z.object({
  name: z.string(),
  discount: z.string().describe('"30%" or a fixed price such as "1.50/h"'),
  from: z.string(),
  to: z.string(),
  priority: z.number(),
  models: z.array(z.string()).optional(),
  tenants: z.array(z.string()).optional(),
  hours: z.string().optional(),
  budget: z.string().optional(),
  status: z.enum(['scheduled', 'active', 'off-hours', 'exhausted', 'ended']),
  spent: z.string().describe('discount given so far'),
});

export const QuoteViewSchema = z.object({
  gpuModel: z.string(),
  gpuMilli: z.number(),
  gpuCount: z.number(),
  currency: z.string(),
  unitPrice: z.number().describe('the book’s price per whole GPU-hour of the model'),
  listPerHour: z.number().describe('the request’s list price per hour'),
  listPerHourExact: z.string(),
  promotion: z
    .object({ name: z.string(), discount: z.string(), endsAt: z.string(), pricePerHour: z.number(), pricePerHourExact: z.string(), budgetLeft: z.string().nullable() })
    .nullable(),
  estimate: z
    .object({ timeLimitMs: z.number(), listAmount: z.number(), discountAmount: z.number(), chargedAmount: z.number(), chargedExact: z.string() })
    .nullable(),
});
export type QuoteView = z.infer<typeof QuoteViewSchema>;

const SetPriceSchema = z.strictObject({
  model: wireAs(z.string().min(1).max(64), { type: 'string', enum: GPU_CATALOGUE.map((g) => g.name), description: 'a GPU model of the catalogue (its aliases are taken too)' }),
  price: z.union([z.string(), z.number()]),
  currency: z.string().regex(/^[A-Za-z]{1,8}$/, 'must be a currency code such as "USD"').optional(),
});

function promotionView(p: Promotion, now: number, spent: ReadonlyMap<string, bigint | number>) {
  const v: z.infer<typeof PromotionViewSchema> = {
    name: p.name,
    discount: formatDiscount(p.discount),
    from: iso(p.from),
    to: iso(p.to),
    priority: p.priority,
    status: promotionStatus(p, now, spent),
    spent: formatMoney(BigInt(spent.get(p.name) ?? 0), 2),
  };
  if (p.models && p.models.length > 0) v.models = [...p.models];
  if (p.tenants && p.tenants.length > 0) v.tenants = [...p.tenants];
  if (p.hours) v.hours = String(promotionToInput(p).hours);
  if (p.budget !== undefined && p.budget !== null) v.budget = formatMoney(p.budget, 2);
  return v;
}

/**
 * The GPU model a request is priced under: the one it names, else the cheapest model of the
 * pool that could hold it (READY nodes first), else its catalogue name or '' (the default price).
 */
function modelFor(spec: TaskSpec, nodes: readonly NodeRecord[], control: ControlPlane): { model: string; milli: number } {
  const gpu = spec.resources.gpu!;
  const book = control.billing.pricing.book;
  const ready = nodes.filter((n) => n.state === 'READY');
  const pool = ready.length > 0 ? ready : nodes;
  let best: { model: string; milli: number; price: Micros } | null = null;
  const seen = new Set<string>();
  for (const n of pool) {
    for (const g of n.gpus) {
      if (seen.has(g.model)) continue;
      seen.add(g.model);
      const amount = amountForModel(gpu, { model: g.model, memoryMiB: g.memoryMiB, tflops: g.tflops });
      if (!amount) continue;
      if (whyNeverFits(spec.resources, pool.filter((x) => x.gpus.some((y) => y.model === g.model))) !== null) continue;
      const price = unitPriceOf(book, g.model);
      if (!best || price < best.price) best = { model: g.model, milli: amount.gpuMilli, price };
    }
  }
  if (best) return { model: best.model, milli: best.milli };
  const named = gpu.model !== undefined ? findGpuModel(gpu.model) : undefined;
  const fallback = named ? amountForModel(gpu, { model: named.name, memoryMiB: named.memoryMiB, tflops: named.tflops }) : null;
  return { model: named?.name ?? gpu.model ?? '', milli: fallback?.gpuMilli ?? (gpu.share.kind === 'milli' ? gpu.share.milli : 1000) };
}

/**
 * A tenant whose budget is exhausted may submit nothing new: FORBIDDEN, the message starting
 * with the reason `Budget` (tasks already queued wait with that pending reason).
 */
export async function refuseOverBudget(control: ControlPlane, tenant: string): Promise<void> {
  // The control plane's copy, which every tenant change refreshes before it answers: a budget an
  // admin just raised counts at once (tenant-cache.ts).
  const t = await control.tenantCache.getTenant(tenant);
  if (!t || t.budget === null) return;
  const v = control.billing.budgetOf(t);
  if (v.verdict === 'exhausted') {
    const until = control.billing.budgetPeriod === 'all' ? 'the budget is raised' : 'the budget starts again or is raised';
    throw new FastGpuError('FORBIDDEN', `Budget: ${v.message}; new tasks are refused until ${until}`, 'budget');
  }
}

/** The price of running `spec` from now for its time limit; null for a CPU-only task or one inside a vGPU. */
export function quoteFor(spec: TaskSpec, control: ControlPlane, now: number): QuoteView | null {
  const gpu: GpuRequest | null = spec.resources.gpu;
  // Inside a vGPU reservation the reservation pays for the slice: the task adds no GPU cost.
  if (!gpu || spec.vgpuId !== undefined) return null;
  const { model, milli } = modelFor(spec, [...control.nodes.values()], control);
  const { book, promos, promoSpent } = control.billing.pricing;
  // A gang of N runs N tasks: the quote is for all of them.
  const gpuCount = gpu.count * Math.max(1, spec.gang);
  const q: Quote = quote({ gpuModel: model, gpuMilli: Math.min(1000, milli), gpuCount, tenant: spec.tenant }, spec.timeLimitMs, now, book, promos, promoSpent);
  return {
    gpuModel: q.gpuModel,
    gpuMilli: Math.min(1000, milli),
    gpuCount,
    currency: q.currency,
    unitPrice: money(q.unitPrice),
    listPerHour: money(q.listPerHour),
    listPerHourExact: exact(q.listPerHour),
    promotion: q.promotion
      ? {
          name: q.promotion.name,
          discount: formatDiscount(q.promotion.discount),
          endsAt: iso(q.promotion.endsAt),
          pricePerHour: money(q.promotion.pricePerHour),
          pricePerHourExact: exact(q.promotion.pricePerHour),
          budgetLeft: q.promotion.budgetLeft === null ? null : formatMoney(q.promotion.budgetLeft, 2),
        }
      : null,
    estimate: q.estimate
      ? {
          timeLimitMs: q.estimate.timeLimitMs,
          listAmount: money(q.estimate.listAmount),
          discountAmount: money(q.estimate.discountAmount),
          chargedAmount: money(q.estimate.chargedAmount),
          chargedExact: exact(q.estimate.chargedAmount),
        }
      : null,
  };
}

export function pricingRoutes(ctx: RouteContext): void {
  const { book, store, control, clock } = ctx;

  book.add({
    method: 'GET',
    url: '/v1/prices',
    tag: 'pricing',
    summary: 'The price book: price per GPU-hour by GPU model (a fraction pays its fraction)',
    response: PriceBookViewSchema,
    handler: async ({ principal }) => {
      authorize(principal, 'price.read', null);
      const input = priceBookToInput(control.billing.pricing.book);
      return { currency: input.currency ?? 'USD', default: String(input.default ?? '0'), prices: (input.prices ?? {}) as Record<string, string> };
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/prices',
    tag: 'pricing',
    summary: 'Set the price per GPU-hour of one GPU model (admins); running usage is settled at the old price first',
    body: SetPriceSchema,
    response: PriceBookViewSchema,
    handler: async ({ body, principal }) => {
      authorize(principal, 'price.set', null);
      const next = await control.billing.changePricing(async () => {
        const current = (await store.getPriceBook()) ?? control.billing.pricing.book;
        let b = setPrice(current, body.model, body.price, 'price');
        if (body.currency !== undefined) b = { ...b, currency: body.currency.toUpperCase() };
        await store.setPriceBook(b);
        return b;
      });
      const input = priceBookToInput(next);
      return { currency: input.currency ?? 'USD', default: String(input.default ?? '0'), prices: (input.prices ?? {}) as Record<string, string> };
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/promotions',
    tag: 'pricing',
    summary: 'Every promotion with its status (scheduled, active, off-hours, exhausted, ended) and the discount given so far',
    response: z.object({ promotions: z.array(PromotionViewSchema) }),
    handler: async ({ principal }) => {
      authorize(principal, 'price.read', null);
      const now = clock.now();
      const spent = await store.getPromoSpent();
      const all = (await store.listPromotions()).map((p) => ({ p, v: promotionView(p, now, spent) }));
      if (principal.role === 'admin') return { promotions: all.map((x) => x.v) };
      // Members and viewers see the promotions that apply to their tenant, and not whom else
      // a promotion names: another tenant's name is theirs to keep.
      return {
        promotions: all
          .filter(({ p }) => !p.tenants || p.tenants.length === 0 || p.tenants.includes(principal.tenant))
          .map(({ v }) => {
            const { tenants: _hidden, ...shown } = v;
            return shown;
          }),
      };
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/promotions',
    tag: 'pricing',
    summary: 'Create a promotion (admins): {name, discount: "30%" | "1.50/h", from, to, priority?, models?, tenants?, hours?: "22-06", budget?}',
    bodyDoc: promotionInputSchema,
    response: PromotionViewSchema,
    status: 201,
    handler: async ({ req, principal }) => {
      authorize(principal, 'promo.create', null);
      const p = compilePromotion(req.body ?? {}, 'body');
      await control.billing.changePricing(async () => {
        if (await store.getPromotion(p.name)) throw conflict(`a promotion named ${p.name} exists`);
        await store.insertPromotion(p);
      });
      return promotionView(p, clock.now(), control.billing.pricing.promoSpent);
    },
  });

  const SettingsSchema = z.object({
    budgetPolicy: z.enum(['continue', 'stop']).describe('running tasks of a tenant whose budget is exhausted: continue (default) or stop'),
    budgetPeriod: z.enum(['all', 'month', 'week', 'day']).describe('what budgets count: all time (default), or the current UTC calendar month, week (from Monday) or day'),
  });
  const settings = (): z.infer<typeof SettingsSchema> => ({ budgetPolicy: control.budgetPolicy, budgetPeriod: control.billing.budgetPeriod });
  book.add({
    method: 'GET',
    url: '/v1/billing/settings',
    tag: 'pricing',
    summary: 'Billing settings: what happens to running tasks once their tenant’s budget is exhausted, and what budgets count',
    response: SettingsSchema,
    handler: async ({ principal }) => {
      authorize(principal, 'price.read', null);
      return settings();
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/billing/settings',
    tag: 'pricing',
    summary: 'Change the billing settings (admins): {budgetPolicy?: "continue" | "stop", budgetPeriod?: "all" | "month" | "week" | "day"}',
    body: wireAlso(
      SettingsSchema.partial()
        .strict()
        .refine((b) => b.budgetPolicy !== undefined || b.budgetPeriod !== undefined, { message: 'give budgetPolicy, budgetPeriod or both' }),
      { anyOf: [{ required: ['budgetPolicy'] }, { required: ['budgetPeriod'] }] },
    ),
    response: SettingsSchema,
    handler: async ({ body, principal }) => {
      authorize(principal, 'price.set', null);
      if (body.budgetPolicy !== undefined) {
        await store.setMeta(BUDGET_POLICY_META, body.budgetPolicy);
        control.budgetPolicy = body.budgetPolicy;
      }
      if (body.budgetPeriod !== undefined) {
        await store.setMeta(BUDGET_PERIOD_META, body.budgetPeriod);
        await control.billing.setBudgetPeriod(body.budgetPeriod);
        // Tasks waiting for Budget may go now (or must wait): the next cycle decides.
        control.kick();
      }
      return settings();
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/quote',
    tag: 'pricing',
    summary: 'What a task spec would cost: list price per hour, the promotion in force and when it ends, the estimate for its time limit',
    bodyDoc: TaskSpecInputSchema,
    response: z.object({ quote: QuoteViewSchema.nullable() }),
    handler: async ({ req, principal }) => {
      authorize(principal, 'price.read', null);
      const spec = parseTaskSpec(req.body ?? {}, await specContextFor(control.tenantCache, principal.tenant, ctx.defaultTimeLimitMs));
      return { quote: quoteFor(spec, control, clock.now()) };
    },
  });
}
