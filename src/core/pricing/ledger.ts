// The metering ledger: one entry per attempt (more after a split) recording what it used —
// GPU milli × ms by GPU model, CPU milli × ms, host memory MiB × ms — and what that cost.
//
// An entry covers [from, to) (to = null while the attempt runs) and has been metered and charged
// over [from, settledTo). Settling "up to now" meters and prices only [settledTo, now) and moves
// settledTo: settling again to the same instant, or an earlier one, changes nothing. So a server
// that persists the entry together with its new charge lines, and restarts, never charges an
// interval twice nor skips one. Meters are integers (rate × ms) and add up exactly; prices are
// rounded cumulatively from the attempt's start (`anchor`), so an attempt settled in many steps
// has the very same list amount as one settled once.
import { z } from 'zod';
import { invalid } from '../errors.js';
import { addMicros, type Micros } from './money.js';
import type { Attempt, Task } from '../types.js';
import { canonicalModel, priceUsage } from './price.js';
import type { PriceBook, PricedUsage, PromoSpent, Promotion, UsageSegment } from './types.js';

/** What an attempt holds, for metering. */
export interface MeteredResources {
  /** Canonical GPU model; null for a CPU-only attempt. */
  gpuModel: string | null;
  /** Milli-GPU on each GPU (0 when CPU-only). */
  gpuMilli: number;
  gpuCount: number;
  cpuMilli: number;
  /** Host RAM. */
  memoryMiB: number;
}

export interface LedgerEntry extends MeteredResources {
  tenant: string;
  taskId: string;
  attempt: number;
  /** 0 for an attempt's first entry, +1 for each split. (taskId, attempt, seq) is the key. */
  seq: number;
  /** The attempt's start: where price rounding is anchored, kept across splits. */
  anchor: number;
  from: number;
  /** End of the entry; null while the attempt runs (or until a split closes it). */
  to: number | null;
  /** Metered and charged over [from, settledTo). */
  settledTo: number;
  /** Σ gpuMilli × gpuCount × ms over [from, settledTo): 1e6 of it is one GPU-second. */
  gpuMilliMs: bigint;
  cpuMilliMs: bigint;
  memoryMiBMs: bigint;
  listAmount: Micros;
  discountAmount: Micros;
  chargedAmount: Micros;
}

/** Prices and promotions in force, and the promotion budgets consumed so far. */
export interface PricingContext {
  book: PriceBook;
  promos: readonly Promotion[];
  promoSpent: PromoSpent;
}

export interface Settlement {
  entry: LedgerEntry;
  /** The newly charged usage (persist its lines with the entry); null when nothing was new. */
  priced: PricedUsage | null;
  /** Promotion budgets consumed after this settlement. */
  promoSpent: Map<string, Micros>;
}

export interface OpenEntryInit extends MeteredResources {
  tenant: string;
  taskId: string;
  attempt: number;
}

const copySpent = (s: PromoSpent): Map<string, Micros> => new Map([...s].map(([k, v]) => [k, BigInt(v)]));

/** The ledger key of an entry: `taskId/attempt/seq`. */
export const entryKey = (e: Pick<LedgerEntry, 'taskId' | 'attempt' | 'seq'>): string => `${e.taskId}/${e.attempt}/${e.seq}`;

/**
 * A new, empty entry for an attempt that started at `startedAt`.
 * @example openEntry({tenant: 'a', taskId: 't1', attempt: 1, gpuModel: 'H100-80GB', gpuMilli: 500, gpuCount: 1, cpuMilli: 2000, memoryMiB: 4096}, now)
 */
export function openEntry(init: OpenEntryInit, startedAt: number): LedgerEntry {
  if (!Number.isSafeInteger(startedAt)) throw invalid('startedAt', `must be epoch ms, got ${startedAt}`);
  for (const k of ['gpuMilli', 'gpuCount', 'cpuMilli', 'memoryMiB', 'attempt'] as const) {
    if (!Number.isSafeInteger(init[k]) || init[k] < 0) throw invalid(k, `must be a whole number ≥ 0, got ${init[k]}`);
  }
  if (init.gpuMilli > 1000) throw invalid('gpuMilli', `must be at most 1000, got ${init.gpuMilli}`);
  if (init.gpuModel === null && init.gpuCount > 0) throw invalid('gpuModel', 'is required when the attempt holds GPUs');
  return {
    tenant: init.tenant,
    taskId: init.taskId,
    attempt: init.attempt,
    seq: 0,
    gpuModel: init.gpuModel,
    gpuMilli: init.gpuMilli,
    gpuCount: init.gpuCount,
    cpuMilli: init.cpuMilli,
    memoryMiB: init.memoryMiB,
    anchor: startedAt,
    from: startedAt,
    to: null,
    settledTo: startedAt,
    gpuMilliMs: 0n,
    cpuMilliMs: 0n,
    memoryMiBMs: 0n,
    listAmount: 0n,
    discountAmount: 0n,
    chargedAmount: 0n,
  };
}

