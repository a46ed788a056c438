// Conformance tests for issue 4's storage (tenants, price book, promotions, the ledger and its
// settlement), registered by storeConformance so every adapter runs them.
//
// Contract points the port's types do not spell out, and that this suite pins down:
// - Money and meters come back exactly, bigints beyond 2^53 included (up to 2^63 − 1).
// - `upsertTenant` keeps the first createdAt; a duplicate promotion name or ledger key is CONFLICT;
//   a price book or promotion that would not load again is INVALID_ARGUMENT and nothing is written.
// - `settleLedger` is all or nothing: with any conflict (stale entry, new entry that exists,
//   a closed entry moved, a line overlapping a charged one, promotion totals that are not the
//   store's plus this settlement's discounts) it returns them and changes nothing.
// - `listPricedUsage` returns lines overlapping [from, to) (a line ending at `from` or starting
//   at `to` is out), by from, taskId, attempt. Totals are over all time.
import { describe, expect, it } from 'vitest';
import {
  closeEntry,
  openEntry,
  settleAll,
  splitEntry,
  spendByTenant as coreSpendByTenant,
  type LedgerEntry,
  type OpenEntryInit,
  type PricingContext,
} from '../core/pricing/ledger.js';
import { compilePriceBook, compilePromotion } from '../core/pricing/parse.js';
import { usageReport } from '../core/pricing/report.js';
import type { PriceBook, PricedUsage, Promotion } from '../core/pricing/types.js';
import { ledgerWrites, linesToPricedUsage, pricedUsageToLines } from './ledger.js';
import type { PricedLineRecord, Store, TenantRecord, TokenRecord } from './port.js';

const H = 3_600_000;
const MIN = 60_000;
const T0 = Date.UTC(2025, 2, 1);
/** Beyond what a double holds exactly. */
const HUGE = 2n ** 60n + 7n;

export const fixtureBook = (): PriceBook => compilePriceBook({ currency: 'EUR', default: '1.00', prices: { H100: '3.60', A100: '1.999999' } });

/** 50% off H100 from 00:30 to 02:00, with a 1.00 budget. */
export const fixturePromo = (over: Record<string, unknown> = {}): Promotion =>
  compilePromotion({ name: 'night', discount: '50%', from: '2025-03-01T00:30Z', to: '2025-03-01T02:00Z', models: 'H100', budget: '1.00', ...over });

const entryInit = (over: Partial<OpenEntryInit> = {}): OpenEntryInit => ({
  tenant: 'a',
  taskId: 't1',
  attempt: 1,
  gpuModel: 'H100-80GB',
  gpuMilli: 500,
  gpuCount: 1,
  cpuMilli: 2000,
  memoryMiB: 4096,
  ...over,
});

/** An entry with every meter and amount beyond 2^53. */
function hugeEntry(taskId: string, o: Partial<LedgerEntry> = {}): LedgerEntry {
  return {
    ...openEntry(entryInit({ taskId }), T0),
    settledTo: T0 + H,
    gpuMilliMs: HUGE,
    cpuMilliMs: HUGE + 1n,
    memoryMiBMs: HUGE + 2n,
    listAmount: HUGE + 3n,
    discountAmount: 3n,
    chargedAmount: HUGE,
    ...o,
  };
}

/** Everything settlement touches, to show that a refused one changed nothing. */
async function snapshot(s: Store) {
  return {
    entries: await s.listLedgerEntries(),
    lines: await s.listPricedUsage(),
    spend: await s.spendByTenant(),
    promo: await s.getPromoSpent(),
  };
}

const byLineOrder = (a: PricedLineRecord, b: PricedLineRecord): number =>
  a.from - b.from || (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0) || a.attempt - b.attempt;

const nonZero = (m: ReadonlyMap<string, bigint>): Map<string, bigint> => new Map([...m].filter(([, v]) => v !== 0n));

