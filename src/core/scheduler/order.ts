// Queue order. The default is Slurm's plain priority order: priority (higher first), then submit
// time (older first), then id so that equal tasks still have one order. Fair share (weighted
// dominant share across tenants) replaces it through `SchedulerPolicy.order`.
import type { Task } from '../types.js';

/** Compare two tasks in the default queue order. */
export function compareTasks(a: Task, b: Task): number {
  return b.spec.priority - a.spec.priority || a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Tasks of one priority compared by submit time, then id. */
function compareWithinPriority(a: Task, b: Task): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Past this many distinct priorities, one plain sort is as good as buckets. */
const MAX_BUCKETS = 64;

/**
 * The pending tasks in queue order: priority desc, then createdAt asc, then id. A new array.
 *
 * A queue holds few distinct priorities and comes from the store mostly in submit order, so the
 * tasks are split by priority (stable) and each bucket sorted apart: the sort (stable, finding runs
 * already in order) then costs one comparison per task instead of n·log n comparisons of three keys
 * (a million pending tasks, every cycle). Stable sorts under one total order give the same array.
 */
export function orderQueue(tasks: readonly Task[]): Task[] {
  const buckets = new Map<number, Task[]>();
  for (const t of tasks) {
    const p = t.spec.priority;
    let b = buckets.get(p);
    if (!b) {
      if (buckets.size >= MAX_BUCKETS) return [...tasks].sort(compareTasks);
      buckets.set(p, (b = []));
    }
    b.push(t);
  }
  const priorities = [...buckets.keys()].sort((a, b) => b - a);
  if (priorities.length === 1) return buckets.get(priorities[0]!)!.sort(compareWithinPriority);
  const out: Task[] = new Array<Task>(tasks.length);
  let i = 0;
  for (const p of priorities) for (const t of buckets.get(p)!.sort(compareWithinPriority)) out[i++] = t;
  return out;
}
