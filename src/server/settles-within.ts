// Waiting for a promise only so long: whether `p` settled (resolved or rejected) within `ms` on the
// given clock. The caller still holds `p` and decides what a late settlement means; the timer is
// cleared either way, so nothing is left behind.
import type { TimerClock } from '../util/clock.js';

export async function settlesWithin(p: Promise<unknown>, ms: number, timers: TimerClock): Promise<boolean> {
  let timer: { clear(): void } | undefined;
  const late = new Promise<false>((resolve) => (timer = timers.timeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    timer?.clear();
  }
}