/**
 * The ledger's view of an attempt, from its placement; `gpuModel` is the model of the placed
 * GPUs (the node's, which the placement does not carry).
 * @example openEntry(entryInitFor(task, attempt, node.gpus[0].model), attempt.startedAt ?? attempt.scheduledAt)
 */
export function entryInitFor(task: { id: string; spec: Pick<Task['spec'], 'tenant'> }, attempt: Pick<Attempt, 'attempt' | 'placement'>, gpuModel: string | null): OpenEntryInit {
  const p = attempt.placement;
  const gpuCount = p.gpus.length;
  return {
    tenant: task.spec.tenant,
    taskId: task.id,
    attempt: attempt.attempt,
    gpuModel: gpuCount > 0 && gpuModel !== null ? canonicalModel(gpuModel) : null,
    gpuMilli: gpuCount > 0 && gpuModel !== null ? p.gpuMilli : 0,
    gpuCount: gpuModel !== null ? gpuCount : 0,
    cpuMilli: p.cpuMilli,
    memoryMiB: p.hostMemoryMiB,
  };
}

/** Whether the entry holds GPUs (and so is priced). */
const holdsGpus = (e: MeteredResources): boolean => e.gpuModel !== null && e.gpuCount > 0 && e.gpuMilli > 0;

/** The usage segment [a, b) of an entry, for pricing. */
export function segmentOf(e: LedgerEntry, a: number, b: number): UsageSegment {
  return {
    tenant: e.tenant,
    taskId: e.taskId,
    attempt: e.attempt,
    gpuModel: e.gpuModel ?? '',
    gpuMilli: e.gpuMilli,
    gpuCount: e.gpuCount,
    from: a,
    to: b,
    anchor: e.anchor,
  };
}

/**
 * Meter and charge the entry up to `upTo` (clamped to its end). Idempotent: an instant at or
 * before `settledTo` changes nothing. The input entry is not changed.
 */
export function settleEntry(entry: LedgerEntry, upTo: number, ctx: PricingContext): Settlement {
  const target = entry.to === null ? upTo : Math.min(upTo, entry.to);
  if (target <= entry.settledTo) return { entry, priced: null, promoSpent: copySpent(ctx.promoSpent) };
  const ms = BigInt(target - entry.settledTo);
  const next: LedgerEntry = {
    ...entry,
    settledTo: target,
    gpuMilliMs: entry.gpuMilliMs + BigInt(entry.gpuMilli) * BigInt(entry.gpuCount) * ms,
    cpuMilliMs: entry.cpuMilliMs + BigInt(entry.cpuMilli) * ms,
    memoryMiBMs: entry.memoryMiBMs + BigInt(entry.memoryMiB) * ms,
  };
  if (!holdsGpus(entry)) return { entry: next, priced: null, promoSpent: copySpent(ctx.promoSpent) };
  const priced = priceUsage(segmentOf(entry, entry.settledTo, target), ctx.book, ctx.promos, ctx.promoSpent);
  // Saturating: the ledger never holds an amount the store cannot keep (money.ts).
  next.listAmount = addMicros(next.listAmount, priced.listAmount);
  next.discountAmount = addMicros(next.discountAmount, priced.discountAmount);
  next.chargedAmount = addMicros(next.chargedAmount, priced.chargedAmount);
  return { entry: next, priced, promoSpent: priced.promoSpent };
}

/**
 * End the entry at `endedAt`, charging what is left. An end before what was already charged
 * (a late report after a settlement) ends it at `settledTo`: a charge, once made, stands.
 * Closing a closed entry changes nothing.
 */
export function closeEntry(entry: LedgerEntry, endedAt: number, ctx: PricingContext): Settlement {
  if (entry.to !== null) return { entry, priced: null, promoSpent: copySpent(ctx.promoSpent) };
  const end = Math.max(endedAt, entry.settledTo);
  const s = settleEntry(entry, end, ctx);
  return { ...s, entry: { ...s.entry, to: end } };
}

/**
 * Cut a running entry at `at` (a price change, a billing period's end): the head is settled up
 * to `at` and closed; the tail is a new open entry from `at` (seq + 1) with the same anchor, so
 * totals stay exactly those of an uncut entry. `at` must not be before what was charged.
 */
export function splitEntry(entry: LedgerEntry, at: number, ctx: PricingContext): { closed: LedgerEntry; open: LedgerEntry; priced: PricedUsage | null; promoSpent: Map<string, Micros> } {
  if (entry.to !== null) throw invalid('at', `entry ${entryKey(entry)} is closed; only a running entry can be split`);
  if (at < entry.settledTo) throw invalid('at', `cannot split ${entryKey(entry)} at ${at}: it is charged up to ${entry.settledTo}`);
  const s = settleEntry(entry, at, ctx);
  const closed: LedgerEntry = { ...s.entry, to: at };
  const open: LedgerEntry = {
    ...entry,
    seq: entry.seq + 1,
    from: at,
    to: null,
    settledTo: at,
    gpuMilliMs: 0n,
    cpuMilliMs: 0n,
    memoryMiBMs: 0n,
    listAmount: 0n,
    discountAmount: 0n,
    chargedAmount: 0n,
  };
  return { closed, open, priced: s.priced, promoSpent: s.promoSpent };
}

