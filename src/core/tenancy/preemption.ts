// Choosing which running tasks to preempt for a waiting one. Two grounds, both only against
// preemptible tasks (a borrowed task counts as preemptible: the caller passes
// `preemptible: spec.preemptible || borrowed`):
// - priority: a waiting task may preempt lower-priority tasks of its own tenant, or of tenants
//   above their guarantee (guaranteed capacity is never taken by another tenant's priority);
// - reclaim: a tenant that stays within its guarantee with the waiting task admitted may take
//   back capacity from other tenants above their guarantee, whatever the priorities.
// Victims go lowest priority first, then most recently started. Nothing is preempted unless
// the waiting task then fits; unneeded victims are dropped again. Whether it fits is the
// caller's `clusterFits`, a pure function over a clone of the cluster, so this stays
// independent of placement.
import type { Tenant } from './types.js';


export interface WaitingTaskInfo {
  id: string;
  tenant: string;
  priority: number;
  /** Total GPU milli requested (milli × count). */
  gpuMilli: number;
}

export interface RunningTaskInfo {
  id: string;
  tenant: string;
  priority: number;
  startedAt: number;
  /** Its spec's flag, or true when it runs on borrowed capacity. */
  preemptible: boolean;
  /** Total GPU milli held. */
  gpuMilli: number;
}

export type PreemptionGround = 'priority' | 'reclaim';

/** Victim order: lowest priority first, then most recently started, then id. */
export function victimOrder(a: RunningTaskInfo, b: RunningTaskInfo): number {
  return a.priority - b.priority || b.startedAt - a.startedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The running tasks to preempt so that `waiting` fits, or null when it would not fit even
 * with every eligible victim gone; [] when it already fits. `usage` is GPU milli held per
 * tenant now; a tenant missing from `tenants` has no guarantee.
 * @example selectVictims(w, running, (released) => fitsAfterReleasing(cluster, released, w), tenants, usage)
 */
export function selectVictims<R extends RunningTaskInfo>(
  waiting: WaitingTaskInfo,
  running: readonly R[],
  clusterFits: (released: R[]) => boolean,
  tenants: ReadonlyMap<string, Pick<Tenant, 'guaranteeMilli'>> | readonly Tenant[],
  usage: ReadonlyMap<string, number>,
): R[] | null {
  if (clusterFits([])) return [];
  const guaranteeOf = guaranteeLookup(tenants);
  const held = new Map(usage);
  const heldBy = (t: string): number => held.get(t) ?? 0;
  const reclaiming = heldBy(waiting.tenant) + waiting.gpuMilli <= guaranteeOf(waiting.tenant);

  const groundFor = (v: R): PreemptionGround | null => {
    if (!v.preemptible || v.id === waiting.id) return null;
    const borrowing = heldBy(v.tenant) > guaranteeOf(v.tenant);
    if (v.priority < waiting.priority && (v.tenant === waiting.tenant || borrowing)) return 'priority';
    if (reclaiming && v.tenant !== waiting.tenant && borrowing) return 'reclaim';
    return null;
  };

  const chosen: R[] = [];
  let fits = false;
  for (const v of [...running].sort(victimOrder)) {
    if (groundFor(v) === null) continue;
    chosen.push(v);
    held.set(v.tenant, heldBy(v.tenant) - v.gpuMilli);
    if (clusterFits(chosen)) {
      fits = true;
      break;
    }
  }
  if (!fits) return null;
  // Drop victims that turned out unneeded, trying the most valuable (last chosen) first.
  for (let i = chosen.length - 2; i >= 0; i--) {
    const without = chosen.filter((_, j) => j !== i);
    if (clusterFits(without)) chosen.splice(i, 1);
  }
  return chosen;
}

function guaranteeLookup(tenants: ReadonlyMap<string, Pick<Tenant, 'guaranteeMilli'>> | readonly Tenant[]): (name: string) => number {
  const map = Array.isArray(tenants)
    ? new Map((tenants as readonly Tenant[]).map((t) => [t.name, t]))
    : (tenants as ReadonlyMap<string, Pick<Tenant, 'guaranteeMilli'>>);
  return (name) => map.get(name)?.guaranteeMilli ?? 0;
}
