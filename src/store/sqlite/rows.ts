// Row <-> domain mapping for the SQLite adapter. Columns hold what SQL filters, sorts or
// updates on its own; `doc` holds the rest as JSON. On read the columns win, so a field kept
// in both places can never disagree with what the indexes saw.
import type {
  Attempt,
  LogChunk,
  LogStream,
  NodeRecord,
  NodeState,
  PoolEvent,
  ReservationState,
  Task,
  TaskState,
  VgpuReservation,
} from '../../core/types.js';
import { ledgerEntrySchema, ledgerEntryToStored, type LedgerEntry } from '../../core/pricing/ledger.js';
import type { PricedLineRecord, TenantRecord, TokenRecord, UtilisationSample } from '../port.js';

export interface NodeRow {
  id: string;
  name: string;
  state: string;
  registered_at: number;
  last_heartbeat_at: number;
  doc: string;
}

export function nodeToRow(n: NodeRecord): NodeRow {
  const { id, name, state, registeredAt, lastHeartbeatAt, ...rest } = n;
  return { id, name, state, registered_at: registeredAt, last_heartbeat_at: lastHeartbeatAt, doc: JSON.stringify(rest) };
}

export function rowToNode(r: NodeRow): NodeRecord {
  const rest = JSON.parse(r.doc) as Omit<NodeRecord, 'id' | 'name' | 'state' | 'registeredAt' | 'lastHeartbeatAt'>;
  return {
    ...rest,
    id: r.id,
    name: r.name,
    state: r.state as NodeState,
    registeredAt: r.registered_at,
    lastHeartbeatAt: r.last_heartbeat_at,
  };
}

export interface TaskRow {
  id: string;
  state: string;
  name: string;
  tenant: string;
  node_id: string | null;
  vgpu_id: string | null;
  gang_id: string | null;
  created_at: number;
  priority: number;
  version: number;
  doc: string;
  /** The array the task is an element of (issue 14): a column for the tasks_array index. */
  array_id: string | null;
}

export function taskToRow(t: Task): TaskRow {
  // The id, state, times and version are columns; spec stays whole in the doc (name, tenant
  // and priority are copied out of it for the indexes).
  const { id, state, createdAt, gangId, version, ...rest } = t;
  return {
    id,
    state,
    name: t.spec.name,
    tenant: t.spec.tenant,
    node_id: t.placement?.nodeId ?? null,
    vgpu_id: t.spec.vgpuId ?? t.placement?.vgpuId ?? null,
    gang_id: gangId,
    created_at: createdAt,
    priority: t.spec.priority,
    version,
    doc: JSON.stringify(rest),
    array_id: t.array?.id ?? null,
  };
}

export function rowToTask(r: Pick<TaskRow, 'id' | 'state' | 'gang_id' | 'created_at' | 'version' | 'doc'>): Task {
  // Filled in place rather than spread into a new object: start-up loads every live task
  // through here, and the spread costs several times the JSON.parse.
  const t = JSON.parse(r.doc) as Task;
  t.id = r.id;
  t.state = r.state as TaskState;
  t.createdAt = r.created_at;
  t.gangId = r.gang_id;
  t.version = r.version;
  return t;
}

export interface AttemptRow {
  task_id: string;
  attempt: number;
  node_id: string;
  doc: string;
}

export function attemptToRow(a: Attempt): AttemptRow {
  const { taskId, attempt, nodeId, ...rest } = a;
  return { task_id: taskId, attempt, node_id: nodeId, doc: JSON.stringify(rest) };
}

export function rowToAttempt(r: AttemptRow): Attempt {
  const rest = JSON.parse(r.doc) as Omit<Attempt, 'taskId' | 'attempt' | 'nodeId'>;
  return { ...rest, taskId: r.task_id, attempt: r.attempt, nodeId: r.node_id };
}

export interface LogRow {
  pos: number;
  task_id: string;
  attempt: number;
  stream: string;
  seq: number;
  at: number;
  data: string;
}

export function rowToLog(r: LogRow): LogChunk & { pos: number } {
  return { pos: r.pos, taskId: r.task_id, attempt: r.attempt, stream: r.stream as LogStream, seq: r.seq, at: r.at, data: r.data };
}

export interface EventRow {
  seq: number;
  at: number;
  type: string;
  task_id: string | null;
  node_id: string | null;
  vgpu_id: string | null;
  data: string;
}

export function eventToRow(e: Omit<PoolEvent, 'seq'>): Omit<EventRow, 'seq'> {
  return {
    at: e.at,
    type: e.type,
    task_id: e.taskId ?? null,
    node_id: e.nodeId ?? null,
    vgpu_id: e.vgpuId ?? null,
    data: JSON.stringify(e.data),
  };
}

export function rowToEvent(r: EventRow): PoolEvent {
  // Optional ids are left out rather than set to undefined, as the caller wrote them.
  const e: PoolEvent = { seq: r.seq, at: r.at, type: r.type as PoolEvent['type'], data: JSON.parse(r.data) as Record<string, unknown> };
  if (r.task_id !== null) e.taskId = r.task_id;
  if (r.node_id !== null) e.nodeId = r.node_id;
  if (r.vgpu_id !== null) e.vgpuId = r.vgpu_id;
  return e;
}

export interface ReservationRow {
  id: string;
  tenant: string;
  state: string;
  created_at: number;
  version: number;
  doc: string;
}

export function reservationToRow(v: VgpuReservation): ReservationRow {
  const { id, tenant, state, createdAt, version, ...rest } = v;
  return { id, tenant, state, created_at: createdAt, version, doc: JSON.stringify(rest) };
}

