// The task list's filter.
import type { TaskState, TaskView } from '../types.js';

/** Whether a task passes the state filter (none: all) and the search (name, id, tenant, node, command). */
export function matches(t: TaskView, q: string, states: ReadonlySet<TaskState>): boolean {
  if (states.size > 0 && !states.has(t.state)) return false;
  if (q === '') return true;
  const needle = q.toLowerCase();
  return [t.name, t.id, t.tenant, t.placement?.node ?? '', t.spec.command.join(' ')].some((s) => s.toLowerCase().includes(needle));
}
