import { describe, expect, it } from 'vitest';
import { closeEntry, openEntry, settleAll, splitEntry, type PricingContext } from '../core/pricing/ledger.js';
import { compilePriceBook, compilePromotion } from '../core/pricing/parse.js';
import { usageReport } from '../core/pricing/report.js';
import { ledgerWrites, linesToPricedUsage, pricedUsageToLines } from './ledger.js';

const T0 = Date.UTC(2025, 2, 1);
const H = 3_600_000;
const ctx: PricingContext = {
  book: compilePriceBook({ prices: { H100: '2.50' } }),
  promos: [compilePromotion({ name: 'p', discount: '30%', from: '2025-03-01T00:20Z', to: '2025-03-01T00:40Z' })],
  promoSpent: new Map(),
};
const entry = (taskId: string) =>
  openEntry({ tenant: 'a', taskId, attempt: 1, gpuModel: 'H100-80GB', gpuMilli: 250, gpuCount: 2, cpuMilli: 0, memoryMiB: 0 }, T0);

describe('ledgerWrites', () => {
  it('expects each changed entry at its loaded settledTo, inserts new ones, skips unchanged ones', () => {
    const before = [entry('t1'), entry('t2'), { ...entry('t3'), to: T0, settledTo: T0 }];
    const t1 = settleAll([before[0]!], T0 + H, ctx).entries[0]!;
    const split = splitEntry(before[1]!, T0 + H, ctx);
    const t3 = closeEntry(before[2]!, T0 + 2 * H, ctx).entry; // already closed: unchanged
    const writes = ledgerWrites(before, [t1, split.closed, split.open, t3]);
    expect(writes).toEqual([
      { entry: t1, expectedSettledTo: T0 },
      { entry: split.closed, expectedSettledTo: T0 },
      { entry: split.open, expectedSettledTo: null },
    ]);
    // A close that charges nothing new (ended where it was settled) is still a write.
    const closedAtStart = closeEntry(before[0]!, T0, ctx).entry;
    expect(ledgerWrites(before, [closedAtStart])).toEqual([{ entry: closedAtStart, expectedSettledTo: T0 }]);
    expect(ledgerWrites(before, before)).toEqual([]);
  });
});

describe('priced lines', () => {
  it('flattens priced usage into lines and back, giving the same usage report', () => {
    const r = settleAll([entry('t1'), entry('t2')], T0 + H, ctx);
    const lines = pricedUsageToLines(r.priced);
    expect(lines).toHaveLength(6); // each task: before, during and after the promotion
    expect(lines[1]).toMatchObject({ taskId: 't1', from: T0 + H / 3, to: T0 + (2 * H) / 3, promotion: 'p', anchor: T0, gpuMilli: 250, gpuCount: 2 });
    expect(lines.filter((l) => l.promotion === null)).toHaveLength(4);
    const back = linesToPricedUsage(lines);
    expect(pricedUsageToLines(back)).toEqual(lines);
    for (const period of [{}, { from: T0 + 10 * 60_000, to: T0 + 50 * 60_000 }]) {
      expect(usageReport(back, period)).toEqual(usageReport(r.priced, period));
    }
  });
});
