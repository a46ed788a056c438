// Queue order. The default is Slurm's plain priority order: priority (higher first), then submit
// time (older first), then id so that equal tasks still have one order. Fair share (weighted
// dominant share across tenants) replaces it through `SchedulerPolicy.order`.
import type { Task } from '../types.js';

/** Compare two tasks in the default queue order. */
export function compareTasks(a: Task, b: Task): number {
  return b.spec.priority - a.spec.priority || a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Past this many distinct priorities, one plain sort is as good as buckets. */
const MAX_BUCKETS = 64;

const byId = (a: Task, b: Task): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The pending tasks in queue order: priority desc, then createdAt asc, then id. A new array.
 *
 * A queue holds few distinct priorities and comes from the store mostly in submit order, and a
 * million tasks are a million scattered objects: so each task is read once (its priority and
 * submit time into typed arrays), positions are bucketed by priority (stable), and a bucket is
 * sorted only when it is not already in order, which a pass over its submit times tells. Stable
 * sorts under one total order give the same array, so this is `[...tasks].sort(compareTasks)`.
 */
export function orderQueue(tasks: readonly Task[]): Task[] {
  const n = tasks.length;
  const created = new Float64Array(n);
  const bucketOf = new Uint8Array(n);
  const slots = new Map<number, number>();
  const priorities: number[] = [];
  let lastP = NaN;
  let lastB = 0;
  for (let i = 0; i < n; i++) {
    const t = tasks[i]!;
    created[i] = t.createdAt;
    const p = t.spec.priority;
    if (p !== lastP) {
      let b = slots.get(p);
      if (b === undefined) {
        if (priorities.length >= MAX_BUCKETS || Number.isNaN(p)) return [...tasks].sort(compareTasks);
        b = priorities.length;
        slots.set(p, b);
        priorities.push(p);
      }
      lastP = p;
      lastB = b;
    }
    bucketOf[i] = lastB;
  }
  // Bucket starts, highest priority first; then the positions, stable within each bucket.
  const counts = new Uint32Array(priorities.length);
  for (let i = 0; i < n; i++) counts[bucketOf[i]!]!++;
  const order = priorities.map((p, b) => ({ p, b })).sort((x, y) => y.p - x.p);
  const start = new Uint32Array(priorities.length);
  let at = 0;
  for (const { b } of order) {
    start[b] = at;
    at += counts[b]!;
  }
  const next = start.slice();
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[next[bucketOf[i]!]!++] = i;
  for (const { b } of order) sortRange(tasks, created, idx, start[b]!, start[b]! + counts[b]!);
  const out = new Array<Task>(n);
  for (let i = 0; i < n; i++) out[i] = tasks[idx[i]!]!;
  return out;
}

/** Orders `idx[from, to)` by submit time, then id, unless it already is (stable). */
function sortRange(tasks: readonly Task[], created: Float64Array, idx: Uint32Array, from: number, to: number): void {
  let sorted = true;
  for (let k = from + 1; k < to && sorted; k++) {
    const a = idx[k - 1]!;
    const b = idx[k]!;
    const d = created[a]! - created[b]!;
    if (d > 0 || Number.isNaN(d) || (d === 0 && byId(tasks[a]!, tasks[b]!) > 0)) sorted = false;
  }
  if (sorted) return;
  const part = Array.from(idx.subarray(from, to));
  part.sort((a, b) => created[a]! - created[b]! || byId(tasks[a]!, tasks[b]!));
  idx.set(part, from);
}
