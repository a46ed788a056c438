// A task's story from its record, its attempts and the events seen live.
import { gpus, reasonWords, TERMINAL } from '../format.js';
import type { PoolEvent, TaskDetailView } from '../types.js';

export interface TimelineItem {
  at: string;
  what: string;
}

/** Submitted, placed, started, ended (per attempt), waiting reasons seen live, finished: oldest first. */
export function timeline(t: TaskDetailView, events: readonly PoolEvent[]): TimelineItem[] {
  const items: TimelineItem[] = [];
  if (t.createdAt) items.push({ at: t.createdAt, what: `Submitted by tenant ${t.tenant}, priority ${t.priority}` });
  for (const a of t.attempts) {
    const where = `${a.node} GPU ${a.placement.gpus.join(',') || '—'}${a.placement.gpus.length ? ` (${gpus(a.placement.gpuMilli)} each)` : ''}`;
    if (a.scheduledAt) items.push({ at: a.scheduledAt, what: `Attempt ${a.attempt} placed on ${where}` });
    if (a.startedAt) items.push({ at: a.startedAt, what: `Attempt ${a.attempt} started` });
    if (a.endedAt) items.push({ at: a.endedAt, what: `Attempt ${a.attempt} ended: ${a.outcome ?? 'unknown'}${a.exitCode !== null ? `, exit code ${a.exitCode}` : ''}` });
  }
  for (const e of events) {
    if (e.type === 'task.pending' || e.type === 'task.requeued') {
      const reason = typeof e.data.reason === 'string' ? e.data.reason : null;
      items.push({ at: new Date(e.at).toISOString(), what: e.type === 'task.requeued' ? 'Sent back to the queue' : `Waiting: ${reasonWords(reason, null)}` });
    }
  }
  if (t.finishedAt && TERMINAL.includes(t.state)) items.push({ at: t.finishedAt, what: `Finished: ${t.state}${t.exitCode !== null ? ` (exit code ${t.exitCode})` : ''}` });
  items.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return items;
}
