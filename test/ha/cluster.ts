// A replicated pool of real processes for the HA tests and `npm run bench:ha`: N `fastgpu server`
// processes over one real Postgres, agents that know every server's URL, and the means to find
// and kill -9 the leader, restart it on its port, and read from the database when the new
// leader's first placement happened.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { FastGPU } from '../../src/sdk/index.js';
import { Daemon, until, type World } from '../e2e/harness.js';

export interface Health {
  ok?: boolean;
  role?: string;
  epoch?: number | null;
  leader?: string | null;
}

export class HaCluster {
  /** port → the process serving it (the latest one started there). */
  readonly servers = new Map<number, Daemon>();
  readonly agents: Daemon[] = [];
  /** Every server process started, killed ones included (their output tells a failure's story). */
  readonly everyServer: Daemon[] = [];
  private db: pg.Client | null = null;

  constructor(
    private readonly world: World,
    /** postgres://…?schema=… */
    readonly store: string,
    /** The same for the test's own queries: the database URL and the schema. */
    private readonly pgUrl: string,
    private readonly schema: string,
  ) {}

  /** Starts a server (on `port`, or a free one) and resolves with its URL once it listens. */
  async startServer(port = 0): Promise<string> {
    const d = this.world.start(['server', '--store', this.store, '--port', String(port), '--data-dir', this.world.dataDir]);
    this.everyServer.push(d);
    const m = await d.waitFor(/FastGPU server listening at (http:\/\/\S+)/, 60_000);
    const url = m[1]!;
    this.servers.set(Number(new URL(url).port), d);
    return url;
  }

  get urls(): string[] {
    return [...this.servers.keys()].map((p) => `http://127.0.0.1:${p}`);
  }

  /** An agent with simulated GPUs that fails over among every server started so far. */
  async startAgent(name: string, gpus: string, token: string): Promise<void> {
    const d = this.world.start(['agent', '--server', this.urls.join(','), '--token', token, '--name', name, '--gpus', gpus, '--cpus', '64', '--memory', '64GiB', '--state-dir', `${this.world.home}/${name}`]);
    await d.waitFor(/FastGPU agent joined/, 60_000);
    this.agents.push(d);
  }

  client(token: string): FastGPU {
    return new FastGPU({ url: this.urls.join(','), token, env: {}, requestTimeoutMs: 10_000 });
  }

