// Live updates: one EventSource on /v1/events; each event marks topics dirty, and views that
// watch those topics re-fetch, at most once per `COALESCE_MS` however many events arrive.
// Utilisation comes with heartbeats, which make no events, so the pool topic is also refreshed
// on a slow timer while something watches it.
import { api, ApiError, notifyUnauthenticated, type PoolEvent } from './api.js';

export type Topic = 'tasks' | 'pool' | `task:${string}`;
type Listener = () => void;

const COALESCE_MS = 250;
const POOL_POLL_MS = 5_000;

const listeners = new Map<Topic, Set<Listener>>();
const eventListeners = new Set<(e: PoolEvent) => void>();
const dirty = new Set<Topic>();
let flushTimer: ReturnType<typeof setTimeout> | null = null;
let lastFlush = 0;
let source: EventSource | null = null;
let pollTimer: ReturnType<typeof setInterval> | null = null;
let status: 'connecting' | 'live' | 'reconnecting' = 'connecting';
const statusListeners = new Set<(s: typeof status) => void>();

function topicsOf(e: PoolEvent): Topic[] {
  const out: Topic[] = [];
  if (e.type.startsWith('task.')) {
    out.push('tasks');
    if (e.taskId) out.push(`task:${e.taskId}`);
    // Pending/submitted events change the queue, not the pool.
    if (e.type !== 'task.submitted' && e.type !== 'task.pending') out.push('pool');
  } else {
    out.push('pool');
  }
  return out;
}

function flush(): void {
  flushTimer = null;
  lastFlush = performance.now();
  const topics = [...dirty];
  dirty.clear();
  for (const t of topics) for (const l of listeners.get(t) ?? []) l();
}

/** Marks topics changed; listeners run soon, coalesced (leading edge, then at most every 250 ms). */
export function invalidate(...topics: Topic[]): void {
  for (const t of topics) if (listeners.has(t)) dirty.add(t);
  if (dirty.size === 0 || flushTimer !== null) return;
  const wait = Math.max(0, COALESCE_MS - (performance.now() - lastFlush));
  flushTimer = setTimeout(flush, wait);
}

/** Calls `f` when `topic` changes; answers the unsubscribe. */
export function watch(topic: Topic, f: Listener): () => void {
  let set = listeners.get(topic);
  if (!set) listeners.set(topic, (set = new Set()));
  set.add(f);
  return () => {
    set.delete(f);
    if (set.size === 0) listeners.delete(topic);
  };
}

/** Every event as it arrives (task detail keeps a timeline of them). */
export function onEvent(f: (e: PoolEvent) => void): () => void {
  eventListeners.add(f);
  return () => eventListeners.delete(f);
}

export function onStatus(f: (s: typeof status) => void): () => void {
  statusListeners.add(f);
  f(status);
  return () => statusListeners.delete(f);
}

function setStatus(s: typeof status): void {
  status = s;
  for (const f of statusListeners) f(s);
}

const EVENT_TYPES: PoolEvent['type'][] = [
  'task.submitted',
  'task.scheduled',
  'task.started',
  'task.finished',
  'task.pending',
  'task.requeued',
  'task.cancelled',
  'node.registered',
  'node.lost',
  'node.ready',
  'vgpu.created',
  'vgpu.placed',
  'vgpu.released',
];

/** Opens the event stream (EventSource reconnects by itself, resuming with Last-Event-ID). */
export function connect(): void {
  if (source) return;
  const es = new EventSource('/v1/events');
  source = es;
  es.onopen = () => {
    // Anything may have changed while we were away.
    if (status === 'reconnecting') invalidate(...listeners.keys());
    setStatus('live');
  };
  es.onerror = () => {
    setStatus('reconnecting');
    // EventSource retries network errors by itself, but gives up on an HTTP error (a 401 when
    // the session ended): find out which, then log in again or start over.
    if (es.readyState !== EventSource.CLOSED) return;
    source = null;
    api.me().then(
      () => setTimeout(restart, 2_000),
      (e: unknown) => {
        if (e instanceof ApiError && e.status === 401) notifyUnauthenticated();
      },
    );
  };
  const handle = (m: MessageEvent<string>): void => {
    let e: PoolEvent;
    try {
      e = JSON.parse(m.data) as PoolEvent;
    } catch {
      return;
    }
    for (const f of eventListeners) f(e);
    invalidate(...topicsOf(e));
  };
  for (const t of EVENT_TYPES) es.addEventListener(t, handle as EventListener);
  pollTimer = setInterval(() => {
    if (document.visibilityState === 'visible') invalidate('pool');
  }, POOL_POLL_MS);
}

function restart(): void {
  if (source || !pollTimer) return; // reconnected meanwhile, or disconnected on purpose
  clearInterval(pollTimer);
  pollTimer = null;
  connect();
}

export function disconnect(): void {
  source?.close();
  source = null;
  if (pollTimer) clearInterval(pollTimer);
  pollTimer = null;
  setStatus('connecting');
}
