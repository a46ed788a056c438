// `fastgpu admin price set MODEL PRICE_PER_GPU_HOUR`, `fastgpu admin price ls`,
// `fastgpu admin promo create --name N --discount 30% --from ISO --to ISO [--models H100,A100]
// [--tenants a,b] [--hours 22-06] [--priority P] [--budget AMOUNT]` and `fastgpu admin promo ls`.
// They attach to the `admin` group through admin.ts's `adminCommand` hook.
import type { Command } from 'commander';
import { FastGpuError } from '../../core/errors.js';
import { compilePromotion, parseDiscount, parseHours, parseInstant, parseModelList, parseTenantList } from '../../core/pricing/parse.js';
import { MAX_PRICE_MICROS, parseMoney } from '../../core/pricing/money.js';
import type { BillingSettings, PriceBookView, PromotionInput, PromotionView } from '../../sdk/billing.js';
import { contextOf } from '../context.js';
import { UsageError, clientFor, intFlag, outputFlag, withConnection, withOutput } from '../flags.js';
import { table } from '../format.js';
import { adminCommand } from './admin.js';

export interface RawPromoCreate {
  name: string;
  discount: string;
  from: string;
  to: string;
  models?: string;
  tenants?: string;
  hours?: string;
  priority?: string;
  budget?: string;
}

/** Runs a core parser; its FastGpuError (naming the field) becomes a UsageError naming the flag. */
function flag<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FastGpuError) throw new UsageError(`--${name}: ${e.message.replace(/^[\w.]+: /, '')}`);
    throw e;
  }
}

/**
 * Flags → the promotion's JSON form, each flag checked with the server's own parsers.
 * @example compilePromoCreate({name: 'night', discount: '30%', from: '2025-03-01', to: '2025-04-01', hours: '22-06'})
 */
export function compilePromoCreate(raw: RawPromoCreate): PromotionInput {
  flag('discount', () => parseDiscount(raw.discount, 'discount'));
  flag('from', () => parseInstant(raw.from, 'from'));
  flag('to', () => parseInstant(raw.to, 'to'));
  const out: PromotionInput = { name: raw.name, discount: raw.discount.trim(), from: raw.from.trim(), to: raw.to.trim() };
  if (raw.models !== undefined) out.models = flag('models', () => parseModelList(raw.models!, 'models'));
  if (raw.tenants !== undefined) out.tenants = flag('tenants', () => parseTenantList(raw.tenants!, 'tenants'));
  if (raw.hours !== undefined) {
    flag('hours', () => parseHours(raw.hours!, 'hours'));
    out.hours = raw.hours.trim();
  }
  if (raw.priority !== undefined) out.priority = intFlag(raw.priority, '--priority', -1_000_000, 1_000_000);
  if (raw.budget !== undefined) {
    flag('budget', () => parseMoney(raw.budget!, 'budget'));
    out.budget = raw.budget.trim();
  }
  // The whole promotion as the server reads it (the window's order, a name's characters).
  try {
    compilePromotion(out, 'promotion');
  } catch (e) {
    if (!(e instanceof FastGpuError)) throw e;
    const field = (e.field ?? 'promotion').replace(/^promotion\.?/, '') || 'name';
    throw new UsageError(`--${field.split('.')[0]}: ${e.message.replace(/^[\w.]+: /, '')}`);
  }
  return out;
}

const PERIODS: readonly BillingSettings['budgetPeriod'][] = ['all', 'month', 'week', 'day'];
const POLICIES: readonly BillingSettings['budgetPolicy'][] = ['continue', 'stop'];

