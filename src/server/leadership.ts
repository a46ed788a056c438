// One leader among several servers on one Postgres (issue 10 item 2). Every server waits for the
// leader lock in the database; the one that gets it bumps the epoch, opens a store fenced with
// that epoch, rebuilds the control plane from the store (buildApp loads it) and serves the API;
// the others forward to it (leadership-proxy.ts). Losing the lock (connection cut, Postgres
// restarted, a pause long enough for the idle timeout) closes the control plane at once: the
// server is a follower again and waits for the lock anew. Writes it still had under way are
// refused by the database (migration 004), so a deposed leader cannot act even before it notices.
import type { TimerClock, Timer } from '../util/clock.js';
import { sleepOn } from '../util/clock.js';

/** Where this server stands. `degraded`: it cannot reach the database, so it cannot lead or know who does. */
export type Role = 'follower' | 'leader' | 'degraded' | 'stopped';

/** Who leads, as the database says. */
export interface LeaderInfo {
  id: string;
  url: string;
  epoch: number;
}

/** The election as leadership needs it (PgLeadership): a narrow seam, so tests can drive it. */
export interface Election {
  lead(now: () => number): Promise<number>;
  ping(): Promise<boolean>;
  /** The takeover is done: the lock's session gets its steady (short) idle timeout. False when the lock is gone. */
  settle(): Promise<boolean>;
  abandon(): Promise<void>;
  leader(): Promise<LeaderInfo | null>;
  heartbeat(url: string, startedAt: number, now: number): Promise<void>;
  watch(fn: (epoch: number) => void, onError: (e: Error) => void): Promise<() => Promise<void>>;
}

/** The leader's half of a server: the API with its control loop, until `close`. */
export interface LeaderRuntime {
  close(): Promise<void>;
}

export interface LeadershipOptions {
  election: Election;
  /** This server's id and advertised URL (what followers forward to). */
  id: string;
  url: string;
  clock: TimerClock;
  /** Opens the fenced store and the control plane for `epoch`. */
  becomeLeader(epoch: number): Promise<LeaderRuntime>;
  log: (line: string) => void;
  /** How often the leader proves its lock's session alive. Default 1 s (well within the idle timeout). */
  pingMs?: number;
  /** How often every server writes its replica row and rereads who leads. Default 2 s. */
  heartbeatMs?: number;
}

