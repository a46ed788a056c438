// Tenants, the price book, promotions, the metering ledger and its priced lines on Postgres,
// as ../sqlite/billing.ts. Money is BIGINT in the tables and travels as decimal text both
// ways, so no amount passes through a double. A settlement takes a transaction advisory lock:
// its checks (promotion totals, overlapping lines) read what another settlement may be
// writing, and SQLite's single writer gave that order for free.
import type pg from 'pg';
import { conflict, invalid } from '../../core/errors.js';
import { entryKey, type LedgerEntry } from '../../core/pricing/ledger.js';
import { MAX_LEDGER_MICROS, type Micros } from '../../core/pricing/money.js';
import { compilePriceBook, compilePromotion, priceBookToInput, promotionToInput, STORED_LIMITS } from '../../core/pricing/parse.js';
import { chargedWithin } from '../../core/pricing/report.js';
import type { PriceBook, Promotion } from '../../core/pricing/types.js';
import { pricedUsageToLines } from '../ledger.js';
import type { LedgerFilter, LedgerSettlement, PricedLineRecord, PricedUsageFilter, TenantRecord } from '../port.js';
import { inTx, pgCode, UNIQUE_VIOLATION } from './db.js';
import { LOCK_CLASS } from './migrate.js';
import {
  LINE_COLUMNS,
  TENANT_SELECT,
  ledgerToRow,
  pricedLineValues,
  rowToLedger,
  rowToPricedLine,
  rowToTenant,
  type LedgerRow,
  type PgLineRow,
  type PgTenantRow,
} from './rows.js';

/** Thrown inside a settlement to roll it back and hand its conflicts out. */
class SettlementConflict extends Error {
  constructor(readonly conflicts: string[]) {
    super('settlement conflicts');
  }
}

/** A promotion's stored JSON form, checked to load again (so a bad one never reaches disk). */
function promotionValues(p: Promotion): unknown[] {
  const input = promotionToInput(p);
  compilePromotion(input, `promotion ${p.name}`, STORED_LIMITS);
  return [p.name, p.from, p.to, JSON.stringify(input)];
}

const big = (x: bigint | null): string | null => (x === null ? null : x.toString());

const ENTRY_COLUMNS = 'task_id, attempt, seq, tenant, to_ms, settled_to, doc';
const entryValues = (r: LedgerRow): unknown[] => [r.task_id, r.attempt, r.seq, r.tenant, r.to_ms, r.settled_to, r.doc];

export class PgBilling {
  constructor(private readonly pool: pg.Pool) {}

  // ---- Tenants

  async upsertTenant(t: TenantRecord): Promise<void> {
    // created_at is left out of the update: a tenant keeps the time it was first created.
    await this.pool.query(
      `INSERT INTO tenants (name, guarantee_milli, limit_milli, weight, budget, created_at, default_time_limit_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (name) DO UPDATE SET guarantee_milli = excluded.guarantee_milli, limit_milli = excluded.limit_milli,
          weight = excluded.weight, budget = excluded.budget, default_time_limit_ms = excluded.default_time_limit_ms`,
      [t.name, t.guaranteeMilli, t.limitMilli, t.weight, big(t.budget), t.createdAt, t.defaultTimeLimitMs ?? null],
    );
  }

  /** One transaction: the tenant goes, its live tokens are revoked. */
  async deleteTenant(name: string, at: number): Promise<number | null> {
    return inTx(this.pool, async (c) => {
      if ((await c.query('DELETE FROM tenants WHERE name = $1', [name])).rowCount === 0) return null;
      return (await c.query('UPDATE tokens SET revoked_at = $1 WHERE tenant = $2 AND revoked_at IS NULL', [at, name])).rowCount ?? 0;
    });
  }

  async getTenant(name: string): Promise<TenantRecord | null> {
    const row = (await this.pool.query<PgTenantRow>(`${TENANT_SELECT} WHERE name = $1`, [name])).rows[0];
    return row ? rowToTenant(row) : null;
  }

  async listTenants(): Promise<TenantRecord[]> {
    return (await this.pool.query<PgTenantRow>(`${TENANT_SELECT} ORDER BY name`)).rows.map(rowToTenant);
  }

  // ---- Price book

  async getPriceBook(): Promise<PriceBook | null> {
    const row = (await this.pool.query<{ doc: string }>('SELECT doc FROM price_book WHERE id = 1')).rows[0];
    return row ? compilePriceBook(JSON.parse(row.doc), 'stored price book', STORED_LIMITS) : null;
  }

