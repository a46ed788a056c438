// The store's part of per-group accounting (issue 14 item 5): which array or sweep a task belongs
// to, and each group's name, size and element counts by state, so `usage` and the dashboard can
// total GPU-seconds and cost per array, map and sweep. Both adapters implement it
// (sqlite/groups.ts, postgres/groups.ts) and conformance-groups.ts holds them to one contract.

/** An array, a map (an array whose elements got `inputs`), or a sweep. */
export type GroupKind = 'array' | 'map' | 'sweep';

export interface GroupRef {
  kind: GroupKind;
  id: string;
}

export interface GroupSummary extends GroupRef {
  name: string;
  tenant: string;
  createdAt: number;
  /** Elements of an array; trials made so far of a sweep. */
  size: number;
  /** Elements by task state (arrays, maps) or trials by trial state (sweeps); states with none absent. */
  counts: Record<string, number>;
}

export interface GroupStore {
  /**
   * The group each of these tasks belongs to: its sweep for a trial, else its array (`map` when
   * its elements carry inputs). Tasks in no group, and unknown ids, are absent.
   */
  groupsOfTasks(taskIds: readonly string[]): Promise<Map<string, GroupRef>>;
  /** A summary of each known group, in the order asked; unknown ids are left out. */
  summarizeGroups(ids: readonly string[]): Promise<GroupSummary[]>;
}

/** Ids per query (both adapters bind each id as a parameter). */
export const GROUP_CHUNK = 500;

export function chunks<T>(xs: readonly T[], n = GROUP_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
