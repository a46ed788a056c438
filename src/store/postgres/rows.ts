// Row <-> domain mapping for the Postgres adapter. The records stored as columns plus a JSON
// `doc` have the same shape as SQLite's, so their mapping is shared (../sqlite/rows.ts); what
// differs is here: log data as bytes, the finish time copied out of a task, money read as text.
import type { LogChunk, LogStream, Task } from '../../core/types.js';
import type { PricedLineRecord, TenantRecord } from '../port.js';
import { taskToRow, type TaskRow } from '../sqlite/rows.js';

export {
  attemptToRow,
  eventToRow,
  ledgerToRow,
  nodeToRow,
  reservationToRow,
  rowToAttempt,
  rowToEvent,
  rowToLedger,
  rowToNode,
  rowToReservation,
  rowToTask,
  rowToToken,
  tokenToRow,
  type AttemptRow,
  type EventRow,
  type LedgerRow,
  type NodeRow,
  type ReservationRow,
  type TaskRow,
  type TokenRow,
} from '../sqlite/rows.js';

/** The task's columns, in the order of INSERT_TASKS (tasks.ts). */
export type PgTaskRow = TaskRow & { finished_at: number | null };

export function pgTaskToRow(t: Task): PgTaskRow {
  return { ...taskToRow(t), finished_at: t.finishedAt };
}

export interface PgLogRow {
  pos: number;
  task_id: string;
  attempt: number;
  stream: string;
  seq: number;
  at: number;
  data: Buffer;
}

export function rowToLog(r: PgLogRow): LogChunk & { pos: number } {
  return { pos: r.pos, taskId: r.task_id, attempt: r.attempt, stream: r.stream as LogStream, seq: r.seq, at: r.at, data: r.data.toString('utf8') };
}

/** Money and limits as text, so that nothing beyond 2^53 passes through a double. */
export interface PgTenantRow {
  name: string;
  guarantee_milli: number;
  limit_milli: number | null;
  weight: number;
  budget: string | null;
  created_at: number;
  default_time_limit_ms: number | null;
}

export const TENANT_SELECT = 'SELECT name, guarantee_milli, limit_milli, weight, budget::text AS budget, created_at, default_time_limit_ms FROM tenants';

export function rowToTenant(r: PgTenantRow): TenantRecord {
  return {
    name: r.name,
    guaranteeMilli: r.guarantee_milli,
    limitMilli: r.limit_milli,
    weight: r.weight,
    budget: r.budget === null ? null : BigInt(r.budget),
    createdAt: r.created_at,
    defaultTimeLimitMs: r.default_time_limit_ms,
  };
}

/** Every column as text: amounts go to bigint, the rest to numbers. */
export const LINE_COLUMNS = `tenant, task_id, attempt::text, gpu_model, gpu_milli::text, gpu_count::text, anchor::text,
  unit_price::text, from_ms::text, to_ms::text, list_amount::text, discount_amount::text, charged_amount::text, promotion`;

export interface PgLineRow {
  tenant: string;
  task_id: string;
  attempt: string;
  gpu_model: string;
  gpu_milli: string;
  gpu_count: string;
  anchor: string;
  unit_price: string;
  from_ms: string;
  to_ms: string;
  list_amount: string;
  discount_amount: string;
  charged_amount: string;
  promotion: string | null;
}

export function rowToPricedLine(r: PgLineRow): PricedLineRecord {
  return {
    tenant: r.tenant,
    taskId: r.task_id,
    attempt: Number(r.attempt),
    gpuModel: r.gpu_model,
    gpuMilli: Number(r.gpu_milli),
    gpuCount: Number(r.gpu_count),
    anchor: Number(r.anchor),
    unitPrice: BigInt(r.unit_price),
    from: Number(r.from_ms),
    to: Number(r.to_ms),
    listAmount: BigInt(r.list_amount),
    discountAmount: BigInt(r.discount_amount),
    chargedAmount: BigInt(r.charged_amount),
    promotion: r.promotion,
  };
}

/** A line's values for INSERT, in the order of the columns above; integers as decimal text. */
export function pricedLineValues(l: PricedLineRecord): (string | null)[] {
  const s = (x: number | bigint): string => (typeof x === 'bigint' ? x.toString() : String(Math.trunc(x)));
  return [
    l.tenant,
    l.taskId,
    s(l.attempt),
    l.gpuModel,
    s(l.gpuMilli),
    s(l.gpuCount),
    s(l.anchor),
    s(l.unitPrice),
    s(l.from),
    s(l.to),
    s(l.listAmount),
    s(l.discountAmount),
    s(l.chargedAmount),
    l.promotion,
  ];
}