export function rowToReservation(r: ReservationRow): VgpuReservation {
  const rest = JSON.parse(r.doc) as Omit<VgpuReservation, 'id' | 'tenant' | 'state' | 'createdAt' | 'version'>;
  return { ...rest, id: r.id, tenant: r.tenant, state: r.state as ReservationState, createdAt: r.created_at, version: r.version };
}

export interface TokenRow {
  id: string;
  hash: string;
  tenant: string;
  role: string;
  name: string;
  created_at: number;
  revoked_at: number | null;
}

export function tokenToRow(t: TokenRecord): TokenRow {
  return { id: t.id, hash: t.hash, tenant: t.tenant, role: t.role, name: t.name, created_at: t.createdAt, revoked_at: t.revokedAt };
}

export function rowToToken(r: TokenRow): TokenRecord {
  return {
    id: r.id,
    hash: r.hash,
    tenant: r.tenant,
    role: r.role as TokenRecord['role'],
    name: r.name,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

export interface SampleRow {
  at: number;
  node_id: string;
  gpu_index: number;
  util_percent: number;
  memory_used_mib: number;
  allocated_milli: number;
}

export function rowToSample(r: SampleRow): UtilisationSample {
  return { at: r.at, nodeId: r.node_id, gpuIndex: r.gpu_index, utilPercent: r.util_percent, memoryUsedMiB: r.memory_used_mib, allocatedMilli: r.allocated_milli };
}

// ---- Issue 4: tenants, promotions, ledger, priced lines. Money columns are INTEGER and are
// read by statements in safeIntegers mode, so every integer column of those rows is a bigint.

export interface TenantRow {
  name: string;
  guarantee_milli: bigint;
  limit_milli: bigint | null;
  weight: number;
  budget: bigint | null;
  created_at: bigint;
  default_time_limit_ms: bigint | null;
}

export function tenantToRow(t: TenantRecord): Record<keyof TenantRow, string | number | bigint | null> {
  return {
    name: t.name,
    guarantee_milli: t.guaranteeMilli,
    limit_milli: t.limitMilli,
    weight: t.weight,
    budget: t.budget,
    created_at: t.createdAt,
    default_time_limit_ms: t.defaultTimeLimitMs ?? null,
  };
}

export function rowToTenant(r: TenantRow): TenantRecord {
  return {
    name: r.name,
    guaranteeMilli: Number(r.guarantee_milli),
    limitMilli: r.limit_milli === null ? null : Number(r.limit_milli),
    weight: r.weight,
    budget: r.budget,
    createdAt: Number(r.created_at),
    defaultTimeLimitMs: r.default_time_limit_ms === null ? null : Number(r.default_time_limit_ms),
  };
}

export interface LedgerRow {
  task_id: string;
  attempt: number;
  seq: number;
  tenant: string;
  to_ms: number | null;
  settled_to: number;
  doc: string;
}

export function ledgerToRow(e: LedgerEntry): LedgerRow {
  // The whole entry goes in the doc (bigints as decimal strings); the key, tenant, end and
  // settledTo are copied out for filtering and for the conditional write.
  return {
    task_id: e.taskId,
    attempt: e.attempt,
    seq: e.seq,
    tenant: e.tenant,
    to_ms: e.to,
    settled_to: e.settledTo,
    doc: JSON.stringify(ledgerEntryToStored(e)),
  };
}

export function rowToLedger(r: LedgerRow): LedgerEntry {
  const doc = JSON.parse(r.doc) as Record<string, unknown>;
  return ledgerEntrySchema.parse({
    ...doc,
    taskId: r.task_id,
    attempt: r.attempt,
    seq: r.seq,
    tenant: r.tenant,
    to: r.to_ms,
    settledTo: r.settled_to,
  });
}

export interface PricedLineRow {
  tenant: string;
  task_id: string;
  attempt: bigint;
  gpu_model: string;
  gpu_milli: bigint;
  gpu_count: bigint;
  anchor: bigint;
  unit_price: bigint;
  from_ms: bigint;
  to_ms: bigint;
  list_amount: bigint;
  discount_amount: bigint;
  charged_amount: bigint;
  promotion: string | null;
}

export function pricedLineToRow(l: PricedLineRecord): Record<keyof PricedLineRow, string | number | bigint | null> {
  return {
    tenant: l.tenant,
    task_id: l.taskId,
    attempt: l.attempt,
    gpu_model: l.gpuModel,
    gpu_milli: l.gpuMilli,
    gpu_count: l.gpuCount,
    anchor: l.anchor,
    unit_price: l.unitPrice,
    from_ms: l.from,
    to_ms: l.to,
    list_amount: l.listAmount,
    discount_amount: l.discountAmount,
    charged_amount: l.chargedAmount,
    promotion: l.promotion,
  };
}

export function rowToPricedLine(r: PricedLineRow): PricedLineRecord {
  return {
    tenant: r.tenant,
    taskId: r.task_id,
    attempt: Number(r.attempt),
    gpuModel: r.gpu_model,
    gpuMilli: Number(r.gpu_milli),
    gpuCount: Number(r.gpu_count),
    anchor: Number(r.anchor),
    unitPrice: r.unit_price,
    from: Number(r.from_ms),
    to: Number(r.to_ms),
    listAmount: r.list_amount,
    discountAmount: r.discount_amount,
    chargedAmount: r.charged_amount,
    promotion: r.promotion,
  };
}