/** `--budget-period` / `--budget-policy` → the settings change; a bad value names its flag. */
export function compileBillingSettings(raw: { budgetPeriod?: string; budgetPolicy?: string }): Partial<BillingSettings> {
  const out: Partial<BillingSettings> = {};
  const pick = <T extends string>(v: string, allowed: readonly T[], flag: string): T => {
    const x = v.trim().toLowerCase() as T;
    if (!allowed.includes(x)) throw new UsageError(`${flag}: ${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
    return x;
  };
  if (raw.budgetPeriod !== undefined) out.budgetPeriod = pick(raw.budgetPeriod, PERIODS, '--budget-period');
  if (raw.budgetPolicy !== undefined) out.budgetPolicy = pick(raw.budgetPolicy, POLICIES, '--budget-policy');
  return out;
}

export function priceTable(book: PriceBookView): string {
  const rows = Object.entries(book.prices).map(([model, price]) => [model, `${price} ${book.currency}`]);
  rows.push(['(other models)', `${book.default} ${book.currency}`]);
  return table(['MODEL', 'PER GPU-HOUR'], rows);
}

export function promoTable(list: readonly PromotionView[]): string {
  if (list.length === 0) return 'no promotions\n';
  return table(
    ['NAME', 'DISCOUNT', 'FROM', 'TO', 'STATUS', 'MODELS', 'TENANTS', 'HOURS', 'PRIORITY', 'BUDGET', 'GIVEN'],
    list.map((p) => [p.name, p.discount, p.from, p.to, p.status, p.models?.join(',') ?? '*', p.tenants?.join(',') ?? '*', p.hours ?? '-', String(p.priority), p.budget ?? '-', p.spent]),
  );
}

export function register(program: Command): void {
  const admin = adminCommand(program);
  const price = admin.command('price').description('the price book: price per GPU-hour by GPU model (a fraction pays its fraction)');

  withOutput(withConnection(price.command('set')))
    .description('set the price per GPU-hour of a GPU model; running usage is charged at the old price up to now')
    .argument('<model>', 'GPU model, e.g. H100 or A100-40GB')
    .argument('<price>', 'price per GPU-hour, e.g. 2.50')
    .option('--currency <code>', 'currency of the book, e.g. USD or EUR')
    .action(async (model: string, priceArg: string, raw: { currency?: string; output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      flag('model', () => parseModelList(model, 'model'));
      flag('price', () => parseMoney(priceArg, 'price', MAX_PRICE_MICROS));
      const book = await clientFor(cmd).billing.setPrice(model.trim(), priceArg.trim(), raw.currency);
      ctx.stdout.write(output === 'json' ? `${JSON.stringify(book, null, 2)}\n` : priceTable(book));
    });

  withOutput(withConnection(price.command('ls')))
    .description('show the price book')
    .action(async (raw: { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const book = await clientFor(cmd).billing.prices();
      ctx.stdout.write(output === 'json' ? `${JSON.stringify(book, null, 2)}\n` : priceTable(book));
    });

  withOutput(withConnection(admin.command('billing')))
    .description('show the billing settings, or change them with the flags')
    .option('--budget-period <p>', 'what budgets count: all (time), month, week (from Monday) or day, in UTC')
    .option('--budget-policy <p>', 'running tasks of a tenant whose budget is exhausted: continue or stop')
    .action(async (raw: { budgetPeriod?: string; budgetPolicy?: string; output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const change = compileBillingSettings(raw);
      const client = clientFor(cmd).billing;
      const s = Object.keys(change).length > 0 ? await client.setSettings(change) : await client.settings();
      ctx.stdout.write(output === 'json' ? `${JSON.stringify(s, null, 2)}\n` : table(['BUDGET PERIOD', 'BUDGET POLICY'], [[s.budgetPeriod, s.budgetPolicy]]));
    });

  const promo = admin.command('promo').description('time-limited promotions: a discount over a window, optionally for some models, tenants or daily hours');

  withOutput(withConnection(promo.command('create')))
    .description('create a promotion, e.g. --name night --discount 30% --from 2025-03-01 --to 2025-04-01 --hours 22-06')
    .requiredOption('--name <name>', 'unique name')
    .requiredOption('--discount <d>', 'a percentage such as 30% or a fixed price per GPU-hour such as 1.50/h')
    .requiredOption('--from <iso>', 'start (ISO 8601), inclusive')
    .requiredOption('--to <iso>', 'end (ISO 8601), exclusive')
    .option('--models <list>', 'only these GPU models, comma separated (default: all)')
    .option('--tenants <list>', 'only these tenants, comma separated (default: all)')
    .option('--hours <h-h>', 'only during these daily hours (UTC), e.g. 22-06 for off-peak nights')
    .option('--priority <p>', 'among overlapping promotions the highest wins (default 0)')
    .option('--budget <amount>', 'total discount it may give (default: unlimited)')
    .action(async (raw: RawPromoCreate & { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const p = await clientFor(cmd).billing.createPromotion(compilePromoCreate(raw));
      ctx.stdout.write(output === 'json' ? `${JSON.stringify(p, null, 2)}\n` : promoTable([p]));
    });

  withOutput(withConnection(promo.command('ls')))
    .description('list promotions with their status and the discount given so far')
    .action(async (raw: { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const list = await clientFor(cmd).billing.promotions();
      ctx.stdout.write(output === 'json' ? `${JSON.stringify(list, null, 2)}\n` : promoTable(list));
    });
}
