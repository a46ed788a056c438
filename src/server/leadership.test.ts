// Leadership over a scripted election and a manual clock: the lock is proved alive from the moment
// it is won (a takeover that rebuilds the control plane for longer than the lock session's idle
// timeout must not lose the lock to it), and a lock lost while the control plane is still being
// rebuilt closes that control plane as soon as it is built, without ever leading with it.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../util/clock.js';
import { Leadership, type Election, type LeaderRuntime } from './leadership.js';

/** An election whose first `lead` wins epoch 1; later ones wait until abandoned. */
class ScriptedElection implements Election {
  pings: number[] = [];
  alive = true;
  abandons = 0;
  private waiting: ((e: Error) => void) | null = null;
  private won = false;
  constructor(private readonly clock: ManualClock) {}

  lead(): Promise<number> {
    if (!this.won) {
      this.won = true;
      return Promise.resolve(1);
    }
    return new Promise((_, reject) => (this.waiting = reject));
  }
  ping(): Promise<boolean> {
    this.pings.push(this.clock.now());
    return Promise.resolve(this.alive);
  }
  settled = 0;
  settle(): Promise<boolean> {
    this.settled++;
    return Promise.resolve(this.alive);
  }
  abandon(): Promise<void> {
    this.abandons++;
    this.waiting?.(new Error('abandoned'));
    this.waiting = null;
    return Promise.resolve();
  }
  leader(): Promise<null> {
    return Promise.resolve(null);
  }
  heartbeat(): Promise<void> {
    return Promise.resolve();
  }
  watch(): Promise<() => Promise<void>> {
    return Promise.resolve(() => Promise.resolve());
  }
}

/** A takeover that finishes when the test says so, and records its close. */
function slowTakeover(): { becomeLeader: () => Promise<LeaderRuntime>; finish: () => void; closed: () => boolean; started: () => boolean } {
  let finish!: () => void;
  let closed = false;
  let started = false;
  return {
    becomeLeader: () => {
      started = true;
      return new Promise<LeaderRuntime>((resolve) => {
        finish = () =>
          resolve({
            close: () => {
              closed = true;
              return Promise.resolve();
            },
          });
      });
    },
    finish: () => finish(),
    closed: () => closed,
    started: () => started,
  };
}

async function start(clock: ManualClock, election: ScriptedElection, becomeLeader: () => Promise<LeaderRuntime>): Promise<{ l: Leadership; log: string[] }> {
  const log: string[] = [];
  const l = new Leadership({ election, id: 's1', url: 'http://s1', clock, becomeLeader, log: (line) => log.push(line), pingMs: 1_000, heartbeatMs: 2_000 });
  await l.start();
  await clock.advanceAsync(0);
  return { l, log };
}

describe('Leadership', () => {
  it('pings the lock from the moment it is won, while the control plane is still being rebuilt', async () => {
    const clock = new ManualClock();
    const election = new ScriptedElection(clock);
    const t = slowTakeover();
    const { l } = await start(clock, election, t.becomeLeader);
    expect(t.started()).toBe(true);
    const wonAt = clock.now();
    // Ten seconds of rebuilding: far past a 4 s idle timeout, unless the session hears from us.
    await clock.advanceAsync(10_000);
    expect(l.role).toBe('follower');
    const during = election.pings.filter((at) => at > wonAt);
    expect(during.length).toBeGreaterThanOrEqual(9);
    for (let i = 1; i < during.length; i++) expect(during[i]! - during[i - 1]!).toBeLessThanOrEqual(1_000);
    t.finish();
    await clock.advanceAsync(0);
    expect(l.role).toBe('leader');
    expect(l.epoch).toBe(1);
    // Only now does the lock's session get its short idle timeout.
    expect(election.settled).toBe(1);
    await l.stop();
    expect(t.closed()).toBe(true);
  });

  it('a lock lost during the takeover closes the rebuilt control plane at once: it never leads with it', async () => {
    const clock = new ManualClock();
    const election = new ScriptedElection(clock);
    const t = slowTakeover();
    const { l, log } = await start(clock, election, t.becomeLeader);
    const roles: string[] = [];
    l.onChange(() => roles.push(l.role));
    // The session dies mid-takeover: the next ping finds it gone.
    election.alive = false;
    await clock.advanceAsync(1_000);
    expect(log.some((line) => line.includes('leadership lost (epoch 1, while taking over)'))).toBe(true);
    t.finish();
    await clock.advanceAsync(0);
    expect(t.closed()).toBe(true);
    expect(roles).not.toContain('leader');
    expect(l.role).toBe('follower');
    expect(l.epoch).toBeNull();
    expect(election.abandons).toBeGreaterThanOrEqual(1);
    await l.stop();
  });

  it('a lock found gone when the takeover settles is not led with either', async () => {
    const clock = new ManualClock();
    const election = new ScriptedElection(clock);
    election.settle = () => Promise.resolve(false);
    const t = slowTakeover();
    const { l } = await start(clock, election, t.becomeLeader);
    t.finish();
    await clock.advanceAsync(0);
    expect(t.closed()).toBe(true);
    expect(l.role).toBe('follower');
    await l.stop();
  });

  it('a loss the election reports itself (its connection ended) during the takeover counts the same', async () => {
    const clock = new ManualClock();
    const election = new ScriptedElection(clock);
    const t = slowTakeover();
    const { l } = await start(clock, election, t.becomeLeader);
    l.lose('its connection to Postgres ended');
    t.finish();
    await clock.advanceAsync(0);
    expect(t.closed()).toBe(true);
    expect(l.role).toBe('follower');
    await l.stop();
  });
});
