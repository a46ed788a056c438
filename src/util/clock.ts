// The clock and timer port (issue 20): what time it is, how long something took, and "call me
// back in N ms". The server and the agent take every timer from here, so tests drive time with a
// ManualClock instead of sleeping: `advance()` moves the time and fires, in order, every timer
// that falls due. This file holds the only real timers and the only performance.now() of
// src/server and src/agent.
import { performance } from 'node:perf_hooks';
import type { Clock } from '../core/types.js';

/** A pending timer. */
export interface Timer {
  clear(): void;
  /** Lets the process exit while this timer waits (real timers only; a no-op on a ManualClock). */
  unref(): Timer;
}

/** A clock with timers. `now()` is wall-clock ms; `elapsed()` a monotonic ms counter for durations. */
export interface TimerClock extends Clock {
  elapsed(): number;
  /** Calls `fn` once, `ms` from now (the port's setTimeout). */
  timeout(fn: () => void, ms: number): Timer;
  /** Calls `fn` every `ms` (the port's setInterval). */
  interval(fn: () => void, ms: number): Timer;
}

const realTimer = (h: NodeJS.Timeout, clear: (h: NodeJS.Timeout) => void): Timer => {
  const t: Timer = {
    clear: () => clear(h),
    unref: () => {
      h.unref();
      return t;
    },
  };
  return t;
};

/** The wall clock and Node's timers. */
export const systemClock: TimerClock = {
  now: () => Date.now(),
  elapsed: () => performance.now(),
  timeout: (fn, ms) => realTimer(setTimeout(fn, ms), clearTimeout),
  interval: (fn, ms) => realTimer(setInterval(fn, ms), clearInterval),
};

/** `clock` with timers: its own when it has them (a ManualClock), else Node's real ones. */
export function timerClock(clock: Clock | undefined): TimerClock {
  if (!clock) return systemClock;
  const c = clock as Partial<TimerClock> & Clock;
  if (typeof c.timeout === 'function' && typeof c.interval === 'function' && typeof c.elapsed === 'function') return c as TimerClock;
  return { now: () => clock.now(), elapsed: systemClock.elapsed, timeout: systemClock.timeout, interval: systemClock.interval };
}

/** Resolves after `ms` on `clock`, or at once when `signal` aborts (never rejects). */
export function sleepOn(clock: TimerClock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      t.clear();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = clock.timeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

interface ManualTimer {
  id: number;
  due: number;
  every: number | null;
  fn: () => void;
}

/**
 * A clock tests drive by hand. `advance(ms)` moves time forward and fires every timer due on the
 * way, each at its own due time (an interval as often as it falls due). `advanceAsync` does the
 * same but lets promises settle between timers, so async work a timer starts runs before the next.
 */
export class ManualClock implements TimerClock {
  private timers: ManualTimer[] = [];
  private nextId = 1;
  constructor(private t = 1_700_000_000_000) {}
  now(): number {
    return this.t;
  }
  elapsed(): number {
    return this.t;
  }
  timeout(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, null);
  }
  interval(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, Math.max(1, ms));
  }
  /** Timers waiting (for tests that check nothing is left behind). */
  get pending(): number {
    return this.timers.length;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (let next = this.due(end); next; next = this.due(end)) this.fire(next);
    this.t = end;
  }
  async advanceAsync(ms: number): Promise<void> {
    const end = this.t + ms;
    await settleMicrotasks();
    for (let next = this.due(end); next; next = this.due(end)) {
      this.fire(next);
      await settleMicrotasks();
    }
    this.t = end;
    await settleMicrotasks();
  }
  set(t: number): void {
    this.t = t;
  }
  private add(fn: () => void, ms: number, every: number | null): Timer {
    const timer: ManualTimer = { id: this.nextId++, due: this.t + Math.max(0, ms), every, fn };
    this.timers.push(timer);
    const handle: Timer = {
      clear: () => {
        this.timers = this.timers.filter((x) => x !== timer);
      },
      unref: () => handle,
    };
    return handle;
  }
  private due(end: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const x of this.timers) if (x.due <= end && (!best || x.due < best.due || (x.due === best.due && x.id < best.id))) best = x;
    return best;
  }
  private fire(x: ManualTimer): void {
    this.t = Math.max(this.t, x.due);
    if (x.every === null) this.timers = this.timers.filter((y) => y !== x);
    else x.due += x.every;
    x.fn();
  }
}

/** Lets every queued promise callback run (a few macrotask turns). */
async function settleMicrotasks(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}