  async health(url: string): Promise<Health | null> {
    try {
      return (await (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) })).json()) as Health;
    } catch {
      return null;
    }
  }

  /** The live server that leads, and its epoch (waits for one). */
  async leader(ms = 30_000): Promise<{ port: number; url: string; epoch: number }> {
    return until(
      'a leader',
      async () => {
        for (const [port, d] of this.servers) {
          if (!d.alive) continue;
          const url = `http://127.0.0.1:${port}`;
          const h = await this.health(url);
          if (h?.role === 'leader' && typeof h.epoch === 'number') return { port, url, epoch: h.epoch };
        }
        return undefined;
      },
      ms,
      20,
    );
  }

  private async q(): Promise<pg.Client> {
    if (!this.db) {
      const db = new pg.Client({ connectionString: this.pgUrl, options: `-c search_path=${this.schema}` });
      // A database that goes away (the outage test stops it) ends this connection: the next
      // query connects again.
      db.on('error', () => {
        if (this.db === db) this.db = null;
      });
      this.db = db;
      await db.connect().catch((e: unknown) => {
        if (this.db === db) this.db = null;
        throw e;
      });
    }
    return this.db;
  }

  /** When (server ms) the first placement at or after `since` was written, or null. */
  async firstPlacementSince(since: number): Promise<number | null> {
    const r = await (await this.q()).query<{ at: string | null }>("SELECT min(at)::text AS at FROM events WHERE type = 'task.scheduled' AND at >= $1", [since]);
    const at = r.rows[0]?.at;
    return at === null || at === undefined ? null : Number(at);
  }

  /** The epoch in the database. */
  async epoch(): Promise<number> {
    return Number((await (await this.q()).query<{ epoch: string }>('SELECT epoch::text AS epoch FROM leadership WHERE id = 1')).rows[0]?.epoch);
  }

  /** When (server ms) task `id` was placed (its first `task.scheduled`), or null. */
  async placedAt(id: string): Promise<number | null> {
    const at = (await (await this.q()).query<{ at: string | null }>("SELECT min(at)::text AS at FROM events WHERE type = 'task.scheduled' AND task_id = $1", [id])).rows[0]?.at;
    return at === null || at === undefined ? null : Number(at);
  }

  /** Whether task `id` has finished (any final state), from the database. */
  async finished(id: string): Promise<boolean> {
    const r = await (await this.q()).query("SELECT 1 FROM tasks WHERE id = $1 AND state IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'PREEMPTED')", [id]);
    return (r.rowCount ?? 0) > 0;
  }

  /** When (server ms) the current leader won the lock (`leadership.since`), or null before any. */
  async leaderSince(): Promise<number | null> {
    const since = (await (await this.q()).query<{ since: string | null }>('SELECT since::text AS since FROM leadership WHERE id = 1')).rows[0]?.since;
    return since === null || since === undefined ? null : Number(since);
  }

  /** Every task's state by id, from the database (the API's listing is capped; this is not). */
  async taskStates(): Promise<Map<string, string>> {
    const r = await (await this.q()).query<{ id: string; state: string }>('SELECT id, state FROM tasks');
    return new Map(r.rows.map((x) => [x.id, x.state]));
  }

  /** Tasks by state, from the database. */
  async states(): Promise<Record<string, number>> {
    const r = await (await this.q()).query<{ state: string; n: string }>('SELECT state, count(*)::text AS n FROM tasks GROUP BY state');
    return Object.fromEntries(r.rows.map((x) => [x.state, Number(x.n)]));
  }

  /**
   * What the database holds of each task (state, reason, attempts, events), for a failure
   * message that tells what happened to the tasks that broke a check.
   */
  async story(ids: readonly string[]): Promise<string> {
    const db = await this.q();
    const out: string[] = [];
    for (const id of ids) {
      const t = (await db.query<{ state: string; doc: string }>('SELECT state, doc FROM tasks WHERE id = $1', [id])).rows[0];
      const task = t ? (JSON.parse(t.doc) as { attempts?: number; reason?: string | null; reasonMessage?: string | null }) : null;
      out.push(`${id}: ${task ? `${t!.state}, ${task.attempts} attempt(s), reason ${task.reason ?? '-'}: ${task.reasonMessage ?? '-'}` : 'not in the database'}`);
      const ev = await db.query<{ at: string; type: string; node_id: string | null; data: string }>('SELECT at::text AS at, type, node_id, data FROM events WHERE task_id = $1 ORDER BY seq', [id]);
      for (const e of ev.rows) out.push(`  ${e.at} ${e.type} ${e.node_id ?? ''} ${e.data}`);
    }
    return out.join('\n');
  }

  /**
   * What became of the acknowledged submits, from the database and from `runs` (each run of a
   * task appends a line starting with its id): lost (not in the database), not SUCCEEDED, run
   * more than once, and ids that ran but are not in the database.
   */
  async audit(acked: ReadonlySet<string>, runs: string): Promise<{ lost: string[]; notSucceeded: string[]; twice: string[]; unknown: string[] }> {
    const byId = await this.taskStates();
    const counts = new Map<string, number>();
    for (const l of readFileSync(runs, 'utf8').split('\n').filter(Boolean)) {
      const id = l.split(' ')[0]!;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return {
      lost: [...acked].filter((id) => !byId.has(id)),
      notSucceeded: [...acked].filter((id) => byId.get(id) !== 'SUCCEEDED'),
      twice: [...counts].filter(([, n]) => n > 1).map(([id]) => id),
      unknown: [...counts.keys()].filter((id) => !byId.has(id)),
    };
  }

  /** Writes every process's output under `dir` (server-N.log, agent-N.log): where a failure is read. */
  saveLogs(dir: string): void {
    mkdirSync(dir, { recursive: true });
    this.everyServer.forEach((d, i) => writeFileSync(join(dir, `server-${i}.log`), d.output));
    this.agents.forEach((d, i) => writeFileSync(join(dir, `agent-${i}.log`), d.output));
  }

  async close(): Promise<void> {
    // Teardown: the database goes with the test; a close error changes nothing measured.
    await this.db?.end().catch(() => {});
    this.db = null;
  }
}
