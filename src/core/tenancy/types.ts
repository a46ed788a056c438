// Tenancy's data: tenants with their quota, weight and budget; roles and principals.
import type { Micros } from '../pricing/money.js';

/** A team or project sharing the pool. */
export interface Tenant {
  name: string;
  /** GPU milli it is guaranteed and may always reclaim (0: none). */
  guaranteeMilli: number;
  /** GPU milli it may never exceed; null: no limit beyond the pool. */
  limitMilli: number | null;
  /** Fair-share weight, > 0: a tenant of weight 2 is entitled to twice the share of weight 1. */
  weight: number;
  /** Spend allowed, in micro-units; null: unlimited. */
  budget: Micros | null;
  /**
   * Time limit of its tasks that set none (overrides the pool's `--default-time-limit`; a task's
   * own `timeLimit` overrides both). Absent or null: the pool's default.
   */
  defaultTimeLimitMs?: number | null;
}

/** `admin` acts on everything; `member` acts within its tenant; `viewer` only reads within it. */
export type Role = 'admin' | 'member' | 'viewer';
export const ROLES: readonly Role[] = ['admin', 'member', 'viewer'];

/** Who makes a request: resolved by the server from the bearer token. */
export interface Principal {
  role: Role;
  tenant: string;
}

/** GPU resources for fair share: milli-GPU and GPU memory, summed over GPUs. */
export interface ResourceVector {
  gpuMilli: number;
  gpuMemoryMiB: number;
}

/** The tenant used when none is named (single-team pools): no guarantee, no limit, weight 1. */
export const DEFAULT_TENANT: Tenant = { name: 'default', guaranteeMilli: 0, limitMilli: null, weight: 1, budget: null };
