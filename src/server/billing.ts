// Metering into the ledger, for the control plane. One ledger entry per attempt, opened when
// the attempt starts, settled every `settleEveryMs` of clock time (not every tick) and at its
// end, each settlement written with the store's atomic `settleLedger`. The entry's `settledTo`
// makes settlement idempotent: a restart, a retry or a stale copy never charges an interval
// twice, and `reconcile` closes or opens what a crash left between an attempt's end (or start)
// and its ledger write.
//
// Also here: the pricing context (price book, promotions, promotion budgets consumed), what each
// tenant has spent (for budgets), and price changes, which settle everything first so that usage
// before a change is charged at the old price.
import { EMPTY_PRICE_BOOK } from '../core/pricing/parse.js';
import { closeEntry, entryInitFor, entryKey, openEntry, settleAll, type LedgerEntry, type PricingContext } from '../core/pricing/ledger.js';
import type { Micros } from '../core/pricing/money.js';
import type { PricedUsage } from '../core/pricing/types.js';
import { chargedWithin } from '../core/pricing/report.js';
import { BUDGET_PERIODS, budgetPeriodStart, budgetVerdict, type BudgetPeriod, type BudgetVerdict } from '../core/tenancy/quota.js';
import type { Attempt, Task } from '../core/types.js';
import { ledgerWrites } from '../store/ledger.js';
import type { Store, TenantRecord } from '../store/port.js';
import type { Clock } from '../core/types.js';

export interface BillingOptions {
  store: Store;
  clock: Clock;
  /** Clock ms between settlements of running entries; default 30 s. */
  settleEveryMs?: number;
  log?: (line: string) => void;
}

/**
 * What the ledger needs of an attempt that starts or ends. A vGPU reservation is metered the
 * same way: its id as the task, its placement count as the attempt.
 */
export interface MeteredAttempt {
  task: { id: string; spec: Pick<Task['spec'], 'tenant'> };
  attempt: Pick<Attempt, 'attempt' | 'placement'>;
  /** The model of the placed GPUs (the node's); null when it holds none or is unknown. */
  gpuModel: string | null;
}

export const DEFAULT_SETTLE_EVERY_MS = 30_000;
/** Meta key of the pool's budget period (`all`, `month`, `week`, `day`). */
export const BUDGET_PERIOD_META = 'budgetPeriod';
/** Retries of a settlement refused for a stale read (another writer, or a promotion total). */
const SETTLE_RETRIES = 3;

/** An attempt's key in OpenEntries and reconcile. */
const attemptKey = (taskId: string, attempt: number): string => `${taskId}#${attempt}`;

/**
 * The running entries by key (`taskId/attempt/seq`), and by attempt: every start and end looks
 * its attempt's entry up, and a pool runs thousands of attempts at once.
 */
class OpenEntries {
  private readonly byKey = new Map<string, LedgerEntry>();
  /** Keys by `taskId#attempt`, in the order they came (as byKey's). */
  private readonly byAttempt = new Map<string, Set<string>>();

  set(e: LedgerEntry): void {
    const key = entryKey(e);
    this.byKey.set(key, e);
    const a = attemptKey(e.taskId, e.attempt);
    let keys = this.byAttempt.get(a);
    if (!keys) this.byAttempt.set(a, (keys = new Set()));
    keys.add(key);
  }

  delete(e: LedgerEntry): void {
    const key = entryKey(e);
    this.byKey.delete(key);
    const a = attemptKey(e.taskId, e.attempt);
    const keys = this.byAttempt.get(a);
    keys?.delete(key);
    if (keys?.size === 0) this.byAttempt.delete(a);
  }

  clear(): void {
    this.byKey.clear();
    this.byAttempt.clear();
  }

  /** The first running entry of the attempt, if any. */
  of(taskId: string, attempt: number): LedgerEntry | undefined {
    for (const key of this.byAttempt.get(attemptKey(taskId, attempt)) ?? []) return this.byKey.get(key);
    return undefined;
  }

  values(): IterableIterator<LedgerEntry> {
    return this.byKey.values();
  }
}

export class Billing {
  private readonly open = new OpenEntries();
  private ctx: PricingContext = { book: EMPTY_PRICE_BOOK, promos: [], promoSpent: new Map() };
  /** Σ charged per tenant in the current budget period (since `periodStart`; all time for `all`). */
  private spent = new Map<string, Micros>();
  /** What budgets count (the store's meta `budgetPeriod`; all time until set). */
  private period: BudgetPeriod = 'all';
  private periodStart: number | null = null;
  private periodReloading = false;
  private lastSettle = 0;
  private chain: Promise<void> = Promise.resolve();
  private depth = 0;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  readonly settleEveryMs: number;

