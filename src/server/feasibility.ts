// Submit-time check for gangs: N replicas placed all-or-nothing must fit the pool at once.
// whyNeverFits (core) judges one replica; here the real scheduler is asked to place the whole
// gang on the pool as if every node were empty and READY, so the answer is the scheduler's own.
import { schedule } from '../core/scheduler/index.js';
import type { NodeRecord, Task } from '../core/types.js';

/** Why the gang `tasks` can never run at once on `nodes`, or null when an empty pool holds it. */
export function whyGangNeverFits(tasks: readonly Task[], nodes: readonly NodeRecord[]): string | null {
  if (tasks.length <= 1 || nodes.length === 0) return null;
  const empty = nodes.map((n) => ({ ...n, state: 'READY' as const }));
  const policy = { placement: 'first-fit' as const, backfill: false, defaultRuntimeMs: 3_600_000, rng: () => 0.5 };
  const placed = (pending: readonly Task[]): number =>
    schedule({ nodes: empty, active: [], pending, reservations: [] }, 0, policy).decisions.filter((d) => d.kind === 'place').length;
  if (placed(tasks) === tasks.length) return null;
  // How many replicas fit at most, placed one by one, for the message.
  const most = placed(tasks.map((t) => ({ ...t, gangId: null })));
  return `a gang of ${tasks.length} must run all at once, but an empty pool holds at most ${most} of them`;
}
