// Pure helpers between the core's ledger and pricing values and the store's ledger methods,
// shared by every adapter and by the callers of `settleLedger` and `listPricedUsage`.
import { entryKey, type LedgerEntry } from '../core/pricing/ledger.js';
import type { PricedUsage } from '../core/pricing/types.js';
import type { LedgerEntryWrite, PricedLineRecord } from './port.js';

const sameEntry = (a: LedgerEntry, b: LedgerEntry): boolean =>
  a.to === b.to &&
  a.settledTo === b.settledTo &&
  a.gpuMilliMs === b.gpuMilliMs &&
  a.cpuMilliMs === b.cpuMilliMs &&
  a.memoryMiBMs === b.memoryMiBMs &&
  a.listAmount === b.listAmount &&
  a.discountAmount === b.discountAmount &&
  a.chargedAmount === b.chargedAmount;

/**
 * The conditional writes that take the ledger from `before` (entries as loaded) to `after`
 * (what settleAll, closeEntry or splitEntry returned): one per changed entry, expecting its
 * loaded `settledTo`, and an insert (`expectedSettledTo: null`) per entry `before` lacks.
 * Unchanged entries are left out.
 * @example const r = settleAll(open, now, ctx);
 *   await store.settleLedger({ writes: ledgerWrites(open, r.entries), priced: r.priced, promoSpent: r.promoSpent });
 */
export function ledgerWrites(before: readonly LedgerEntry[], after: readonly LedgerEntry[]): LedgerEntryWrite[] {
  const old = new Map(before.map((e) => [entryKey(e), e]));
  const writes: LedgerEntryWrite[] = [];
  for (const e of after) {
    const prev = old.get(entryKey(e));
    if (prev === undefined) writes.push({ entry: e, expectedSettledTo: null });
    else if (!sameEntry(prev, e)) writes.push({ entry: e, expectedSettledTo: prev.settledTo });
  }
  return writes;
}

/** The lines of priced usage as the store keeps them, in order. */
export function pricedUsageToLines(priced: readonly PricedUsage[]): PricedLineRecord[] {
  const out: PricedLineRecord[] = [];
  for (const p of priced) {
    const seg = p.segment;
    for (const l of p.lines) {
      out.push({
        tenant: seg.tenant,
        taskId: seg.taskId,
        attempt: seg.attempt,
        gpuModel: p.gpuModel,
        gpuMilli: seg.gpuMilli,
        gpuCount: seg.gpuCount,
        anchor: seg.anchor ?? seg.from,
        unitPrice: p.unitPrice,
        from: l.from,
        to: l.to,
        listAmount: l.listAmount,
        discountAmount: l.discountAmount,
        chargedAmount: l.chargedAmount,
        promotion: l.promotion ?? null,
      });
    }
  }
  return out;
}

/**
 * Stored lines as core priced usage (one item per line), the input of `usageReport`.
 * @example usageReport(linesToPricedUsage(await store.listPricedUsage({from, to})), {from, to})
 */
export function linesToPricedUsage(lines: readonly PricedLineRecord[]): PricedUsage[] {
  return lines.map((l) => ({
    segment: {
      tenant: l.tenant,
      taskId: l.taskId,
      attempt: l.attempt,
      gpuModel: l.gpuModel,
      gpuMilli: l.gpuMilli,
      gpuCount: l.gpuCount,
      from: l.from,
      to: l.to,
      anchor: l.anchor,
    },
    gpuModel: l.gpuModel,
    unitPrice: l.unitPrice,
    lines: [
      {
        from: l.from,
        to: l.to,
        seconds: (l.to - l.from) / 1000,
        listAmount: l.listAmount,
        discountAmount: l.discountAmount,
        chargedAmount: l.chargedAmount,
        ...(l.promotion !== null ? { promotion: l.promotion } : {}),
      },
    ],
    listAmount: l.listAmount,
    discountAmount: l.discountAmount,
    chargedAmount: l.chargedAmount,
    // Running budget totals are not a line's to know; the store keeps them (getPromoSpent).
    promoSpent: new Map(),
  }));
}
