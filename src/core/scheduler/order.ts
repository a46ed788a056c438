// Queue order. The default is Slurm's plain priority order: priority (higher first), then submit
// time (older first), then id so that equal tasks still have one order. Fair share (weighted
// dominant share across tenants) replaces it through `SchedulerPolicy.order`.
import type { Task } from '../types.js';

/** Compare two tasks in the default queue order. */
export function compareTasks(a: Task, b: Task): number {
  return b.spec.priority - a.spec.priority || a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The pending tasks in queue order: priority desc, then createdAt asc, then id. A new array. */
export function orderQueue(tasks: readonly Task[]): Task[] {
  return [...tasks].sort(compareTasks);
}

/** A unit of the queue: one task, or a whole gang placed all-or-nothing. */
export interface QueueUnit {
  /** The members in gang-index order; one task for a task that is not in a gang. */
  tasks: Task[];
  gangId: string | null;
  /** The gang size the spec asks for (1 for a single task). */
  size: number;
}

/**
 * Groups ordered tasks into units: a gang takes the queue position of its first member in
 * `ordered`, and its members follow in gang-index order.
 */
export function toUnits(ordered: readonly Task[]): QueueUnit[] {
  const units: QueueUnit[] = [];
  const gangs = new Map<string, QueueUnit>();
  for (const t of ordered) {
    if (t.gangId === null || t.spec.gang <= 1) {
      units.push({ tasks: [t], gangId: null, size: 1 });
      continue;
    }
    let u = gangs.get(t.gangId);
    if (!u) {
      u = { tasks: [], gangId: t.gangId, size: t.spec.gang };
      gangs.set(t.gangId, u);
      units.push(u);
    }
    u.tasks.push(t);
  }
  for (const u of gangs.values()) u.tasks.sort((a, b) => a.gangIndex - b.gangIndex || (a.id < b.id ? -1 : 1));
  return units;
}
