import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  closeEntry,
  entryInitFor,
  ledgerEntrySchema,
  ledgerEntryToStored,
  ledgerTotals,
  openEntry,
  settleAll,
  settleEntry,
  spendByTenant,
  splitEntry,
  type LedgerEntry,
  type OpenEntryInit,
  type PricingContext,
} from './ledger.js';
import { compilePriceBook, compilePromotion } from './parse.js';
import { priceUsage } from './price.js';
import type { TaskSpec } from '../types.js';

const H = 3_600_000;
const MIN = 60_000;
const T0 = Date.UTC(2025, 2, 1);
const book = compilePriceBook({ default: '1.00', prices: { H100: '2.50' } });
const spring = compilePromotion({ name: 'spring', discount: '30%', from: '2025-03-01T00:30Z', to: '2025-03-01T01:00Z' });
const ctx: PricingContext = { book, promos: [spring], promoSpent: new Map() };

const init = (over: Partial<OpenEntryInit> = {}): OpenEntryInit => ({
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

describe('ledger', () => {
  it('charges a running attempt up to now, then continues, and totals match pricing it at once', () => {
    let e = openEntry(init(), T0);
    e = settleEntry(e, T0 + 20 * MIN, ctx).entry;
    e = settleEntry(e, T0 + 45 * MIN, ctx).entry;
    e = closeEntry(e, T0 + 90 * MIN, ctx).entry;
    const once = priceUsage({ tenant: 'a', taskId: 't1', attempt: 1, gpuModel: 'H100', gpuMilli: 500, gpuCount: 1, from: T0, to: T0 + 90 * MIN }, book, [spring], new Map());
    expect(e.to).toBe(T0 + 90 * MIN);
    expect(e.listAmount).toBe(once.listAmount); // 1.875
    expect(e.discountAmount).toBe(once.discountAmount); // 30% of 0.625 = 0.1875
    expect(e.chargedAmount).toBe(1_687_500n);
    expect(e.gpuMilliMs).toBe(500n * 90n * 60_000n);
    expect(e.cpuMilliMs).toBe(2000n * 90n * 60_000n);
    expect(e.memoryMiBMs).toBe(4096n * 90n * 60_000n);
  });

  it('settling again to the same or an earlier instant changes nothing (restart safety)', () => {
    const s1 = settleEntry(openEntry(init(), T0), T0 + H, ctx);
    const again = settleEntry(s1.entry, T0 + H, ctx);
    expect(again.priced).toBeNull();
    expect(again.entry).toBe(s1.entry);
    expect(settleEntry(s1.entry, T0 + 10 * MIN, ctx).entry).toBe(s1.entry);
    // Round-tripped through storage (as after a restart) it still settles only the new time.
    const restored = ledgerEntrySchema.parse(JSON.parse(JSON.stringify(ledgerEntryToStored(s1.entry)))) as LedgerEntry;
    expect(restored).toEqual(s1.entry);
    const next = settleEntry(restored, T0 + 2 * H, ctx);
    expect(next.priced?.segment.from).toBe(T0 + H);
    expect(next.entry.listAmount).toBe(2_500_000n);
  });

  it('a closed entry is not charged past its end, and closing twice changes nothing', () => {
    const closed = closeEntry(openEntry(init(), T0), T0 + H, ctx).entry;
    expect(settleEntry(closed, T0 + 5 * H, ctx).entry).toBe(closed);
    expect(closeEntry(closed, T0 + 2 * H, ctx).entry).toBe(closed);
  });

  it('an end reported before what was charged ends the entry where the charge stopped', () => {
    const s = settleEntry(openEntry(init(), T0), T0 + H, ctx).entry;
    const c = closeEntry(s, T0 + 50 * MIN, ctx).entry;
    expect(c.to).toBe(T0 + H);
    expect(c.listAmount).toBe(s.listAmount);
  });

  it('split: the closed head and open tail add up exactly to an uncut entry', () => {
    const gpu = init({ gpuMilli: 333 });
    const { closed, open } = splitEntry(settleEntry(openEntry(gpu, T0), T0 + 7 * MIN, ctx).entry, T0 + 31 * MIN + 17, ctx);
    expect(closed.to).toBe(T0 + 31 * MIN + 17);
    expect(open).toMatchObject({ seq: 1, from: closed.to, settledTo: closed.to, to: null, anchor: T0, listAmount: 0n });
    const tail = closeEntry(open, T0 + 2 * H, ctx).entry;
    const uncut = closeEntry(openEntry(gpu, T0), T0 + 2 * H, ctx).entry;
    const t = ledgerTotals([closed, tail]);
    expect(t.listAmount).toBe(uncut.listAmount);
    expect(t.gpuMilliMsByModel.get('H100-80GB')).toBe(uncut.gpuMilliMs);
    expect(() => splitEntry(tail, T0 + 3 * H, ctx)).toThrow(/closed/);
    expect(() => splitEntry(settleEntry(open, T0 + H, ctx).entry, T0 + 40 * MIN, ctx)).toThrow(/charged up to/);
  });

  it('a CPU-only attempt is metered but not priced', () => {
    const s = closeEntry(openEntry(init({ gpuModel: null, gpuMilli: 0, gpuCount: 0 }), T0), T0 + H, ctx);
    expect(s.priced).toBeNull();
    expect(s.entry.cpuMilliMs).toBe(2000n * BigInt(H));
    expect(s.entry.chargedAmount).toBe(0n);
    expect(ledgerTotals([s.entry]).gpuMilliMsByModel.size).toBe(0);
  });

  it('rejects GPUs without a model and impossible amounts', () => {
    expect(() => openEntry(init({ gpuModel: null }), T0)).toThrow(/gpuModel/);
    expect(() => openEntry(init({ gpuMilli: 1001 }), T0)).toThrow(/gpuMilli/);
  });

  it('settleAll charges in a fixed order and threads promotion budgets through', () => {
    const capped = compilePromotion({ name: 'capped', discount: '50%', from: '2025-03-01', to: '2025-03-02', budget: '1.00' });
    const c: PricingContext = { book, promos: [capped], promoSpent: new Map() };
    const entries = [openEntry(init({ taskId: 't2', tenant: 'b', gpuMilli: 1000 }), T0), openEntry(init({ taskId: 't1', gpuMilli: 1000 }), T0)];
    const r = settleAll(entries, T0 + H, c);
    expect(r.entries.map((e) => e.taskId)).toEqual(['t1', 't2']);
    // t1 uses the whole 1.00 (48 min of 1.25/h off); t2 gets none.
    expect(r.entries.map((e) => e.discountAmount)).toEqual([1_000_000n, 0n]);
    expect(r.promoSpent.get('capped')).toBe(1_000_000n);
    expect(settleAll(entries.reverse(), T0 + H, c)).toEqual(r);
    expect(spendByTenant(r.entries)).toEqual(new Map([['a', 1_500_000n], ['b', 2_500_000n]]));
  });

  it('property: any settlement schedule gives the totals of settling once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3 * H }), { maxLength: 12 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 3 * H }),
        (times, milli, end) => {
          const i = init({ gpuMilli: milli });
          let e = openEntry(i, T0);
          for (const t of times) e = settleEntry(e, T0 + t, ctx).entry;
          e = closeEntry(e, T0 + end, ctx).entry;
          const realEnd = e.to!;
          const once = closeEntry(openEntry(i, T0), realEnd, ctx).entry;
          expect(e.gpuMilliMs).toBe(once.gpuMilliMs);
          expect(e.cpuMilliMs).toBe(once.cpuMilliMs);
          expect(e.listAmount).toBe(once.listAmount);
          expect(e.chargedAmount).toBe(e.listAmount - e.discountAmount);
          // Discount rounding is per piece: within half a micro-unit per settlement.
          const diff = e.discountAmount - once.discountAmount;
          expect(diff <= BigInt(times.length + 1) && diff >= -BigInt(times.length + 1)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('entryInitFor', () => {
  it('reads resources from the attempt placement', () => {
    const placement = { nodeId: 'n', node: 'n', gpus: [0, 1], gpuUuids: ['a', 'b'], gpuMilli: 1000, memoryMiB: 81920, cpuMilli: 4000, hostMemoryMiB: 8192, sharing: 'simulated' as const };
    const spec = { tenant: 'a' } as unknown as TaskSpec;
    expect(entryInitFor({ id: 't1', spec }, { attempt: 2, placement }, 'H100')).toEqual({ tenant: 'a', taskId: 't1', attempt: 2, gpuModel: 'H100-80GB', gpuMilli: 1000, gpuCount: 2, cpuMilli: 4000, memoryMiB: 8192 });
    expect(entryInitFor({ id: 't1', spec }, { attempt: 1, placement: { ...placement, gpus: [], gpuUuids: [], gpuMilli: 0 } }, null)).toMatchObject({ gpuModel: null, gpuCount: 0, gpuMilli: 0 });
  });
});
