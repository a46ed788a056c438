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