  async setPriceBook(book: PriceBook): Promise<void> {
    const input = priceBookToInput(book);
    // Refuses, before writing, a book that could not be read back.
    compilePriceBook(input, 'priceBook', STORED_LIMITS);
    await this.pool.query('INSERT INTO price_book (id, doc) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc', [JSON.stringify(input)]);
  }

  // ---- Promotions

  async insertPromotion(p: Promotion): Promise<void> {
    const values = promotionValues(p);
    try {
      await this.pool.query('INSERT INTO promotions (name, from_ms, to_ms, doc) VALUES ($1, $2, $3, $4)', values);
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) throw conflict(`promotion ${p.name} already exists`);
      throw err;
    }
  }

  async updatePromotion(p: Promotion): Promise<boolean> {
    const res = await this.pool.query('UPDATE promotions SET from_ms = $2, to_ms = $3, doc = $4 WHERE name = $1', promotionValues(p));
    return res.rowCount === 1;
  }

  async getPromotion(name: string): Promise<Promotion | null> {
    const row = (await this.pool.query<{ name: string; doc: string }>('SELECT name, doc FROM promotions WHERE name = $1', [name])).rows[0];
    return row ? compilePromotion(JSON.parse(row.doc), `stored promotion ${row.name}`, STORED_LIMITS) : null;
  }

  async listPromotions(): Promise<Promotion[]> {
    const rows = (await this.pool.query<{ name: string; doc: string }>('SELECT name, doc FROM promotions ORDER BY from_ms, name')).rows;
    return rows.map((row) => compilePromotion(JSON.parse(row.doc), `stored promotion ${row.name}`, STORED_LIMITS));
  }

  // ---- Ledger

  async openLedgerEntry(entry: LedgerEntry): Promise<void> {
    try {
      await this.pool.query(`INSERT INTO ledger_entries (${ENTRY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`, entryValues(ledgerToRow(entry)));
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) throw conflict(`ledger entry ${entryKey(entry)} already exists`);
      throw err;
    }
  }

  async listLedgerEntries(filter: LedgerFilter = {}): Promise<LedgerEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.open === true) where.push('to_ms IS NULL');
    if (filter.open === false) where.push('to_ms IS NOT NULL');
    const eq = (column: string, v: unknown): void => {
      params.push(v);
      where.push(`${column} = $${params.length}`);
    };
    if (filter.taskId !== undefined) eq('task_id', filter.taskId);
    if (filter.attempt !== undefined) eq('attempt', filter.attempt);
    if (filter.tenant !== undefined) eq('tenant', filter.tenant);
    const sql = `SELECT ${ENTRY_COLUMNS} FROM ledger_entries${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY task_id, attempt, seq`;
    return (await this.pool.query<LedgerRow>(sql, params)).rows.map(rowToLedger);
  }

  async settleLedger(settlement: LedgerSettlement): Promise<string[]> {
    try {
      await inTx(this.pool, (c) => this.settleInside(c, settlement));
      return [];
    } catch (err) {
      if (err instanceof SettlementConflict) return err.conflicts;
      throw err;
    }
  }

  /** The body of the settlement transaction: any throw rolls every write back. */
  private async settleInside(c: pg.PoolClient, settlement: LedgerSettlement): Promise<void> {
    await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, 'ledger']);
    const conflicts: string[] = [];
    for (const w of settlement.writes) {
      const values = entryValues(ledgerToRow(w.entry));
      const res =
        w.expectedSettledTo === null
          ? await c.query(`INSERT INTO ledger_entries (${ENTRY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`, values)
          : // The optimistic lock: charged up to exactly what the caller loaded, and not closed
            // elsewhere (a closed entry is rewritten only with the same end; it never reopens).
            await c.query(
              `UPDATE ledger_entries SET tenant = $4, to_ms = $5, settled_to = $6, doc = $7
                WHERE task_id = $1 AND attempt = $2 AND seq = $3 AND settled_to = $8 AND (to_ms IS NULL OR to_ms = $5)`,
              [...values, w.expectedSettledTo],
            );
      if (res.rowCount === 0) conflicts.push(entryKey(w.entry));
    }

    const tenantDelta = new Map<string, Micros>();
    const promoDelta = new Map<string, Micros>();
    for (const line of pricedUsageToLines(settlement.priced)) {
      if (!(line.to > line.from)) throw invalid('priced', `line ${line.taskId}/${line.attempt}@${line.from} must end after it starts`);
      // An attempt's stored lines never overlap, so the one starting last before `to` is the
      // only one that can reach past `from`.
      const last = (
        await c.query<{ to_ms: number }>(
          'SELECT to_ms FROM priced_lines WHERE task_id = $1 AND attempt = $2 AND from_ms < $3 ORDER BY from_ms DESC LIMIT 1',
          [line.taskId, line.attempt, line.to],
        )
      ).rows[0];
      if (last !== undefined && last.to_ms > line.from) {
        conflicts.push(`line:${line.taskId}/${line.attempt}@${line.from}`);
        continue;
      }
      await c.query(
        `INSERT INTO priced_lines (tenant, task_id, attempt, gpu_model, gpu_milli, gpu_count, anchor, unit_price,
          from_ms, to_ms, list_amount, discount_amount, charged_amount, promotion)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        pricedLineValues(line),
      );
      tenantDelta.set(line.tenant, (tenantDelta.get(line.tenant) ?? 0n) + line.chargedAmount);
      if (line.promotion !== null) promoDelta.set(line.promotion, (promoDelta.get(line.promotion) ?? 0n) + line.discountAmount);
    }

    // The caller's promotion totals must be the store's plus this settlement's discounts;
    // otherwise they were computed from budgets another settlement has since consumed.
    const names = new Set([...promoDelta.keys(), ...settlement.promoSpent.keys()]);
    for (const name of [...names].sort()) {
      const row = (await c.query<{ spent: string }>('SELECT spent::text AS spent FROM promo_spent WHERE name = $1', [name])).rows[0];
      const stored = row ? BigInt(row.spent) : 0n;
      const expected = stored + (promoDelta.get(name) ?? 0n);
      const given = settlement.promoSpent.get(name);
      if (given === undefined ? expected !== stored : BigInt(given) !== expected) conflicts.push(`promotion:${name}`);
    }
    if (conflicts.length > 0) throw new SettlementConflict(conflicts);

    for (const [tenant, d] of tenantDelta) {
      if (d !== 0n) {
        await c.query(`INSERT INTO tenant_spend (tenant, charged) VALUES ($1, $2) ON CONFLICT (tenant) DO UPDATE SET charged = LEAST(tenant_spend.charged::numeric + excluded.charged, ${MAX_LEDGER_MICROS})::bigint`, [tenant, d.toString()]);
      }
    }
    for (const [name, d] of promoDelta) {
      if (d !== 0n) {
        await c.query(`INSERT INTO promo_spent (name, spent) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET spent = LEAST(promo_spent.spent::numeric + excluded.spent, ${MAX_LEDGER_MICROS})::bigint`, [name, d.toString()]);
      }
    }
  }

  async listPricedUsage(filter: PricedUsageFilter = {}): Promise<PricedLineRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const term = (sql: (p: string) => string, v: unknown): void => {
      params.push(v);
      where.push(sql(`$${params.length}`));
    };
    if (filter.from !== undefined) term((p) => `to_ms > ${p}`, filter.from);
    if (filter.to !== undefined) term((p) => `from_ms < ${p}`, filter.to);
    if (filter.tenant !== undefined) term((p) => `tenant = ${p}`, filter.tenant);
    if (filter.taskId !== undefined) term((p) => `task_id = ${p}`, filter.taskId);
    const sql = `SELECT ${LINE_COLUMNS} FROM priced_lines${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY from_ms, task_id, attempt`;
    return (await this.pool.query<PgLineRow>(sql, params)).rows.map(rowToPricedLine);
  }

  async spendByTenant(): Promise<Map<string, Micros>> {
    const rows = (await this.pool.query<{ tenant: string; charged: string }>('SELECT tenant, charged::text AS charged FROM tenant_spend ORDER BY tenant')).rows;
    return new Map(rows.map((r) => [r.tenant, BigInt(r.charged)]));
  }

  async spendByTenantSince(since: number): Promise<Map<string, Micros>> {
    const after = await this.pool.query<{ tenant: string; charged: string }>(
      'SELECT tenant, SUM(charged_amount)::text AS charged FROM priced_lines WHERE to_ms > $1 AND from_ms >= $1 GROUP BY tenant',
      [since],
    );
    const out = new Map(after.rows.map((r) => [r.tenant, BigInt(r.charged)]));
    const across = await this.pool.query<PgLineRow>(`SELECT ${LINE_COLUMNS} FROM priced_lines WHERE to_ms > $1 AND from_ms < $1`, [since]);
    for (const l of across.rows.map(rowToPricedLine)) {
      const part = chargedWithin(l, since, Infinity);
      if (part !== 0n || !out.has(l.tenant)) out.set(l.tenant, (out.get(l.tenant) ?? 0n) + part);
    }
    return out;
  }

  async getPromoSpent(): Promise<Map<string, Micros>> {
    const rows = (await this.pool.query<{ name: string; spent: string }>('SELECT name, spent::text AS spent FROM promo_spent ORDER BY name')).rows;
    return new Map(rows.map((r) => [r.name, BigInt(r.spent)]));
  }
}
