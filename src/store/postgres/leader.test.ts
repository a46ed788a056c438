import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureTask } from '../conformance.js';
import { PgLeadership } from './leader.js';
import { PgStore } from './store.js';
import { insertTasks } from './tasks.js';
import { useTestPostgres, type TestPostgres } from './testing.js';

let pgt: TestPostgres;
beforeAll(async () => {
  pgt = await useTestPostgres();
}, 120_000);
afterAll(async () => pgt?.stop(), 60_000);

/** Waits until some backend of the test database waits on a lock: the event, not a sleep. */
async function someoneWaits(c: pg.Client): Promise<void> {
  for (;;) {
    const r = await c.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
    if (r.rowCount) return;
  }
}

describe('leadership over one Postgres', () => {
  it('one leader at a time; a crashed leader is replaced with a higher epoch, and the database refuses its late writes', async () => {
    const schema = pgt.freshSchema();
    const store = new PgStore({ url: pgt.url, schema });
    await store.init();
    const a = new PgLeadership({ url: pgt.url, schema, id: 'server-a' });
    const b = new PgLeadership({ url: pgt.url, schema, id: 'server-b' });
    expect(await a.tryLead(1000)).toBe(1);
    expect(await b.tryLead(1001)).toBeNull();
    expect(await a.state()).toEqual({ epoch: 1, holder: 'server-a', since: 1000 });
    await a.fenced(1, (c) => insertTasks(c, [fixtureTask('by-a')]));

    // A crashes: its session ends (killed here), the lock goes with it.
    const admin = new pg.Client({ connectionString: pgt.url });
    await admin.connect();
    await admin.query('SELECT pg_terminate_backend($1)', [await a.lockPid()]);
    let epochB: number | null = null;
    while (epochB === null) epochB = await b.tryLead(2000);
    expect(epochB).toBe(2);
    expect(await b.state()).toMatchObject({ epoch: 2, holder: 'server-b' });

    // A's code still believes it leads with epoch 1: the database says no, and writes nothing.
    await expect(a.fenced(1, (c) => insertTasks(c, [fixtureTask('late-a')]))).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining("fenced: epoch 1 is not the leader's (now 2)") as unknown,
    });
    expect(await store.getTask('late-a')).toBeNull();
    await b.fenced(2, (c) => insertTasks(c, [fixtureTask('by-b')]));
    expect((await store.listTasks()).map((t) => t.id).sort()).toEqual(['by-a', 'by-b']);
    await Promise.all([a.close(), b.close(), store.close(), admin.end()]);
    await pgt.dropSchema(schema);
  });

  it('a takeover waits for the old leader’s write already under way, and later writes see the new epoch', async () => {
    const schema = pgt.freshSchema();
    const store = new PgStore({ url: pgt.url, schema });
    await store.init();
    const a = new PgLeadership({ url: pgt.url, schema, id: 'a' });
    const b = new PgLeadership({ url: pgt.url, schema, id: 'b' });
    expect(await a.tryLead(1)).toBe(1);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // A's write has passed the fence and is still open when A resigns and B takes over.
    const write = a.fenced(1, async (c) => {
      await insertTasks(c, [fixtureTask('in-flight')]);
      await held;
    });
    const watcher = new pg.Client({ connectionString: pgt.url });
    await watcher.connect();
    await a.resign();
    const takeover = b.tryLead(2);
    await someoneWaits(watcher);
    // The write under way commits; only then does the epoch move.
    release();
    await write;
    expect(await takeover).toBe(2);
    expect(await store.getTask('in-flight')).not.toBeNull();
    await expect(a.fenced(1, async () => undefined)).rejects.toMatchObject({ code: 'CONFLICT' });
    await Promise.all([a.close(), b.close(), store.close(), watcher.end()]);
    await pgt.dropSchema(schema);
  });

  it('lists the replicas that beat recently', async () => {
    const schema = pgt.freshSchema();
    const store = new PgStore({ url: pgt.url, schema });
    await store.init();
    const a = new PgLeadership({ url: pgt.url, schema, id: 'a' });
    const b = new PgLeadership({ url: pgt.url, schema, id: 'b' });
    await a.heartbeat('http://10.0.0.1:7070', 100, 100);
    await b.heartbeat('http://10.0.0.2:7070', 150, 150);
    await a.heartbeat('http://10.0.0.1:7070', 100, 500);
    expect(await a.replicas(400)).toEqual([{ id: 'a', url: 'http://10.0.0.1:7070', startedAt: 100, seenAt: 500 }]);
    expect((await a.replicas(0)).map((r) => r.id)).toEqual(['a', 'b']);
    await Promise.all([a.close(), b.close(), store.close()]);
    await pgt.dropSchema(schema);
  });
});
