// Keyed wake-ups for long-polls and streams: a request waits on a key (a node id, a task id,
// 'events'…) until someone notifies that key, its timeout passes, its client goes away, or the
// server closes. Every timer is owned here and cleared, so close() leaves no handle behind.
import { systemClock, type TimerClock } from '../util/clock.js';

export type WakeReason = 'notified' | 'timeout' | 'aborted' | 'closed';

interface Waiter {
  resolve(reason: WakeReason): void;
}

export class Waiters<K = string> {
  private byKey = new Map<K, Set<Waiter>>();
  private closed = false;

  /** `timers`: the clock whose timers time the waits out (a ManualClock in tests). */
  constructor(private readonly timers: Pick<TimerClock, 'timeout'> = systemClock) {}

  /** Wait until `notify(key)`, `timeoutMs` (on the clock), `signal` aborts, or `close()`. */
  wait(key: K, timeoutMs: number, signal?: AbortSignal): Promise<WakeReason> {
    if (this.closed) return Promise.resolve('closed');
    if (signal?.aborted) return Promise.resolve('aborted');
    return new Promise<WakeReason>((resolve) => {
      let set = this.byKey.get(key);
      if (!set) this.byKey.set(key, (set = new Set()));
      const waiter: Waiter = {
        resolve: (reason) => {
          timer.clear();
          signal?.removeEventListener('abort', onAbort);
          const s = this.byKey.get(key);
          if (s) {
            s.delete(waiter);
            if (s.size === 0) this.byKey.delete(key);
          }
          resolve(reason);
        },
      };
      const onAbort = (): void => waiter.resolve('aborted');
      const timer = this.timers.timeout(() => waiter.resolve('timeout'), Math.max(0, timeoutMs));
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(waiter);
    });
  }

  /** Wake everyone waiting on `key`. */
  notify(key: K): void {
    const set = this.byKey.get(key);
    if (!set) return;
    for (const w of [...set]) w.resolve('notified');
  }

  /** Wake everyone, whatever the key. */
  notifyAll(): void {
    for (const key of [...this.byKey.keys()]) this.notify(key);
  }

  count(key?: K): number {
    if (key !== undefined) return this.byKey.get(key)?.size ?? 0;
    let n = 0;
    for (const s of this.byKey.values()) n += s.size;
    return n;
  }

  /** Wake everyone with 'closed'; later waits return at once. */
  close(): void {
    this.closed = true;
    for (const set of [...this.byKey.values()]) for (const w of [...set]) w.resolve('closed');
    this.byKey.clear();
  }
}