/** Registers the billing tests; `store()` is the suite's current (initialised) store. */
export function billingConformance(store: () => Store): void {
  describe('tenants', () => {
    const research: TenantRecord = { name: 'research', guaranteeMilli: 2000, limitMilli: 4000, weight: 2.5, budget: HUGE, createdAt: T0, defaultTimeLimitMs: 7_200_000 };
    const ops: TenantRecord = { name: 'ops', guaranteeMilli: 0, limitMilli: null, weight: 1, budget: null, createdAt: T0 + 1, defaultTimeLimitMs: null };

    it('round-trips tenants exactly and lists them by name', async () => {
      const s = store();
      expect(await s.listTenants()).toEqual([]);
      await s.upsertTenant(research);
      await s.upsertTenant(ops);
      expect(await s.getTenant('research')).toEqual(research);
      expect(await s.getTenant('ops')).toEqual(ops);
      expect(await s.getTenant('nobody')).toBeNull();
      expect(await s.listTenants()).toEqual([ops, research]);
    });

    it('upsert replaces quota, weight and budget but keeps the first createdAt', async () => {
      const s = store();
      await s.upsertTenant(research);
      const changed: TenantRecord = { name: 'research', guaranteeMilli: 500, limitMilli: null, weight: 0.25, budget: null, createdAt: T0 + 999, defaultTimeLimitMs: 60_000 };
      await s.upsertTenant(changed);
      expect(await s.getTenant('research')).toEqual({ ...changed, createdAt: T0 });
      await s.upsertTenant({ ...changed, budget: 1n });
      expect((await s.getTenant('research'))?.budget).toBe(1n);
      // The default time limit is replaced like the rest; absent or null clears it (the pool's).
      await s.upsertTenant({ ...changed, defaultTimeLimitMs: 30 * 86_400_000 });
      expect((await s.getTenant('research'))?.defaultTimeLimitMs).toBe(30 * 86_400_000);
      const { defaultTimeLimitMs: _dropped, ...without } = changed;
      await s.upsertTenant(without);
      expect((await s.getTenant('research'))?.defaultTimeLimitMs).toBeNull();
      expect(await s.listTenants()).toHaveLength(1);
    });

    it('delete removes the tenant and revokes its live tokens in one go; others are untouched', async () => {
      const s = store();
      await s.upsertTenant(research);
      await s.upsertTenant(ops);
      const tok = (id: string, tenant: string, revokedAt: number | null): TokenRecord => ({ id, hash: `h-${id}`, tenant, role: 'member', name: id, createdAt: T0, revokedAt });
      await s.insertToken(tok('r1', 'research', null));
      await s.insertToken(tok('r2', 'research', T0 + 1)); // revoked before: keeps its time
      await s.insertToken(tok('o1', 'ops', null));
      expect(await s.deleteTenant('research', T0 + 50)).toBe(1);
      expect(await s.getTenant('research')).toBeNull();
      expect(await s.listTenants()).toEqual([ops]);
      expect((await s.getToken('r1'))?.revokedAt).toBe(T0 + 50);
      expect((await s.getToken('r2'))?.revokedAt).toBe(T0 + 1);
      expect((await s.getToken('o1'))?.revokedAt).toBeNull();
      expect(await s.deleteTenant('research', T0 + 60)).toBeNull();
      // The name can be used again, from scratch.
      await s.upsertTenant({ ...research, createdAt: T0 + 70 });
      expect((await s.getTenant('research'))?.createdAt).toBe(T0 + 70);
    });
  });

  describe('tokens by id', () => {
    it('gets a token by id, revoked or not, and misses unknown ids', async () => {
      const s = store();
      const t: TokenRecord = { id: 'tok1', hash: 'h1', tenant: 'research', role: 'viewer', name: 'ci', createdAt: T0, revokedAt: null };
      await s.insertToken(t);
      expect(await s.getToken('tok1')).toEqual(t);
      expect(await s.getToken('nope')).toBeNull();
      await s.revokeToken('tok1', T0 + 5);
      expect(await s.getToken('tok1')).toEqual({ ...t, revokedAt: T0 + 5 });
    });
  });

  describe('price book', () => {
    it('is null until set, then round-trips and is replaced whole', async () => {
      const s = store();
      expect(await s.getPriceBook()).toBeNull();
      const book = fixtureBook();
      await s.setPriceBook(book);
      expect(await s.getPriceBook()).toEqual(book);
      const next: PriceBook = { currency: 'USD', prices: new Map([['B200', HUGE]]), defaultPrice: 1n };
      await s.setPriceBook(next);
      expect(await s.getPriceBook()).toEqual(next);
    });

    it('stores model aliases under their catalogue names', async () => {
      const s = store();
      await s.setPriceBook({ currency: 'USD', prices: new Map([['H100', 2_500_000n]]), defaultPrice: 0n });
      expect((await s.getPriceBook())?.prices).toEqual(new Map([['H100-80GB', 2_500_000n]]));
    });

    it('refuses a book that would not load again and keeps the stored one', async () => {
      const s = store();
      await s.setPriceBook(fixtureBook());
      const bad: PriceBook = { currency: 'USD', prices: new Map([['NO-SUCH-GPU', 1n]]), defaultPrice: 0n };
      await expect(s.setPriceBook(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(await s.getPriceBook()).toEqual(fixtureBook());
    });
  });

  describe('promotions', () => {
    const full = (): Promotion => ({
      name: 'spring-sale',
      discount: { kind: 'percent', percent: 12.3456 },
      from: T0 + 123,
      to: T0 + 30 * 24 * H + 456,
      priority: -5,
      models: ['H100-80GB', 'A100-80GB'],
      tenants: ['research', 'ops'],
      hours: { startMinute: 22 * 60 + 30, endMinute: 6 * 60, offsetMinutes: 120 },
      budget: HUGE,
    });
    const fixed = (): Promotion => ({ name: 'flat', discount: { kind: 'fixed', pricePerGpuHour: 1_500_001n }, from: T0 - H, to: T0 + H, priority: 3 });
    const bare = (): Promotion => ({ name: 'bare', discount: { kind: 'percent', percent: 100 }, from: T0, to: T0 + 1, priority: 0 });

    it('round-trips every kind of promotion exactly and lists them by start, then name', async () => {
      const s = store();
      for (const p of [full(), fixed(), bare()]) await s.insertPromotion(p);
      expect(await s.getPromotion('spring-sale')).toEqual(full());
      expect(await s.getPromotion('flat')).toEqual(fixed());
      expect(await s.getPromotion('bare')).toEqual(bare());
      expect(await s.getPromotion('nope')).toBeNull();
      const alsoAtT0: Promotion = { ...bare(), name: 'a-first' };
      await s.insertPromotion(alsoAtT0);
      expect((await s.listPromotions()).map((p) => p.name)).toEqual(['flat', 'a-first', 'bare', 'spring-sale']);
    });

    it('refuses a duplicate name with CONFLICT and an invalid promotion with INVALID_ARGUMENT', async () => {
      const s = store();
      await s.insertPromotion(fixed());
      await expect(s.insertPromotion({ ...bare(), name: 'flat' })).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(s.insertPromotion({ ...bare(), name: 'backwards', to: T0 - 1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(s.insertPromotion({ ...bare(), name: 'bad name!' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect((await s.listPromotions()).map((p) => p.name)).toEqual(['flat']);
      expect(await s.getPromotion('flat')).toEqual(fixed());
    });

    it('updates a promotion (ending it early) and reports an unknown name', async () => {
      const s = store();
      await s.insertPromotion(full());
      const ended: Promotion = { ...full(), to: T0 + H, budget: null };
      expect(await s.updatePromotion(ended)).toBe(true);
      const { budget: _dropped, ...rest } = ended;
      expect(await s.getPromotion('spring-sale')).toEqual(rest);
      expect(await s.updatePromotion(fixed())).toBe(false);
      expect(await s.getPromotion('flat')).toBeNull();
      await expect(s.updatePromotion({ ...full(), to: full().from })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(await s.getPromotion('spring-sale')).toEqual(rest);
    });
  });

  describe('ledger entries', () => {
    it('round-trips entries exactly, bigints beyond 2^53 included, and refuses a duplicate key', async () => {
      const s = store();
      const open = openEntry(entryInit({ gpuModel: null, gpuMilli: 0, gpuCount: 0 }), T0);
      const big = hugeEntry('t2', { to: T0 + 2 * H, settledTo: T0 + 2 * H });
      await s.openLedgerEntry(open);
      await s.openLedgerEntry(big);
      expect(await s.listLedgerEntries({ taskId: 't1' })).toEqual([open]);
      expect(await s.listLedgerEntries({ taskId: 't2' })).toEqual([big]);
      await expect(s.openLedgerEntry({ ...big, tenant: 'other' })).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await s.listLedgerEntries({ taskId: 't2' })).toEqual([big]);
    });

    it('lists in charging order and filters by open, task, attempt and tenant', async () => {
      const s = store();
      const e = (taskId: string, attempt: number, seq: number, tenant: string, closed: boolean): LedgerEntry => ({
        ...openEntry(entryInit({ taskId, attempt, tenant }), T0),
        seq,
        ...(closed ? { to: T0 + H, settledTo: T0 + H } : {}),
      });
      const all = [e('t2', 1, 0, 'b', false), e('t1', 2, 0, 'a', false), e('t1', 1, 1, 'a', false), e('t1', 1, 0, 'a', true), e('t3', 1, 0, 'b', true)];
      for (const x of all) await s.openLedgerEntry(x);
      const keys = (xs: LedgerEntry[]): string[] => xs.map((x) => `${x.taskId}/${x.attempt}/${x.seq}`);
      expect(keys(await s.listLedgerEntries())).toEqual(['t1/1/0', 't1/1/1', 't1/2/0', 't2/1/0', 't3/1/0']);
      expect(keys(await s.listLedgerEntries({ open: true }))).toEqual(['t1/1/1', 't1/2/0', 't2/1/0']);
      expect(keys(await s.listLedgerEntries({ open: false }))).toEqual(['t1/1/0', 't3/1/0']);
      expect(keys(await s.listLedgerEntries({ taskId: 't1', attempt: 1 }))).toEqual(['t1/1/0', 't1/1/1']);
      expect(keys(await s.listLedgerEntries({ tenant: 'b' }))).toEqual(['t2/1/0', 't3/1/0']);
      expect(keys(await s.listLedgerEntries({ tenant: 'b', open: true }))).toEqual(['t2/1/0']);
      expect(keys(await s.listLedgerEntries({ tenant: 'a', taskId: 't2' }))).toEqual([]);
      expect(await s.listLedgerEntries({ taskId: 'nope' })).toEqual([]);
    });
  });

  describe('settlement', () => {
    const ctxOf = async (s: Store): Promise<PricingContext> => ({
      book: (await s.getPriceBook()) ?? fixtureBook(),
      promos: await s.listPromotions(),
      promoSpent: await s.getPromoSpent(),
    });

    /** Three running entries (two priced, one CPU-only) and a settlement of them at `upTo`. */
    async function settleThree(s: Store, upTo: number) {
      await s.setPriceBook(fixtureBook());
      await s.insertPromotion(fixturePromo());
      const entries = [
        openEntry(entryInit(), T0),
        openEntry(entryInit({ tenant: 'b', taskId: 't2', gpuModel: 'A100-80GB', gpuMilli: 1000, gpuCount: 2 }), T0 + 10 * MIN),
        openEntry(entryInit({ tenant: 'b', taskId: 't3', gpuModel: null, gpuMilli: 0, gpuCount: 0 }), T0),
      ];
      for (const e of entries) await s.openLedgerEntry(e);
      const loaded = await s.listLedgerEntries({ open: true });
      const r = settleAll(loaded, upTo, await ctxOf(s));
      return { loaded, r, settlement: { writes: ledgerWrites(loaded, r.entries), priced: r.priced, promoSpent: r.promoSpent } };
    }

    it('writes entries, priced lines and totals together, exactly as the core computed them', async () => {
      const s = store();
      const { r, settlement } = await settleThree(s, T0 + H);
      expect(settlement.writes).toHaveLength(3);
      expect(await s.settleLedger(settlement)).toEqual([]);
      expect(await s.listLedgerEntries()).toEqual(r.entries);
      expect(await s.listPricedUsage()).toEqual(pricedUsageToLines(r.priced).sort(byLineOrder));
      expect(await s.spendByTenant()).toEqual(nonZero(coreSpendByTenant(r.entries)));
      expect(await s.getPromoSpent()).toEqual(nonZero(r.promoSpent));
      // H100 at 3.60/h, half a GPU: 1.80/h; 50% off from 00:30 → 0.90 + 0.45 charged.
      expect((await s.spendByTenant()).get('a')).toBe(1_350_000n);
      expect((await s.getPromoSpent()).get('night')).toBe(450_000n);
      // The promotion's boundary splits t1's usage into two lines.
      expect((await s.listPricedUsage({ taskId: 't1' })).map((l) => [l.from, l.to, l.promotion])).toEqual([
        [T0, T0 + 30 * MIN, null],
        [T0 + 30 * MIN, T0 + H, 'night'],
      ]);
    });

    it('continues from what it stored: closes, splits and settles again, totals add up, reports match', async () => {
      const s = store();
      const first = await settleThree(s, T0 + H);
      expect(await s.settleLedger(first.settlement)).toEqual([]);

      // Next tick: t1 ends at 02:30, t2 is split at 02:00 (a price change), t3 settles to 03:00.
      const loaded = await s.listLedgerEntries({ open: true });
      const [t1, t2, t3] = loaded as [LedgerEntry, LedgerEntry, LedgerEntry];
      let ctx = await ctxOf(s);
      const closed = closeEntry(t1, T0 + 2.5 * H, ctx);
      ctx = { ...ctx, promoSpent: closed.promoSpent };
      const split = splitEntry(t2, T0 + 2 * H, ctx);
      ctx = { ...ctx, promoSpent: split.promoSpent };
      const rest = settleAll([split.open, t3], T0 + 3 * H, ctx);
      const after = [closed.entry, split.closed, ...rest.entries];
      const priced = [closed.priced, split.priced, ...rest.priced].filter((p): p is PricedUsage => p !== null);
      const writes = ledgerWrites(loaded, after);
      expect(writes.filter((w) => w.expectedSettledTo === null).map((w) => w.entry.seq)).toEqual([1]);
      expect(await s.settleLedger({ writes, priced, promoSpent: rest.promoSpent })).toEqual([]);

      const stored = await s.listLedgerEntries();
      expect(stored).toHaveLength(4);
      expect(await s.listLedgerEntries({ open: true })).toEqual(rest.entries.filter((e) => e.to === null));
      expect(await s.spendByTenant()).toEqual(nonZero(coreSpendByTenant(stored)));
      const lines = await s.listPricedUsage();
      const sum = (f: (l: PricedLineRecord) => bigint, ls = lines): bigint => ls.reduce((a, l) => a + f(l), 0n);
      expect(sum((l) => l.chargedAmount)).toBe(stored.reduce((a, e) => a + e.chargedAmount, 0n));
      expect(sum((l) => l.discountAmount, lines.filter((l) => l.promotion === 'night'))).toBe((await s.getPromoSpent()).get('night'));
      // A report from stored lines equals the report from the priced usage as computed.
      const all = [...first.r.priced, ...priced];
      for (const period of [{}, { from: T0 + 45 * MIN, to: T0 + 2 * H + 7 }, { tenant: 'b', from: T0 + 2 * H }]) {
        expect(usageReport(linesToPricedUsage(await s.listPricedUsage(period)), period)).toEqual(usageReport(all, period));
      }
      // A budget period's spend equals the charged total of a report from its start, per tenant,
      // whether the start cuts lines (00:45, 02:10) or falls between them (00:30, 02:00).
      for (const since of [T0 - H, T0 + 30 * MIN, T0 + 45 * MIN, T0 + 2 * H, T0 + 2 * H + 10 * MIN, T0 + 9 * H]) {
        const report = usageReport(all, { from: since });
        const want = new Map<string, bigint>();
        for (const row of report.rows) want.set(row.tenant, (want.get(row.tenant) ?? 0n) + row.chargedAmount);
        expect(nonZero(await s.spendByTenantSince(since)), `since +${(since - T0) / MIN} min`).toEqual(nonZero(want));
      }
      expect(await s.spendByTenantSince(T0 - H)).toEqual(await s.spendByTenant());
    });

    it('refuses a replayed settlement and writes nothing', async () => {
      const s = store();
      const { settlement } = await settleThree(s, T0 + H);
      expect(await s.settleLedger(settlement)).toEqual([]);
      const before = await snapshot(s);
      const conflicts = await s.settleLedger(settlement);
      expect(conflicts).toEqual(expect.arrayContaining(['t1/1/0', 't2/1/0', 't3/1/0']));
      expect(await snapshot(s)).toEqual(before);
    });

    it('is all or nothing: one stale entry among good ones writes nothing', async () => {
      const s = store();
      const { settlement } = await settleThree(s, T0 + H);
      const [w1, w2, w3] = settlement.writes as [(typeof settlement.writes)[number], (typeof settlement.writes)[number], (typeof settlement.writes)[number]];
      const before = await snapshot(s);
      const stale = { ...w3, expectedSettledTo: T0 - 1 };
      expect(await s.settleLedger({ ...settlement, writes: [w1, w2, stale] })).toEqual([`${w3.entry.taskId}/1/0`]);
      expect(await snapshot(s)).toEqual(before);
      // The same settlement, unspoilt, still applies afterwards.
      expect(await s.settleLedger(settlement)).toEqual([]);
    });

    it('refuses promotion totals computed from a stale budget', async () => {
      const s = store();
      const { settlement } = await settleThree(s, T0 + H);
      const before = await snapshot(s);
      const off = new Map(settlement.promoSpent);
      off.set('night', (off.get('night') ?? 0n) + 1n);
      expect(await s.settleLedger({ ...settlement, promoSpent: off })).toEqual(['promotion:night']);
      // A total for a promotion the settlement did not use must equal the store's (here 0).
      expect(await s.settleLedger({ ...settlement, promoSpent: new Map([...settlement.promoSpent, ['other', 5n]]) })).toEqual(['promotion:other']);
      // Leaving out a promotion the lines used is as wrong.
      expect(await s.settleLedger({ ...settlement, promoSpent: new Map() })).toEqual(['promotion:night']);
      expect(await snapshot(s)).toEqual(before);
      expect(await s.settleLedger({ ...settlement, promoSpent: new Map([...settlement.promoSpent, ['other', 0n]]) })).toEqual([]);
    });

    it('refuses a line overlapping one already charged, and a new entry whose key exists', async () => {
      const s = store();
      const { r, settlement } = await settleThree(s, T0 + H);
      expect(await s.settleLedger(settlement)).toEqual([]);
      const before = await snapshot(s);
      const t1 = r.priced.find((p) => p.segment.taskId === 't1')!;
      const promoSpent = await s.getPromoSpent();
      // The same usage again, with no entry write at all: only the lines can tell.
      const again = { writes: [], priced: [t1], promoSpent: new Map([['night', promoSpent.get('night')! + t1.discountAmount]]) };
      expect(await s.settleLedger(again)).toEqual([`line:t1/1@${T0}`, `line:t1/1@${T0 + 30 * MIN}`, 'promotion:night']);
      expect(await s.settleLedger({ writes: [{ entry: r.entries[0]!, expectedSettledTo: null }], priced: [], promoSpent })).toEqual(['t1/1/0']);
      expect(await snapshot(s)).toEqual(before);
    });

    it('never reopens nor moves a closed entry', async () => {
      const s = store();
      const e = openEntry(entryInit({ gpuModel: null, gpuMilli: 0, gpuCount: 0 }), T0);
      await s.openLedgerEntry(e);
      const ctx: PricingContext = { book: fixtureBook(), promos: [], promoSpent: new Map() };
      const closed = closeEntry(e, T0 + H, ctx).entry;
      expect(await s.settleLedger({ writes: [{ entry: closed, expectedSettledTo: T0 }], priced: [], promoSpent: new Map() })).toEqual([]);
      const reopened = { ...closed, to: null };
      expect(await s.settleLedger({ writes: [{ entry: reopened, expectedSettledTo: T0 + H }], priced: [], promoSpent: new Map() })).toEqual(['t1/1/0']);
      const moved = { ...closed, to: T0 + 2 * H, settledTo: T0 + 2 * H };
      expect(await s.settleLedger({ writes: [{ entry: moved, expectedSettledTo: T0 + H }], priced: [], promoSpent: new Map() })).toEqual(['t1/1/0']);
      // Rewriting it as it is stands (an idempotent close).
      expect(await s.settleLedger({ writes: [{ entry: closed, expectedSettledTo: T0 + H }], priced: [], promoSpent: new Map() })).toEqual([]);
      expect(await s.listLedgerEntries()).toEqual([closed]);
    });

    it('accepts an empty settlement and keeps amounts beyond 2^53 exact', async () => {
      const s = store();
      expect(await s.settleLedger({ writes: [], priced: [], promoSpent: new Map() })).toEqual([]);
      expect(await snapshot(s)).toEqual({ entries: [], lines: [], spend: new Map(), promo: new Map() });

      const entry = hugeEntry('big');
      const usage: PricedUsage = {
        segment: { tenant: 'a', taskId: 'big', attempt: 1, gpuModel: 'H100-80GB', gpuMilli: 1000, gpuCount: 8, from: T0, to: T0 + H, anchor: T0 },
        gpuModel: 'H100-80GB',
        unitPrice: HUGE,
        lines: [
          { from: T0, to: T0 + 1, seconds: 0.001, listAmount: HUGE, discountAmount: 2n ** 59n, chargedAmount: HUGE - 2n ** 59n, promotion: 'big-promo' },
          { from: T0 + 1, to: T0 + H, seconds: 3599.999, listAmount: HUGE, discountAmount: 0n, chargedAmount: HUGE },
        ],
        listAmount: 2n * HUGE,
        discountAmount: 2n ** 59n,
        chargedAmount: 2n * HUGE - 2n ** 59n,
        promoSpent: new Map([['big-promo', 2n ** 59n]]),
      };
      expect(await s.settleLedger({ writes: [{ entry, expectedSettledTo: null }], priced: [usage], promoSpent: usage.promoSpent })).toEqual([]);
      expect(await s.listLedgerEntries()).toEqual([entry]);
      expect(await s.listPricedUsage()).toEqual(pricedUsageToLines([usage]));
      expect(await s.spendByTenant()).toEqual(new Map([['a', 2n * HUGE - 2n ** 59n]]));
      expect(await s.getPromoSpent()).toEqual(new Map([['big-promo', 2n ** 59n]]));
    });
  });

  describe('priced usage', () => {
    /** Lines of three tasks: t1 (a) [0, 10) and [10, 20); t2 (b) [5, 15); t3 (a) [20, 30), in minutes. */
    async function seed(s: Store): Promise<void> {
      const piece = (tenant: string, taskId: string, from: number, to: number): PricedUsage => ({
        segment: { tenant, taskId, attempt: 1, gpuModel: 'H100-80GB', gpuMilli: 500, gpuCount: 1, from: T0 + from * MIN, to: T0 + to * MIN },
        gpuModel: 'H100-80GB',
        unitPrice: 3_600_000n,
        lines: [{ from: T0 + from * MIN, to: T0 + to * MIN, seconds: (to - from) * 60, listAmount: 100n, discountAmount: 0n, chargedAmount: 100n }],
        listAmount: 100n,
        discountAmount: 0n,
        chargedAmount: 100n,
        promoSpent: new Map(),
      });
      const priced = [piece('a', 't1', 0, 10), piece('a', 't1', 10, 20), piece('b', 't2', 5, 15), piece('a', 't3', 20, 30)];
      expect(await s.settleLedger({ writes: [], priced, promoSpent: new Map() })).toEqual([]);
    }
    const spans = (ls: PricedLineRecord[]): string[] => ls.map((l) => `${l.taskId}:${(l.from - T0) / MIN}-${(l.to - T0) / MIN}`);

    it('lists lines overlapping a period, by start', async () => {
      const s = store();
      await seed(s);
      expect(spans(await s.listPricedUsage())).toEqual(['t1:0-10', 't2:5-15', 't1:10-20', 't3:20-30']);
      // A line ending exactly at `from`, or starting exactly at `to`, is outside.
      expect(spans(await s.listPricedUsage({ from: T0 + 10 * MIN, to: T0 + 20 * MIN }))).toEqual(['t2:5-15', 't1:10-20']);
      expect(spans(await s.listPricedUsage({ from: T0 + 14 * MIN }))).toEqual(['t2:5-15', 't1:10-20', 't3:20-30']);
      expect(spans(await s.listPricedUsage({ to: T0 + 5 * MIN }))).toEqual(['t1:0-10']);
      expect(await s.listPricedUsage({ from: T0 + 30 * MIN })).toEqual([]);
    });

    it('filters by tenant and task, alone and with a period', async () => {
      const s = store();
      await seed(s);
      expect(spans(await s.listPricedUsage({ tenant: 'a' }))).toEqual(['t1:0-10', 't1:10-20', 't3:20-30']);
      expect(spans(await s.listPricedUsage({ taskId: 't2' }))).toEqual(['t2:5-15']);
      expect(spans(await s.listPricedUsage({ tenant: 'a', from: T0 + 15 * MIN, to: T0 + 25 * MIN }))).toEqual(['t1:10-20', 't3:20-30']);
      expect(spans(await s.listPricedUsage({ tenant: 'b', taskId: 't1' }))).toEqual([]);
      expect(await s.spendByTenant()).toEqual(new Map([['a', 300n], ['b', 100n]]));
      expect(await s.getPromoSpent()).toEqual(new Map());
    });
  });
}
