import { describe, expect, it } from 'vitest';
import { ManualClock } from '../util/clock.js';
import { settlesWithin } from './settles-within.js';

describe('settlesWithin', () => {
  it('is true for a promise that resolves or rejects in time, false for one still pending at the deadline', async () => {
    const clock = new ManualClock();
    expect(await settlesWithin(Promise.resolve(1), 100, clock)).toBe(true);
    expect(await settlesWithin(Promise.reject(new Error('x')), 100, clock)).toBe(true);
    let resolve!: () => void;
    const slow = new Promise<void>((r) => (resolve = r));
    const verdict = settlesWithin(slow, 100, clock);
    await clock.advanceAsync(100);
    expect(await verdict).toBe(false);
    resolve();
    // Nothing left on the clock either way.
    expect(clock.pending).toBe(0);
  });
});
