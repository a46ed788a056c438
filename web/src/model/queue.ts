// The queue as the scheduler considers it.
import type { TaskView } from '../types.js';

/** Pending tasks by priority, then submit time (fair share across tenants comes on top once tenants exist). */
export function queueOrder(tasks: readonly TaskView[]): TaskView[] {
  return tasks
    .filter((t) => t.state === 'PENDING')
    .sort((a, b) => b.priority - a.priority || Date.parse(a.createdAt ?? '') - Date.parse(b.createdAt ?? '') || (a.id < b.id ? -1 : 1));
}
