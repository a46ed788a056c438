// The SQLite side of issue 4's storage: tenants, the price book, promotions, the metering ledger
// and its priced lines. Kept apart from store.ts, which delegates to it; statements are prepared
// once, and those reading money run in safeIntegers mode so that no amount passes through a float.
import type Database from 'better-sqlite3';
import { conflict, invalid } from '../../core/errors.js';
import { entryKey, type LedgerEntry } from '../../core/pricing/ledger.js';
import { addMicros, MAX_LEDGER_MICROS, type Micros } from '../../core/pricing/money.js';
import { compilePriceBook, compilePromotion, priceBookToInput, promotionToInput, STORED_LIMITS } from '../../core/pricing/parse.js';
import type { PriceBook, Promotion } from '../../core/pricing/types.js';
import { chargedWithin } from '../../core/pricing/report.js';
import { pricedUsageToLines } from '../ledger.js';
import type { LedgerFilter, LedgerSettlement, PricedLineRecord, PricedUsageFilter, TenantRecord } from '../port.js';
import {
  ledgerToRow,
  pricedLineToRow,
  rowToLedger,
  rowToPricedLine,
  rowToTenant,
  tenantToRow,
  type LedgerRow,
  type PricedLineRow,
  type TenantRow,
} from './rows.js';

function prepareBilling(db: Database.Database) {
  const p = <R = unknown>(sql: string) => db.prepare<unknown[], R>(sql);
  return {
    // created_at is left out of the update: a tenant keeps the time it was first created.
    upsertTenant: p(`INSERT INTO tenants (name, guarantee_milli, limit_milli, weight, budget, created_at, default_time_limit_ms)
      VALUES (@name, @guarantee_milli, @limit_milli, @weight, @budget, @created_at, @default_time_limit_ms)
      ON CONFLICT (name) DO UPDATE SET guarantee_milli = excluded.guarantee_milli,
        limit_milli = excluded.limit_milli, weight = excluded.weight, budget = excluded.budget,
        default_time_limit_ms = excluded.default_time_limit_ms`),
    getTenant: p<TenantRow>('SELECT * FROM tenants WHERE name = ?').safeIntegers(),
    deleteTenant: p('DELETE FROM tenants WHERE name = ?'),
    revokeTenantTokens: p('UPDATE tokens SET revoked_at = ? WHERE tenant = ? AND revoked_at IS NULL'),
    listTenants: p<TenantRow>('SELECT * FROM tenants ORDER BY name').safeIntegers(),

    getPriceBook: p<{ doc: string }>('SELECT doc FROM price_book WHERE id = 1'),
    setPriceBook: p('INSERT INTO price_book (id, doc) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc'),

    insertPromotion: p('INSERT INTO promotions (name, from_ms, to_ms, doc) VALUES (@name, @from_ms, @to_ms, @doc)'),
    updatePromotion: p('UPDATE promotions SET from_ms = @from_ms, to_ms = @to_ms, doc = @doc WHERE name = @name'),
    getPromotion: p<{ name: string; doc: string }>('SELECT name, doc FROM promotions WHERE name = ?'),
    listPromotions: p<{ name: string; doc: string }>('SELECT name, doc FROM promotions ORDER BY from_ms, name'),

    insertEntry: p(`INSERT INTO ledger_entries (task_id, attempt, seq, tenant, to_ms, settled_to, doc)
      VALUES (@task_id, @attempt, @seq, @tenant, @to_ms, @settled_to, @doc)`),
    // For a settlement's new entry: a key already there is a conflict, not an error.
    insertEntryIfAbsent: p(`INSERT INTO ledger_entries (task_id, attempt, seq, tenant, to_ms, settled_to, doc)
      VALUES (@task_id, @attempt, @seq, @tenant, @to_ms, @settled_to, @doc) ON CONFLICT DO NOTHING`),
    // The optimistic lock: charged up to exactly what the caller loaded, and not closed
    // elsewhere (a closed entry is rewritten only with the same end; it never reopens).
    writeEntry: p(`UPDATE ledger_entries SET tenant = @tenant, to_ms = @to_ms, settled_to = @settled_to, doc = @doc
      WHERE task_id = @task_id AND attempt = @attempt AND seq = @seq AND settled_to = @expected
        AND (to_ms IS NULL OR to_ms = @to_ms)`),

    insertLine: p(`INSERT INTO priced_lines (tenant, task_id, attempt, gpu_model, gpu_milli, gpu_count, anchor, unit_price,
        from_ms, to_ms, list_amount, discount_amount, charged_amount, promotion)
      VALUES (@tenant, @task_id, @attempt, @gpu_model, @gpu_milli, @gpu_count, @anchor, @unit_price,
        @from_ms, @to_ms, @list_amount, @discount_amount, @charged_amount, @promotion)`),
    // An attempt's stored lines never overlap, so the one starting last before `to` is the only
    // one that can reach past `from`: one index probe instead of a scan of the attempt's lines.
    lastLineBefore: p<{ to_ms: number }>(`SELECT to_ms FROM priced_lines
      WHERE task_id = @task_id AND attempt = @attempt AND from_ms < @to_ms ORDER BY from_ms DESC LIMIT 1`),

    addTenantSpend: p(`INSERT INTO tenant_spend (tenant, charged) VALUES (?, ?)
      ON CONFLICT (tenant) DO UPDATE SET charged = MIN(charged + excluded.charged, ${MAX_LEDGER_MICROS})`),
    addPromoSpent: p(`INSERT INTO promo_spent (name, spent) VALUES (?, ?)
      ON CONFLICT (name) DO UPDATE SET spent = MIN(spent + excluded.spent, ${MAX_LEDGER_MICROS})`),
    getPromoSpentOne: p<{ spent: bigint }>('SELECT spent FROM promo_spent WHERE name = ?').safeIntegers(),
    listTenantSpend: p<{ tenant: string; charged: bigint }>('SELECT tenant, charged FROM tenant_spend ORDER BY tenant').safeIntegers(),
    listPromoSpent: p<{ name: string; spent: bigint }>('SELECT name, spent FROM promo_spent ORDER BY name').safeIntegers(),
    // From the to_ms index: every line that ends after `since`; those that start before it are clipped.
    spendAfter: p<{ tenant: string; charged: bigint }>(
      'SELECT tenant, SUM(charged_amount) AS charged FROM priced_lines WHERE to_ms > @since AND from_ms >= @since GROUP BY tenant',
    ).safeIntegers(),
    linesAfter: p<{ tenant: string; charged: bigint }>('SELECT tenant, charged_amount AS charged FROM priced_lines WHERE to_ms > @since AND from_ms >= @since').safeIntegers(),
    linesAcross: p<PricedLineRow>('SELECT * FROM priced_lines WHERE to_ms > @since AND from_ms < @since').safeIntegers(),
  };
}

