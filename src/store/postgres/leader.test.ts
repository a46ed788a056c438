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
    let passed!: () => void;
    const inside = new Promise<void>((r) => (passed = r));
    // A's write has passed the fence and is still open when A resigns and B takes over.
    const write = a.fenced(1, async (c) => {
      await insertTasks(c, [fixtureTask('in-flight')]);
      passed();
      await held;
    });
    const watcher = new pg.Client({ connectionString: pgt.url });
    await watcher.connect();
    // Awaited, not assumed: on a loaded box B's takeover once came before A's write reached the
    // fence, which then (rightly) refused it, and nobody ever waited.
    await inside;
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

  it('a store fenced with a deposed epoch has every control-plane write refused by the database; unfenced ones are not', async () => {
    const schema = pgt.freshSchema();
    const plain = new PgStore({ url: pgt.url, schema });
    await plain.init();
    const a = new PgLeadership({ url: pgt.url, schema, id: 'a' });
    const b = new PgLeadership({ url: pgt.url, schema, id: 'b' });
    const epochA = await a.tryLead(1);
    expect(epochA).toBe(1);
    const storeA = new PgStore({ url: pgt.url, schema, fenceEpoch: 1 });
    await storeA.init();
    // While A leads, its fenced writes pass: a submit (one statement) and a batch (a transaction).
    await storeA.commitBatch({ newTasks: [fixtureTask('a1')], events: [{ type: 'task.submitted', at: 1, taskId: 'a1', data: {} }] });
    const a1 = await storeA.getTask('a1');
    expect(a1).not.toBeNull();
    await a.resign();
    expect(await b.tryLead(2)).toBe(2);
    // A's store still carries epoch 1: every kind of write to the control plane's tables is refused.
    const fenced = { message: expect.stringContaining("fenced: epoch 1 is not the leader's (now 2)") as unknown };
    await expect(storeA.commitBatch({ newTasks: [fixtureTask('a2')], events: [{ type: 'task.submitted', at: 2, taskId: 'a2', data: {} }] })).rejects.toMatchObject(fenced);
    await expect(storeA.insertTasks([fixtureTask('a3')])).rejects.toMatchObject(fenced);
    await expect(storeA.writeTasks([{ task: { ...a1!, state: 'CANCELLED', version: a1!.version + 1 }, expectedVersion: a1!.version }])).rejects.toMatchObject(fenced);
    await expect(storeA.appendEvents([{ type: 'task.submitted', at: 3, taskId: 'a1', data: {} }])).rejects.toMatchObject(fenced);
    await expect(storeA.setNodeState('n1', 'DRAINING')).rejects.toMatchObject(fenced);
    expect((await plain.listTasks()).map((t) => t.id)).toEqual(['a1']);
    expect((await plain.getTask('a1'))?.state).toBe(a1!.state);
    // A store fenced with the current epoch, and an unfenced one (admin tools), write.
    const storeB = new PgStore({ url: pgt.url, schema, fenceEpoch: 2 });
    await storeB.init();
    await storeB.insertTasks([fixtureTask('b1')]);
    await plain.insertTasks([fixtureTask('p1')]);
    expect((await plain.listTasks()).map((t) => t.id).sort()).toEqual(['a1', 'b1', 'p1']);
    await Promise.all([a.close(), b.close(), storeA.close(), storeB.close(), plain.close()]);
    await pgt.dropSchema(schema);
  });

  it('lead() waits in the database for the lock and takes over the moment the leader’s session ends; the loss is reported', async () => {
    const schema = pgt.freshSchema();
    const store = new PgStore({ url: pgt.url, schema });
    await store.init();
    const losses: string[] = [];
    const a = new PgLeadership({ url: pgt.url, schema, id: 'a', onLost: (why) => losses.push(why) });
    const b = new PgLeadership({ url: pgt.url, schema, id: 'b' });
    const changes: number[] = [];
    let changed!: () => void;
    const sawTwo = new Promise<void>((r) => (changed = r));
    const stop = await b.watch((e) => {
      changes.push(e);
      if (e === 2) changed();
    }, () => {});
    await a.heartbeat('http://a', 1, 1);
    await b.heartbeat('http://b', 1, 1);
    expect(await a.lead(() => 10)).toBe(1);
    expect(await a.ping()).toBe(true);
    expect(await b.leader()).toEqual({ id: 'a', url: 'http://a', epoch: 1 });
    const takeover = b.lead(() => 20);
    const watcher = new pg.Client({ connectionString: pgt.url });
    await watcher.connect();
    await someoneWaits(watcher);
    await watcher.query('SELECT pg_terminate_backend($1)', [await a.lockPid()]);
    expect(await takeover).toBe(2);
    await sawTwo;
    expect(changes).toContain(2);
    expect(await b.leader()).toEqual({ id: 'b', url: 'http://b', epoch: 2 });
    // A learns it lost: its ping fails (or its connection already told it), and onLost fired once.
    expect(await a.ping()).toBe(false);
    expect(a.currentEpoch).toBeNull();
    expect(losses).toHaveLength(1);
    await stop();
    await Promise.all([a.close(), b.close(), store.close(), watcher.end()]);
    await pgt.dropSchema(schema);
  });

  it('a leader that stops pinging (paused) loses the lock to the idle timeout', async () => {
    const schema = pgt.freshSchema();
    const store = new PgStore({ url: pgt.url, schema });
    await store.init();
    const a = new PgLeadership({ url: pgt.url, schema, id: 'a', idleTimeoutMs: 300, takeoverIdleTimeoutMs: 30_000 });
    const b = new PgLeadership({ url: pgt.url, schema, id: 'b' });
    expect(await a.tryLead(1)).toBe(1);
    // Taking over (rebuilding its control plane), A may stay silent longer than 300 ms: the
    // takeover's idle timeout is the one its session holds (read from Postgres, rather than
    // waiting out its timer in real time). Once settled, the short one does.
    expect(await a.lockIdleTimeout()).toBe('30s');
    expect(await a.ping()).toBe(true);
    expect(await a.settle()).toBe(true);
    expect(await a.lockIdleTimeout()).toBe('300ms');
    // A says nothing on its lock connection: Postgres ends the session and B gets the lock.
    expect(await b.lead(() => 2)).toBe(2);
    expect(await a.ping()).toBe(false);
    await Promise.all([a.close(), b.close(), store.close()]);
    await pgt.dropSchema(schema);
  });
});