export class Leadership {
  role: Role = 'follower';
  /** The epoch this server leads with, or null. */
  epoch: number | null = null;
  /** Who leads, last we heard (self included). */
  leader: LeaderInfo | null = null;
  /** Since when, and why, the database cannot be reached (role `degraded`). */
  degradedSince: { at: number; error: string } | null = null;
  /** Takeovers by this server, and the ms each took from winning the lock to serving. */
  readonly takeovers: { epoch: number; at: number; loadMs: number }[] = [];
  private runtime: LeaderRuntime | null = null;
  private lost: (() => void) | null = null;
  private stopped = false;
  private readonly startedAt: number;
  private loop: Promise<void> | null = null;
  private timers: Timer[] = [];
  private unwatch: (() => Promise<void>) | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly o: LeadershipOptions) {
    this.startedAt = o.clock.now();
  }

  /** Writes the replica row, learns who leads, and starts waiting for the lock. */
  async start(): Promise<void> {
    await this.o.election.heartbeat(this.o.url, this.startedAt, this.o.clock.now());
    await this.refreshLeader();
    await this.listen();
    this.timers.push(this.o.clock.interval(() => void this.beat(), this.o.heartbeatMs ?? 2_000).unref());
    this.timers.push(this.o.clock.interval(() => void this.ping(), this.o.pingMs ?? 1_000).unref());
    this.loop = this.run();
  }

  /** Resolves once this server leads or knows who does, or after `ms` (start-up: answer forwarded requests at once). */
  async settled(ms: number): Promise<void> {
    // Another server leads, or this one does (not merely: the row names this one, still loading).
    const known = (): boolean => this.role === 'leader' || (this.leader !== null && this.leader.id !== this.o.id);
    if (known()) return;
    await new Promise<void>((resolve) => {
      const t = this.o.clock.timeout(done, ms);
      const off = this.onChange(() => {
        if (known()) done();
      });
      function done(): void {
        t.clear();
        off();
        resolve();
      }
    });
  }

  /** Calls `fn` whenever the role or the leader changes (the proxy drops its stale target). */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The election says this server's lock is gone (its connection ended): stop acting now. */
  lose(why: string): void {
    // `lost` is set from the moment the lock is won: a loss while the control plane is still
    // being rebuilt counts too (the takeover closes it as soon as it is built).
    if (this.lost === null || this.stopped) return;
    this.o.log(`error: leadership lost (epoch ${this.epoch}${this.role === 'leader' ? '' : ', while taking over'}): ${why}; closing the control loop, now a follower`);
    this.lost();
  }

  /** Rereads who leads (after a notification, a failed forward, or on the heartbeat). */
  async refreshLeader(): Promise<LeaderInfo | null> {
    try {
      const l = await this.o.election.leader();
      if (this.degradedSince) this.o.log(`the database answers again after ${this.o.clock.now() - this.degradedSince.at} ms`);
      this.degradedSince = null;
      if (this.role === 'degraded') this.role = 'follower';
      const changed = l?.epoch !== this.leader?.epoch || l?.url !== this.leader?.url;
      this.leader = l;
      if (changed) this.changed();
      return l;
    } catch (e) {
      this.degrade(e);
      return this.leader;
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) t.clear();
    this.timers = [];
    this.lost?.();
    // A lead() still waiting for the lock ends with its connection.
    await this.o.election.abandon();
    await this.loop;
    await this.unwatch?.();
    this.role = 'stopped';
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  private degrade(e: unknown): void {
    const error = e instanceof Error ? e.message : String(e);
    if (!this.degradedSince) {
      this.degradedSince = { at: this.o.clock.now(), error };
      this.o.log(`error: cannot reach the database (${error}); retrying`);
    }
    if (this.role === 'follower') this.role = 'degraded';
  }

  private async run(): Promise<void> {
    let backoff = 100;
    while (!this.stopped) {
      let epoch: number;
      try {
        epoch = await this.o.election.lead(() => this.o.clock.now());
      } catch (e) {
        if (this.stopped) break;
        this.degrade(e);
        await sleepOn(this.o.clock, backoff);
        backoff = Math.min(2_000, backoff * 2);
        continue;
      }
      backoff = 100;
      if (this.stopped) break;
      const won = this.o.clock.elapsed();
      let gone = false;
      const lost = new Promise<void>((r) => (this.lost = () => ((gone = true), r())));
      this.epoch = epoch;
      try {
        this.runtime = await this.o.becomeLeader(epoch);
      } catch (e) {
        this.o.log(`error: could not take over as leader (epoch ${epoch}): ${e instanceof Error ? e.message : String(e)}; giving the lock back`);
        this.epoch = null;
        this.lost = null;
        await this.o.election.abandon();
        await sleepOn(this.o.clock, 1_000);
        continue;
      }
      if (!gone && !(await this.o.election.settle()) && !gone) this.lose('the lock’s session ended during the takeover');
      if (gone) {
        // The lock went while the control plane was rebuilt: another server may lead already.
        const rt = this.runtime;
        this.runtime = null;
        this.epoch = null;
        this.lost = null;
        await rt.close().catch((e: unknown) => this.o.log(`error: closing the control plane of a lost takeover: ${e instanceof Error ? e.message : String(e)}`));
        await this.o.election.abandon();
        if (!this.stopped) void this.refreshLeader();
        continue;
      }
      const loadMs = Math.round(this.o.clock.elapsed() - won);
      this.takeovers.push({ epoch, at: this.o.clock.now(), loadMs });
      this.role = 'leader';
      this.degradedSince = null;
      this.leader = { id: this.o.id, url: this.o.url, epoch };
      this.o.log(`leading the pool with epoch ${epoch} (control plane rebuilt from the store in ${loadMs} ms)`);
      this.changed();
      await lost;
      this.lost = null;
      this.role = this.stopped ? 'stopped' : 'follower';
      this.epoch = null;
      // Whoever leads now is not us: reread at once, while the control plane closes.
      this.leader = null;
      if (!this.stopped) void this.refreshLeader();
      const rt = this.runtime;
      this.runtime = null;
      this.changed();
      const closing = this.o.clock.elapsed();
      try {
        await rt.close();
        this.o.log(`the deposed control plane closed in ${Math.round(this.o.clock.elapsed() - closing)} ms`);
      } catch (e) {
        this.o.log(`error: closing the deposed control plane: ${e instanceof Error ? e.message : String(e)}`);
      }
      // Make sure the lock is gone too (a failed ping leaves the connection to us).
      await this.o.election.abandon();
      if (!this.stopped) void this.refreshLeader();
    }
  }

  private async ping(): Promise<void> {
    // From the moment the lock is won, not only once the control plane is rebuilt: a takeover
    // on a loaded host can take longer than the lock session's idle timeout, and a session left
    // silent that long is ended by Postgres, deposing the new leader before it placed anything.
    if (this.lost === null) return;
    if (!(await this.o.election.ping())) this.lose('the lock’s session no longer answers');
  }

  private async beat(): Promise<void> {
    try {
      await this.o.election.heartbeat(this.o.url, this.startedAt, this.o.clock.now());
    } catch (e) {
      this.degrade(e);
      return;
    }
    await this.refreshLeader();
    if (!this.unwatch && !this.stopped) await this.listen();
  }

  private async listen(): Promise<void> {
    try {
      this.unwatch = await this.o.election.watch(
        () => void this.refreshLeader(),
        (e) => {
          // Listen again on the next heartbeat; meanwhile the heartbeat's reread covers us.
          const stop = this.unwatch;
          this.unwatch = null;
          void stop?.();
          this.degrade(e);
        },
      );
    } catch (e) {
      this.degrade(e);
    }
  }
}