type BillingStatements = ReturnType<typeof prepareBilling>;

/** Thrown inside a settlement to roll it back and hand its conflicts out. */
class SettlementConflict extends Error {
  constructor(readonly conflicts: string[]) {
    super('settlement conflicts');
  }
}

const isConstraint = (err: unknown, code: string): boolean =>
  typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;

/** A promotion's stored JSON form, checked to load again (so a bad one never reaches disk). */
function promotionDoc(p: Promotion): string {
  const input = promotionToInput(p);
  compilePromotion(input, `promotion ${p.name}`, STORED_LIMITS);
  return JSON.stringify(input);
}

const promotionRow = (p: Promotion) => ({ name: p.name, from_ms: p.from, to_ms: p.to, doc: promotionDoc(p) });

export class SqliteBilling {
  private stmts: BillingStatements | null = null;
  private readonly settleTx: (settlement: LedgerSettlement) => void;
  private deleteTenantTx: ((name: string, at: number) => number | null) | undefined;
  /** Ledger and line list statements, one per filter shape. */
  private readonly shaped = new Map<string, Database.Statement<unknown[], unknown>>();

  constructor(private readonly db: Database.Database) {
    this.settleTx = db.transaction((settlement: LedgerSettlement) => this.settleInside(settlement)).immediate;
  }

  /** Prepared on first use, so that a store opened on an older schema (tests) still opens. */
  private get s(): BillingStatements {
    this.stmts ??= prepareBilling(this.db);
    return this.stmts;
  }

  // ---- Tenants

  upsertTenant(t: TenantRecord): void {
    this.s.upsertTenant.run(tenantToRow(t));
  }