  constructor(opts: BillingOptions) {
    this.store = opts.store;
    this.clock = opts.clock;
    this.log = opts.log ?? (() => {});
    this.settleEveryMs = opts.settleEveryMs ?? DEFAULT_SETTLE_EVERY_MS;
  }

  /** Load the running entries, the pricing context and the spend. */
  async load(): Promise<void> {
    this.open.clear();
    for (const e of await this.store.listLedgerEntries({ open: true })) this.open.set(e);
    const stored = await this.store.getMeta(BUDGET_PERIOD_META);
    if (BUDGET_PERIODS.includes(stored as BudgetPeriod)) this.period = stored as BudgetPeriod;
    await this.reloadPricing();
    this.lastSettle = this.clock.now();
  }

  private async reloadPricing(): Promise<void> {
    const start = budgetPeriodStart(this.period, this.clock.now());
    const [book, promos, promoSpent, spent] = await Promise.all([
      this.store.getPriceBook(),
      this.store.listPromotions(),
      this.store.getPromoSpent(),
      start === null ? this.store.spendByTenant() : this.store.spendByTenantSince(start),
    ]);
    this.ctx = { book: book ?? EMPTY_PRICE_BOOK, promos, promoSpent };
    this.spent = spent;
    this.periodStart = start;
  }

  /** What budgets count: `all` time, or the current UTC `month`, `week` or `day`. */
  get budgetPeriod(): BudgetPeriod {
    return this.period;
  }

  /** Changes what budgets count (stored by the caller); resolves once the spend is re-read. */
  setBudgetPeriod(period: BudgetPeriod): Promise<void> {
    return this.serial('budget period', async () => {
      this.period = period;
      await this.reloadPricing();
    });
  }

  /** Adds newly charged usage to the spend, only the part inside the current budget period. */
  private addSpend(priced: PricedUsage | null): void {
    if (!priced) return;
    const since = this.periodStart ?? -Infinity;
    let add = 0n;
    for (const l of priced.lines) add += chargedWithin(l, since, Infinity);
    if (add !== 0n) this.spent.set(priced.segment.tenant, this.spendOf(priced.segment.tenant) + add);
  }

  /** The pricing context in force (for quotes and metrics). */
  get pricing(): PricingContext {
    return this.ctx;
  }

  /** Σ charged per tenant in the current budget period, as of the last settlement. */
  spendOf(tenant: string): Micros {
    return this.spent.get(tenant) ?? 0n;
  }

  spend(): ReadonlyMap<string, Micros> {
    return this.spent;
  }

  budgetOf(t: Pick<TenantRecord, 'name' | 'budget'>): BudgetVerdict {
    return budgetVerdict(t, this.spendOf(t.name), this.ctx.book.currency, this.period, this.clock.now());
  }

  /** Running entries (for metrics and tests). */
  openEntries(): LedgerEntry[] {
    return [...this.open.values()];
  }

