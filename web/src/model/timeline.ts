// A task's story from its record, its attempts and its events: the stored history
// (GET /v1/tasks/:id/events) followed by the live ones, so a task opened after it ran is told
// whole. The record and the events say some things twice (placed, started, finished): each
// step is told once, at the record's time where it has one, and marked with the event behind it.
import { gpus, reasonWords, TERMINAL } from '../format.js';
import type { PoolEvent, TaskDetailView } from '../types.js';

export interface TimelineItem {
  at: string;
  what: string;
  /** The stored event behind the entry, if any (an attempt's end is known from the record only). */
  event?: PoolEvent['type'];
}

/**
 * `known` with `more` added: deduplicated by seq, in seq order. Answers `known` itself when
 * nothing is new, so a state holding it does not change.
 * @example mergeEvents(history, [live])
 */
export function mergeEvents(known: readonly PoolEvent[], more: readonly PoolEvent[]): readonly PoolEvent[] {
  const seen = new Set(known.map((e) => e.seq));
  const fresh: PoolEvent[] = [];
  for (const e of more) {
    if (seen.has(e.seq)) continue;
    seen.add(e.seq);
    fresh.push(e);
  }
  if (fresh.length === 0) return known;
  return [...known, ...fresh].sort((x, y) => x.seq - y.seq);
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const iso = (ms: number): string => new Date(ms).toISOString();

const where = (node: string, gpuList: readonly number[], milli: number): string =>
  `${node} GPU ${gpuList.join(',') || '—'}${gpuList.length ? ` (${gpus(milli)} each)` : ''}`;

// Said in full: "borrowed" alone does not tell a user that their plain task may be stopped.
const BORROWED = ', on borrowed capacity (beyond its tenant’s guarantee: it may be preempted when another tenant claims its guarantee, then requeued with no retry used)';

const finishedWords = (state: string, exitCode: number | null): string => `Finished: ${state}${exitCode !== null ? ` (exit code ${exitCode})` : ''}`;

/**
 * Where a step falls among others at the same millisecond: submitted, then each attempt's
 * placed, started, ended, requeued (and waiting reasons after it), then cancelled, finished.
 */
const rankOf = (kind: 'submitted' | 'placed' | 'started' | 'ended' | 'requeued' | 'pending' | 'cancelled' | 'finished', attempt: number | null): number => {
  const n = attempt ?? 0;
  switch (kind) {
    case 'submitted':
      return 0;
    case 'placed':
      return 10 * n + 1;
    case 'started':
      return 10 * n + 2;
    case 'ended':
      return 10 * n + 3;
    case 'requeued':
      return 10 * n + 4;
    case 'pending':
      return 10 * n + 5;
    case 'cancelled':
      return Number.MAX_SAFE_INTEGER - 1;
    case 'finished':
      return Number.MAX_SAFE_INTEGER;
  }
};

type Ranked = TimelineItem & { rank: number };

/** Submitted, placed, started, ended (per attempt), waiting reasons, requeues, cancels, finished: oldest first. */
export function timeline(t: TaskDetailView, events: readonly PoolEvent[]): TimelineItem[] {
  // One entry per step: the record's version first, an event's fills in what the record lacks.
  const steps = new Map<string, Ranked>();
  const others: Ranked[] = [];
  const step = (key: string, item: Ranked): Ranked => {
    const had = steps.get(key);
    if (!had) {
      steps.set(key, item);
      return item;
    }
    if (item.event && !had.event) had.event = item.event;
    return had;
  };

  if (t.createdAt) step('submitted', { at: t.createdAt, what: `Submitted by tenant ${t.tenant}, priority ${t.priority}`, rank: rankOf('submitted', null) });
  for (const a of t.attempts) {
    const on = where(a.node, a.placement.gpus, a.placement.gpuMilli);
    if (a.scheduledAt) step(`placed:${a.attempt}`, { at: a.scheduledAt, what: `Attempt ${a.attempt} placed on ${on}`, rank: rankOf('placed', a.attempt) });
    if (a.startedAt) step(`started:${a.attempt}`, { at: a.startedAt, what: `Attempt ${a.attempt} started`, rank: rankOf('started', a.attempt) });
    if (a.endedAt) {
      const what = `Attempt ${a.attempt} ended: ${a.outcome ?? 'unknown'}${a.exitCode !== null ? `, exit code ${a.exitCode}` : ''}`;
      step(`ended:${a.attempt}`, { at: a.endedAt, what, rank: rankOf('ended', a.attempt) });
    }
  }
  if (t.finishedAt && TERMINAL.includes(t.state)) step('finished', { at: t.finishedAt, what: finishedWords(t.state, t.exitCode), rank: rankOf('finished', null) });

  // The attempt the history has reached, for waiting reasons (which name none).
  let reached = 0;
  for (const e of events) {
    const at = iso(e.at);
    const attempt = num(e.data.attempt);
    if (attempt !== null) reached = Math.max(reached, attempt);
    switch (e.type) {
      case 'task.submitted':
        step('submitted', { at, what: `Submitted by tenant ${str(e.data.tenant) ?? t.tenant}, priority ${t.priority}`, event: e.type, rank: rankOf('submitted', null) });
        break;
      case 'task.scheduled': {
        const gpuList = Array.isArray(e.data.gpus) ? e.data.gpus.filter((g): g is number => typeof g === 'number') : [];
        const on = where(str(e.data.node) ?? e.nodeId ?? 'a node', gpuList, num(e.data.gpuMilli) ?? 0);
        const item = step(`placed:${attempt}`, { at, what: `Attempt ${attempt ?? '?'} placed on ${on}`, event: e.type, rank: rankOf('placed', attempt) });
        // Borrowed capacity is news the record does not keep.
        if (e.data.borrowed === true && !item.what.endsWith(BORROWED)) item.what += BORROWED;
        break;
      }
      case 'task.started':
        step(`started:${attempt}`, { at, what: `Attempt ${attempt ?? '?'} started`, event: e.type, rank: rankOf('started', attempt) });
        break;
      case 'task.finished':
        step('finished', { at, what: finishedWords(str(e.data.state) ?? 'unknown', num(e.data.exitCode)), event: e.type, rank: rankOf('finished', null) });
        break;
      case 'task.pending':
        others.push({ at, what: `Waiting: ${reasonWords(str(e.data.reason), str(e.data.message))}`, event: e.type, rank: rankOf('pending', reached) });
        break;
      case 'task.requeued': {
        const after = str(e.data.after);
        const what = `Sent back to the queue${attempt !== null ? ` after attempt ${attempt}` : ''}${after ? ` (${after})` : ''}`;
        others.push({ at, what, event: e.type, rank: rankOf('requeued', attempt) });
        break;
      }
      case 'task.cancelled':
        others.push({ at, what: e.data.waiting === 'agent' ? 'Cancel requested: its agent stops it' : 'Cancelled before it was placed', event: e.type, rank: rankOf('cancelled', null) });
        break;
      default:
        break;
    }
  }

  // Submitted comes first and finished last whatever the clocks say: the record's times and the
  // events' may differ by a millisecond (a cancel's event is stamped just after the task's end).
  const group = (x: Ranked): number => (x.rank === rankOf('submitted', null) ? 0 : x.rank === rankOf('finished', null) ? 2 : 1);
  return [...steps.values(), ...others]
    .sort((a, b) => group(a) - group(b) || Date.parse(a.at) - Date.parse(b.at) || a.rank - b.rank)
    .map(({ rank: _rank, ...item }) => item);
}
