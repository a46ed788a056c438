// Leadership among several servers on one Postgres (issue 10 item 2, first part): a session
// advisory lock held on a connection of its own, an epoch bumped at every takeover, and the
// replicas' heartbeats. The server wires it in src/server/leadership.ts; what is here is the
// part the database enforces: a write fenced with an old epoch fails in the database
// (fastgpu_fence, migration 003; every write of a fenced PgStore, migration 004), whatever the
// old leader's code believes.
import pg from 'pg';
import { FastGpuError } from '../../core/errors.js';
import { makePool, pgCode, sessionOptions } from './db.js';
import { LOCK_CLASS } from './migrate.js';

/** SQLSTATE that fastgpu_fence raises. */
export const FENCED = 'FGF01';

export interface LeadershipOptions {
  url: string;
  schema?: string;
  /** This server's id (unique per process). */
  id: string;
  /**
   * Postgres ends the lock's session after this long without a statement (`idle_session_timeout`),
   * freeing the lock: how a paused or hung leader loses it. The leader pings well within it
   * (`ping`). Default: none (the lock lasts as long as the session).
   */
  idleTimeoutMs?: number;
  /**
   * The idle timeout from winning the lock until `settle` (the takeover: the new leader rebuilds
   * its control plane, CPU-heavy work that a loaded host may stretch past `idleTimeoutMs`, and a
   * lock lost to that deposes a leader that never placed anything). Bounds a server paused in
   * the middle of a takeover. Default: 5 × idleTimeoutMs, at least 20 s.
   */
  takeoverIdleTimeoutMs?: number;
  /** Called when the lock's connection ends while this server leads: it leads no more. */
  onLost?: (why: string) => void;
}

/** The channel a new leader notifies (payload: its epoch), so followers learn of it at once. */
export const LEADER_CHANNEL = 'fastgpu_leader';

export interface ReplicaRecord {
  id: string;
  url: string;
  startedAt: number;
  seenAt: number;
}

export interface LeaderState {
  epoch: number;
  holder: string | null;
  since: number | null;
}

/** A fence refusal as the port's CONFLICT; anything else unchanged. */
export function translateFence(err: unknown): unknown {
  if (pgCode(err) !== FENCED) return err;
  return new FastGpuError('CONFLICT', (err as Error).message);
}

export class PgLeadership {
  /** The connection that holds the lock: its session ending (crash, kill) is what frees it. */
  private conn: pg.Client | null = null;
  private epoch: number | null = null;
  private readonly pool: pg.Pool;

  constructor(private readonly opts: LeadershipOptions) {
    this.pool = makePool({ url: opts.url, ...(opts.schema !== undefined ? { schema: opts.schema } : {}), max: 2 });
    this.pool.on('error', () => {});
  }

  private lockKey(): [number, string] {
    return [LOCK_CLASS, `leader:${this.opts.schema ?? ''}`];
  }