  /** Run after every earlier ledger write. Errors are logged, never thrown at the control loop. */
  private serial(what: string, fn: () => Promise<void>): Promise<void> {
    this.depth++;
    const p = this.chain.then(fn).catch((e: unknown) => this.log(`error: ledger ${what}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
    this.chain = p.finally(() => {
      this.depth--;
    });
    return this.chain;
  }

  /** Resolves once every queued ledger write is done. */
  async idle(): Promise<void> {
    while (this.depth > 0) await this.chain;
  }

  get busy(): boolean {
    return this.depth > 0;
  }

  /** An attempt started at `startedAt`: open its entry (once). */
  started(m: MeteredAttempt, startedAt: number): void {
    void this.serial(`open ${m.task.id}#${m.attempt.attempt}`, async () => void (await this.openFor(m, startedAt)));
  }

  private async openFor(m: MeteredAttempt, startedAt: number): Promise<LedgerEntry | undefined> {
    const mine = this.open.of(m.task.id, m.attempt.attempt);
    if (mine) return mine;
    const stored = await this.store.listLedgerEntries({ taskId: m.task.id, attempt: m.attempt.attempt });
    if (stored.length > 0) {
      const last = stored[stored.length - 1]!;
      if (last.to === null) this.open.set(last);
      return last.to === null ? last : undefined;
    }
    const e = openEntry(entryInitFor(m.task, m.attempt, m.gpuModel), startedAt);
    await this.store.openLedgerEntry(e);
    this.open.set(e);
    return e;
  }

  /** An attempt ended at `endedAt`: close its entry, charging what is left (opening it first if its start was never metered). */
  ended(m: MeteredAttempt, startedAt: number | null, endedAt: number): void {
    void this.serial(`close ${m.task.id}#${m.attempt.attempt}`, async () => {
      let entry = this.open.of(m.task.id, m.attempt.attempt);
      if (!entry && startedAt !== null) entry = await this.openFor(m, startedAt);
      if (entry) await this.close(entry, endedAt);
    });
  }

  private async close(entry: LedgerEntry, endedAt: number): Promise<void> {
    for (let i = 0; ; i++) {
      const s = closeEntry(entry, endedAt, this.ctx);
      const conflicts = await this.store.settleLedger({ writes: ledgerWrites([entry], [s.entry]), priced: s.priced ? [s.priced] : [], promoSpent: s.promoSpent });
      if (conflicts.length === 0) {
        this.open.delete(entry);
        this.ctx = { ...this.ctx, promoSpent: s.promoSpent };
        this.addSpend(s.priced);
        return;
      }
      if (i >= SETTLE_RETRIES) throw new Error(`close of ${entryKey(entry)} refused: ${conflicts.join(', ')}`);
      entry = (await this.refresh(entry)) ?? entry;
      if (entry.to !== null) {
        this.open.delete(entry);
        return;
      }
    }
  }

  /** Reload one entry and the totals after a refused settlement. */
  private async refresh(entry: LedgerEntry): Promise<LedgerEntry | undefined> {
    await this.reloadPricing();
    const fresh = (await this.store.listLedgerEntries({ taskId: entry.taskId, attempt: entry.attempt })).find((e) => e.seq === entry.seq);
    if (fresh) {
      if (fresh.to === null) this.open.set(fresh);
      else this.open.delete(fresh);
    }
    return fresh;
  }

  /**
   * Settle every running entry up to now when `settleEveryMs` has passed since the last time;
   * when a new budget period has begun, re-read the spend (budgets start again).
   */
  maybeSettle(): void {
    const now = this.clock.now();
    if (this.period !== 'all' && !this.periodReloading && budgetPeriodStart(this.period, now) !== this.periodStart) {
      this.periodReloading = true;
      void this.serial('new budget period', () => this.reloadPricing()).finally(() => {
        this.periodReloading = false;
      });
    }
    if (now - this.lastSettle < this.settleEveryMs) return;
    void this.settleNow();
  }

  /** Settle every running entry up to now (in charging order); resolves once written. */
  settleNow(): Promise<void> {
    this.lastSettle = this.clock.now();
    return this.serial('settlement', () => this.settleAllNow());
  }

  private async settleAllNow(): Promise<void> {
    for (let i = 0; ; i++) {
      const before = [...this.open.values()];
      if (before.length === 0) return;
      const now = this.clock.now();
      const r = settleAll(before, now, this.ctx);
      const writes = ledgerWrites(before, r.entries);
      if (writes.length === 0) return;
      const conflicts = await this.store.settleLedger({ writes, priced: r.priced, promoSpent: r.promoSpent });
      if (conflicts.length === 0) {
        for (const e of r.entries) this.open.set(e);
        this.ctx = { ...this.ctx, promoSpent: r.promoSpent };
        for (const p of r.priced) this.addSpend(p);
        return;
      }
      if (i >= SETTLE_RETRIES) throw new Error(`settlement refused: ${conflicts.slice(0, 5).join(', ')}`);
      this.log(`warn: settlement refused (${conflicts.slice(0, 3).join(', ')}); reloading the ledger`);
      await this.load();
    }
  }

  /**
   * Change prices or promotions: everything running is settled up to now at the old terms, then
   * `change` runs (the store writes), then the new terms are loaded.
   */
  changePricing<T>(change: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      void this.serial('pricing change', async () => {
        try {
          this.lastSettle = this.clock.now();
          await this.settleAllNow();
          const out = await change();
          await this.reloadPricing();
          resolve(out);
        } catch (e) {
          reject(e); // the caller's error (a bad price): not the ledger's
        }
      });
    });
  }

  /**
   * After a (re)start: close entries whose attempt is no longer a live one, and open entries for
   * live attempts that have none. `live`: every running attempt and placed reservation, with
   * when it began. `endOf` tells when a closed one ended (its recorded end, if known).
   */
  reconcile(live: readonly { m: MeteredAttempt; since: number }[], endOf: (taskId: string, attempt: number) => Promise<number | null>): Promise<void> {
    return this.serial('reconcile', async () => {
      const current = new Map(live.map((l) => [attemptKey(l.m.task.id, l.m.attempt.attempt), l]));
      for (const e of [...this.open.values()]) {
        if (current.has(attemptKey(e.taskId, e.attempt))) continue;
        await this.close(e, (await endOf(e.taskId, e.attempt)) ?? e.settledTo);
      }
      const metered = new Set([...this.open.values()].map((e) => attemptKey(e.taskId, e.attempt)));
      for (const [key, l] of current) if (!metered.has(key)) await this.openFor(l.m, l.since);
    });
  }
}
