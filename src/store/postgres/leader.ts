// Leadership among several servers on one Postgres (issue 10 item 2, first part): a session
// advisory lock held on a connection of its own, an epoch bumped at every takeover, and the
// replicas' heartbeats. The control loop is not wired to it yet; what is here is the part the
// database enforces: a write fenced with an old epoch fails in the database (fastgpu_fence,
// migration 003), whatever the old leader's code believes.
import pg from 'pg';
import { FastGpuError } from '../../core/errors.js';
import { ident, makePool, pgCode } from './db.js';
import { LOCK_CLASS } from './migrate.js';

/** SQLSTATE that fastgpu_fence raises. */
export const FENCED = 'FGF01';

export interface LeadershipOptions {
  url: string;
  schema?: string;
  /** This server's id (unique per process). */
  id: string;
}

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
    if (!this.conn) {
      const c = new pg.Client({ connectionString: this.opts.url, ...(this.opts.schema !== undefined ? { options: `-c search_path=${ident(this.opts.schema)}` } : {}) });
      // A lost connection means a lost lock: forget the epoch, the next tryLead starts over.
      c.on('error', () => this.dropConnection());
      c.on('end', () => this.dropConnection());
      await c.connect();
      this.conn = c;
    }
    const [k1, k2] = this.lockKey();
    const got = (await this.conn.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [k1, k2])).rows[0]?.ok === true;
    if (!got) return null;
    const row = (
      await this.conn.query<{ epoch: string }>('UPDATE leadership SET epoch = epoch + 1, holder = $1, since = $2 WHERE id = 1 RETURNING epoch::text AS epoch', [this.opts.id, now])
    ).rows[0];
    this.epoch = Number(row?.epoch);
    return this.epoch;
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
    this.dropConnection();
    // Closing the leader's connection ends its lock either way; a close error changes nothing.
    await c?.end().catch(() => {});
  }

  async close(): Promise<void> {
    await this.resign();
    // Shutting down: nothing more is done with the pool, so a close error has no one to tell.
    await this.pool.end().catch(() => {});
  }

  /** The backend pid of the lock's connection (tests kill it to play a crash). */
  async lockPid(): Promise<number | null> {
    if (!this.conn) return null;
    return (await this.conn.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? null;
  }

  private dropConnection(): void {
    this.conn = null;
    this.epoch = null;
  }
}
