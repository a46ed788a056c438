// Which default time limit a task gets when its spec sets none (issue 22): its tenant's
// (`fastgpu admin tenant update NAME --default-time-limit 2h`), else the pool's
// (`--default-time-limit`), else none. A task's own `timeLimit` overrides both (core's
// parseTaskSpec). The default is applied once, at submit, as Slurm applies a partition's
// DefaultTime: the scheduler's estimates and the Priority hint then read the task's limit.
import type { Store } from '../store/port.js';

/** The spec context for a submit by `tenant`: what parseTaskSpec and parseSweepSpec take. */
export interface SpecContext {
  tenant: string;
  defaultTimeLimitMs?: number;
}

/**
 * The default time limit of `tenant`'s tasks, read from the store so that a change made on any
 * server applies to the next submit on every server.
 * @example await specContextFor(store, 'research', 3_600_000) // {tenant: 'research', defaultTimeLimitMs: 7_200_000} when research's is 2h
 */
export async function specContextFor(store: Pick<Store, 'getTenant'>, tenant: string, poolDefaultMs: number | undefined): Promise<SpecContext> {
  const own = (await store.getTenant(tenant))?.defaultTimeLimitMs;
  return withDefault(tenant, own ?? poolDefaultMs);
}

/** The same from tenants already in hand (the control plane's cache), for a caller that cannot wait. */
export function specContextFrom(tenants: ReadonlyMap<string, { defaultTimeLimitMs?: number | null }>, tenant: string, poolDefaultMs: number | undefined): SpecContext {
  return withDefault(tenant, tenants.get(tenant)?.defaultTimeLimitMs ?? poolDefaultMs);
}

function withDefault(tenant: string, ms: number | undefined): SpecContext {
  return ms === undefined ? { tenant } : { tenant, defaultTimeLimitMs: ms };
}