/** The order in which the ledger charges entries: by task id, attempt, seq. Deterministic. */
export function chargeOrder(a: LedgerEntry, b: LedgerEntry): number {
  if (a.taskId !== b.taskId) return a.taskId < b.taskId ? -1 : 1;
  return a.attempt - b.attempt || a.seq - b.seq;
}

/**
 * Settle every entry up to `now` in charging order, threading promotion budgets through — what
 * the control loop does each tick. Returns the entries in charging order and the new charges.
 */
export function settleAll(entries: readonly LedgerEntry[], now: number, ctx: PricingContext): { entries: LedgerEntry[]; priced: PricedUsage[]; promoSpent: Map<string, Micros> } {
  let spent: PromoSpent = ctx.promoSpent;
  const out: LedgerEntry[] = [];
  const priced: PricedUsage[] = [];
  for (const e of [...entries].sort(chargeOrder)) {
    const s = settleEntry(e, now, { ...ctx, promoSpent: spent });
    out.push(s.entry);
    if (s.priced) priced.push(s.priced);
    spent = s.promoSpent;
  }
  return { entries: out, priced, promoSpent: copySpent(spent) };
}

export interface LedgerTotals {
  /** Σ gpuMilliMs per canonical GPU model. */
  gpuMilliMsByModel: Map<string, bigint>;
  cpuMilliMs: bigint;
  memoryMiBMs: bigint;
  listAmount: Micros;
  discountAmount: Micros;
  chargedAmount: Micros;
}

/** Totals over entries (what they have settled). */
export function ledgerTotals(entries: readonly LedgerEntry[]): LedgerTotals {
  const t: LedgerTotals = { gpuMilliMsByModel: new Map(), cpuMilliMs: 0n, memoryMiBMs: 0n, listAmount: 0n, discountAmount: 0n, chargedAmount: 0n };
  for (const e of entries) {
    if (e.gpuModel !== null && e.gpuMilliMs > 0n) t.gpuMilliMsByModel.set(e.gpuModel, (t.gpuMilliMsByModel.get(e.gpuModel) ?? 0n) + e.gpuMilliMs);
    t.cpuMilliMs += e.cpuMilliMs;
    t.memoryMiBMs += e.memoryMiBMs;
    t.listAmount = addMicros(t.listAmount, e.listAmount);
    t.discountAmount = addMicros(t.discountAmount, e.discountAmount);
    t.chargedAmount = addMicros(t.chargedAmount, e.chargedAmount);
  }
  return t;
}

/** Σ charged by tenant: what budget checks compare with a tenant's budget. */
export function spendByTenant(entries: readonly LedgerEntry[]): Map<string, Micros> {
  const out = new Map<string, Micros>();
  for (const e of entries) out.set(e.tenant, addMicros(out.get(e.tenant) ?? 0n, e.chargedAmount));
  return out;
}

const bigintText = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative(), z.bigint().nonnegative()]).transform((v) => BigInt(v));
const wholeNumber = z.number().int().nonnegative();
const instant = z.number().int();

/** A stored entry (bigints as decimal strings, as JSON and SQLite text keep them) → LedgerEntry. */
export const ledgerEntrySchema = z.strictObject({
  tenant: z.string(),
  taskId: z.string(),
  attempt: wholeNumber,
  seq: wholeNumber,
  gpuModel: z.string().nullable(),
  gpuMilli: wholeNumber.max(1000),
  gpuCount: wholeNumber,
  cpuMilli: wholeNumber,
  memoryMiB: wholeNumber,
  anchor: instant,
  from: instant,
  to: instant.nullable(),
  settledTo: instant,
  gpuMilliMs: bigintText,
  cpuMilliMs: bigintText,
  memoryMiBMs: bigintText,
  listAmount: bigintText,
  discountAmount: bigintText,
  chargedAmount: bigintText,
});

type Stored<T> = { [K in keyof T]: T[K] extends bigint ? string : T[K] };
export type StoredLedgerEntry = Stored<LedgerEntry>;

/** The entry with bigints as decimal strings, for JSON or a TEXT column. */
export function ledgerEntryToStored(e: LedgerEntry): StoredLedgerEntry {
  return {
    ...e,
    gpuMilliMs: e.gpuMilliMs.toString(),
    cpuMilliMs: e.cpuMilliMs.toString(),
    memoryMiBMs: e.memoryMiBMs.toString(),
    listAmount: e.listAmount.toString(),
    discountAmount: e.discountAmount.toString(),
    chargedAmount: e.chargedAmount.toString(),
  };
}