  /**
   * Becomes leader if nobody is: takes the lock (without waiting) and bumps the epoch. Returns
   * the new epoch, or null when another server holds the lock.
   */
  async tryLead(now: number): Promise<number | null> {
    if (this.epoch !== null) return this.epoch;
    const conn = await this.connection();
    const [k1, k2] = this.lockKey();
    const got = (await conn.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [k1, k2])).rows[0]?.ok === true;
    if (!got) return null;
    return this.takeOver(conn, now);
  }

  /**
   * Waits (in the database, no polling) until the lock is free, takes it and bumps the epoch:
   * a follower's way to take over the moment the leader's session ends. `now` is read after the
   * wait. Rejects when the connection fails (Postgres down, `abort`): the caller tries again.
   */
  async lead(now: () => number): Promise<number> {
    if (this.epoch !== null) return this.epoch;
    const conn = await this.connection();
    const [k1, k2] = this.lockKey();
    await conn.query('SELECT pg_advisory_lock($1, hashtext($2))', [k1, k2]);
    return this.takeOver(conn, now());
  }

  /** Abandons a `lead` under way (shutdown): ends its connection. */
  async abandon(): Promise<void> {
    await this.resign();
  }

  private async connection(): Promise<pg.Client> {
    if (this.conn) return this.conn;
    const idle = this.takeoverIdleMs();
    const settings: Record<string, string> = idle !== undefined ? { idle_session_timeout: String(idle) } : {};
    const options = sessionOptions(this.opts.schema, settings);
    const c = new pg.Client({ connectionString: this.opts.url, keepAlive: true, ...(options !== undefined ? { options } : {}) });
    // A lost connection means a lost lock: forget the epoch, the next tryLead starts over.
    c.on('error', (e) => this.dropConnection(c, `its connection to Postgres failed: ${e.message}`));
    c.on('end', () => this.dropConnection(c, 'its connection to Postgres ended'));
    this.conn = c;
    try {
      await c.connect();
    } catch (e) {
      this.dropConnection(c, 'connect failed');
      throw e;
    }
    return c;
  }

  private async takeOver(conn: pg.Client, now: number): Promise<number> {
    const row = (
      await conn.query<{ epoch: string }>('UPDATE leadership SET epoch = epoch + 1, holder = $1, since = $2 WHERE id = 1 RETURNING epoch::text AS epoch', [this.opts.id, now])
    ).rows[0];
    const epoch = Number(row?.epoch);
    await conn.query('SELECT pg_notify($1, $2)', [LEADER_CHANNEL, String(epoch)]);
    if (this.conn === conn) this.epoch = epoch;
    return epoch;
  }

  private takeoverIdleMs(): number | undefined {
    const steady = this.opts.idleTimeoutMs;
    if (steady === undefined) return this.opts.takeoverIdleTimeoutMs;
    return this.opts.takeoverIdleTimeoutMs ?? Math.max(20_000, 5 * steady);
  }

  /**
   * The takeover is over: from now on the lock's session is ended after `idleTimeoutMs` of
   * silence (how a paused leader loses it). False, and leadership given up, when the session
   * is already gone.
   */
  async settle(): Promise<boolean> {
    const c = this.conn;
    if (!c || this.epoch === null) return false;
    if (this.opts.idleTimeoutMs === undefined) return true;
    try {
      await c.query("SELECT set_config('idle_session_timeout', $1, false)", [String(this.opts.idleTimeoutMs)]);
      return this.conn === c && this.epoch !== null;
    } catch (e) {
      this.dropConnection(c, `its connection to Postgres failed: ${(e as Error).message}`);
      return false;
    }
  }

  /**
   * Proves the lock's session alive (and resets its idle timeout). False, and leadership given
   * up, when it is not: a leader that finds this false must stop acting at once.
   */
  async ping(): Promise<boolean> {
    const c = this.conn;
    if (!c || this.epoch === null) return false;
    try {
      await c.query('SELECT 1');
      return this.conn === c && this.epoch !== null;
    } catch (e) {
      this.dropConnection(c, `its connection to Postgres failed: ${(e as Error).message}`);
      return false;
    }
  }

  /** The epoch this server leads with, or null when it does not (or no longer knows it does). */
  get currentEpoch(): number | null {
    return this.epoch;
  }

  /** What the database says: the current epoch and its holder. */
  async state(): Promise<LeaderState> {
    const r = (await this.pool.query<LeaderState>('SELECT epoch, holder, since FROM leadership WHERE id = 1')).rows[0];
    return r ?? { epoch: 0, holder: null, since: null };
  }

  /** Runs `fn` in one transaction fenced by `epoch`: refused (CONFLICT) unless it is still the leader's. */
  async fenced<R>(epoch: number, fn: (c: pg.PoolClient) => Promise<R>): Promise<R> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT fastgpu_fence($1)', [epoch]);
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (err) {
      // The error that matters is `err`, rethrown below; a failed ROLLBACK on a broken connection adds nothing.
      await c.query('ROLLBACK').catch(() => {});
      throw translateFence(err);
    } finally {
      c.release();
    }
  }

  /**
   * Calls `fn(epoch)` at every change of leader (LISTEN on LEADER_CHANNEL), on a connection of
   * its own. Resolves once listening; the returned function stops. A lost connection calls
   * `onError`: the caller listens again (and rereads the state, since a change may be missed).
   */
  async watch(fn: (epoch: number) => void, onError: (e: Error) => void): Promise<() => Promise<void>> {
    const c = new pg.Client({ connectionString: this.opts.url, keepAlive: true });
    let stopped = false;
    c.on('notification', (m) => {
      if (m.channel === LEADER_CHANNEL) fn(Number(m.payload));
    });
    c.on('error', (e) => {
      if (!stopped) onError(e);
    });
    c.on('end', () => {
      if (!stopped) onError(new Error('the LISTEN connection ended'));
    });
    await c.connect();
    await c.query(`LISTEN ${LEADER_CHANNEL}`);
    return async () => {
      stopped = true;
      // Stopping: the connection goes either way.
      await c.end().catch(() => {});
    };
  }

  /** The URL of the server that leads now (its replica row), with the epoch; null when none is known. */
  async leader(): Promise<{ id: string; url: string; epoch: number } | null> {
    const r = (
      await this.pool.query<{ holder: string; url: string; epoch: number }>(
        'SELECT l.holder, r.url, l.epoch FROM leadership l JOIN replicas r ON r.id = l.holder WHERE l.id = 1',
      )
    ).rows[0];
    return r ? { id: r.holder, url: r.url, epoch: r.epoch } : null;
  }

  /** This server's heartbeat, for `fastgpu status`. */
  async heartbeat(url: string, startedAt: number, now: number): Promise<void> {
    await this.pool.query(
      'INSERT INTO replicas (id, url, started_at, seen_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET url = excluded.url, seen_at = excluded.seen_at',
      [this.opts.id, url, startedAt, now],
    );
  }

  /** Replicas seen since `since`, by id. */
  async replicas(since: number): Promise<ReplicaRecord[]> {
    const rows = (
      await this.pool.query<{ id: string; url: string; started_at: number; seen_at: number }>('SELECT * FROM replicas WHERE seen_at >= $1 ORDER BY id', [since])
    ).rows;
    return rows.map((r) => ({ id: r.id, url: r.url, startedAt: r.started_at, seenAt: r.seen_at }));
  }

  /** Gives the lock up (a clean shutdown), so another server takes over at once. */
  async resign(): Promise<void> {
    const c = this.conn;
    if (c) this.dropConnection(c, null);
    // Closing the leader's connection ends its lock either way; a close error changes nothing.
    await c?.end().catch(() => {});
  }

  async close(): Promise<void> {
    await this.resign();
    // Shutting down: nothing more is done with the pool, so a close error has no one to tell.
    await this.pool.end().catch(() => {});
  }

  /**
   * The lock session's idle timeout as Postgres reports it (`SHOW idle_session_timeout`, e.g.
   * `30s`), or null without a lock connection: tests check which timeout holds without waiting
   * for Postgres's own timer to fire.
   */
  async lockIdleTimeout(): Promise<string | null> {
    if (!this.conn) return null;
    return (await this.conn.query<{ idle_session_timeout: string }>('SHOW idle_session_timeout')).rows[0]?.idle_session_timeout ?? null;
  }

  /** The backend pid of the lock's connection (tests kill it to play a crash). */
  async lockPid(): Promise<number | null> {
    if (!this.conn) return null;
    return (await this.conn.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? null;
  }

  /** Forgets `c` (if still current) and the epoch; tells onLost when a lead ended for `why`. */
  private dropConnection(c: pg.Client, why: string | null): void {
    if (this.conn !== c) return;
    const led = this.epoch;
    this.conn = null;
    this.epoch = null;
    if (led !== null && why !== null) this.opts.onLost?.(why);
  }
}