  /** One IMMEDIATE transaction: the tenant goes, its live tokens are revoked. */
  deleteTenant(name: string, at: number): number | null {
    this.deleteTenantTx ??= this.db
      .transaction((n: string, t: number): number | null => {
        if (this.s.deleteTenant.run(n).changes === 0) return null;
        return this.s.revokeTenantTokens.run(t, n).changes;
      })
      .immediate;
    return this.deleteTenantTx(name, at);
  }

  getTenant(name: string): TenantRecord | null {
    const row = this.s.getTenant.get(name);
    return row ? rowToTenant(row) : null;
  }

  listTenants(): TenantRecord[] {
    return this.s.listTenants.all().map(rowToTenant);
  }

  // ---- Price book

  getPriceBook(): PriceBook | null {
    const row = this.s.getPriceBook.get();
    return row ? compilePriceBook(JSON.parse(row.doc), 'stored price book', STORED_LIMITS) : null;
  }

  setPriceBook(book: PriceBook): void {
    const input = priceBookToInput(book);
    // Refuses, before writing, a book that could not be read back.
    compilePriceBook(input, 'priceBook', STORED_LIMITS);
    this.s.setPriceBook.run(JSON.stringify(input));
  }

  // ---- Promotions

  insertPromotion(p: Promotion): void {
    const row = promotionRow(p);
    try {
      this.s.insertPromotion.run(row);
    } catch (err) {
      if (isConstraint(err, 'SQLITE_CONSTRAINT_PRIMARYKEY')) throw conflict(`promotion ${p.name} already exists`);
      throw err;
    }
  }

  updatePromotion(p: Promotion): boolean {
    return this.s.updatePromotion.run(promotionRow(p)).changes === 1;
  }

  getPromotion(name: string): Promotion | null {
    const row = this.s.getPromotion.get(name);
    return row ? compilePromotion(JSON.parse(row.doc), `stored promotion ${row.name}`, STORED_LIMITS) : null;
  }

  listPromotions(): Promotion[] {
    return this.s.listPromotions.all().map((row) => compilePromotion(JSON.parse(row.doc), `stored promotion ${row.name}`, STORED_LIMITS));
  }

  // ---- Ledger

  openLedgerEntry(entry: LedgerEntry): void {
    try {
      this.s.insertEntry.run(ledgerToRow(entry));
    } catch (err) {
      if (isConstraint(err, 'SQLITE_CONSTRAINT_PRIMARYKEY')) throw conflict(`ledger entry ${entryKey(entry)} already exists`);
      throw err;
    }
  }

  listLedgerEntries(filter: LedgerFilter = {}): LedgerEntry[] {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    // Written as the partial index's WHERE, so that the open entries come from it.
    if (filter.open === true) where.push('to_ms IS NULL');
    if (filter.open === false) where.push('to_ms IS NOT NULL');
    if (filter.taskId !== undefined) {
      where.push('task_id = @taskId');
      params.taskId = filter.taskId;
    }
    if (filter.attempt !== undefined) {
      where.push('attempt = @attempt');
      params.attempt = filter.attempt;
    }
    if (filter.tenant !== undefined) {
      where.push('tenant = @tenant');
      params.tenant = filter.tenant;
    }
    const sql = `SELECT * FROM ledger_entries${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY task_id, attempt, seq`;
    return (this.shapedStatement(sql).all(params) as LedgerRow[]).map(rowToLedger);
  }

  settleLedger(settlement: LedgerSettlement): string[] {
    try {
      this.settleTx(settlement);
      return [];
    } catch (err) {
      if (err instanceof SettlementConflict) return err.conflicts;
      throw err;
    }
  }

  /** The body of the settlement transaction: any throw rolls every write back. */
  private settleInside(settlement: LedgerSettlement): void {
    const s = this.s;
    const conflicts: string[] = [];
    for (const w of settlement.writes) {
      const row = ledgerToRow(w.entry);
      const res = w.expectedSettledTo === null ? s.insertEntryIfAbsent.run(row) : s.writeEntry.run({ ...row, expected: w.expectedSettledTo });
      if (res.changes === 0) conflicts.push(entryKey(w.entry));
    }

    const tenantDelta = new Map<string, Micros>();
    const promoDelta = new Map<string, Micros>();
    for (const line of pricedUsageToLines(settlement.priced)) {
      if (!(line.to > line.from)) throw invalid('priced', `line ${line.taskId}/${line.attempt}@${line.from} must end after it starts`);
      const row = pricedLineToRow(line);
      const last = s.lastLineBefore.get({ task_id: row.task_id, attempt: row.attempt, to_ms: row.to_ms });
      if (last !== undefined && last.to_ms > line.from) {
        conflicts.push(`line:${line.taskId}/${line.attempt}@${line.from}`);
        continue;
      }
      s.insertLine.run(row);
      tenantDelta.set(line.tenant, addMicros(tenantDelta.get(line.tenant) ?? 0n, line.chargedAmount));
      if (line.promotion !== null) promoDelta.set(line.promotion, addMicros(promoDelta.get(line.promotion) ?? 0n, line.discountAmount));
    }

    // The caller's promotion totals must be the store's plus this settlement's discounts;
    // otherwise they were computed from budgets another settlement has since consumed.
    const names = new Set([...promoDelta.keys(), ...settlement.promoSpent.keys()]);
    for (const name of [...names].sort()) {
      const stored = s.getPromoSpentOne.get(name)?.spent ?? 0n;
      const expected = addMicros(stored, promoDelta.get(name) ?? 0n);
      const given = settlement.promoSpent.get(name);
      if (given === undefined ? expected !== stored : BigInt(given) !== expected) conflicts.push(`promotion:${name}`);
    }
    if (conflicts.length > 0) throw new SettlementConflict(conflicts);

    for (const [tenant, d] of tenantDelta) if (d !== 0n) s.addTenantSpend.run(tenant, d);
    for (const [name, d] of promoDelta) if (d !== 0n) s.addPromoSpent.run(name, d);
  }

  listPricedUsage(filter: PricedUsageFilter = {}): PricedLineRecord[] {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    if (filter.from !== undefined) {
      where.push('to_ms > @from');
      params.from = filter.from;
    }
    if (filter.to !== undefined) {
      where.push('from_ms < @to');
      params.to = filter.to;
    }
    if (filter.tenant !== undefined) {
      where.push('tenant = @tenant');
      params.tenant = filter.tenant;
    }
    if (filter.taskId !== undefined) {
      where.push('task_id = @taskId');
      params.taskId = filter.taskId;
    }
    const sql = `SELECT tenant, task_id, attempt, gpu_model, gpu_milli, gpu_count, anchor, unit_price, from_ms, to_ms,
        list_amount, discount_amount, charged_amount, promotion
      FROM priced_lines${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY from_ms, task_id, attempt`;
    // Priced lines carry money: this statement reads every integer as a bigint.
    return (this.shapedStatement(sql, true).all(params) as PricedLineRow[]).map(rowToPricedLine);
  }

  spendByTenant(): Map<string, Micros> {
    return new Map(this.s.listTenantSpend.all().map((r) => [r.tenant, r.charged]));
  }

  spendByTenantSince(since: number): Map<string, Micros> {
    let sums: { tenant: string; charged: bigint }[];
    try {
      sums = this.s.spendAfter.all({ since });
    } catch {
      // SUM past 2^63 is an SQLite error: add the lines up here instead, saturating as the ledger does.
      sums = this.s.linesAfter.all({ since });
    }
    const out = new Map<string, Micros>();
    for (const r of sums) out.set(r.tenant, addMicros(out.get(r.tenant) ?? 0n, r.charged));
    for (const l of this.s.linesAcross.all({ since }).map(rowToPricedLine)) {
      const part = chargedWithin(l, since, Infinity);
      if (part !== 0n || !out.has(l.tenant)) out.set(l.tenant, addMicros(out.get(l.tenant) ?? 0n, part));
    }
    return out;
  }

  getPromoSpent(): Map<string, Micros> {
    return new Map(this.s.listPromoSpent.all().map((r) => [r.name, r.spent]));
  }

  /** A statement for one filter shape; the SQL text is the cache key. */
  private shapedStatement(sql: string, safeIntegers = false): Database.Statement<unknown[], unknown> {
    let st = this.shaped.get(sql);
    if (!st) {
      st = this.db.prepare<unknown[], unknown>(sql).safeIntegers(safeIntegers);
      this.shaped.set(sql, st);
    }
    return st;
  }
}
