// The wait after a lost node (issue 9, Nomad's "unknown" allocations): a task whose node's lease
// ran out is not placed again at once, so an exit its node recorded while cut off still decides.
// Driven with the injected clock; the real-process version is test/e2e/faults-agent-restart.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { holdAfterLease, LostAttempts, lostWrites, MIN_HOLD_MS, type LostWrites } from './lost-attempts.js';
import { FakeAgent, makeHarness, submit, taskState, type Harness } from './testing.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const LEASE = 15_000; // the harness's node lease; the hold defaults to one lease
const one = (name: string, extra: Record<string, unknown> = {}) => ({ name, command: ['sleep', '1'], resources: { gpu: 1 }, retries: 2, ...extra });

/** node-a runs one task (retries 2) while node-b stands by with room; then node-a falls silent past its lease. */
async function lostWithRoomElsewhere(leaseMs = LEASE): Promise<{ a: FakeAgent; b: FakeAgent; id: string }> {
  h = await makeHarness({ nodeLostAfterMs: leaseMs });
  const a = new FakeAgent(h, 'node-a');
  await a.register();
  const [t] = await submit(h, one('job'));
  expect(await a.pollAndStart()).toHaveLength(1);
  const b = new FakeAgent(h, 'node-b');
  await b.register();
  await advance(b, leaseMs + 1_000);
  expect((await h.req('GET', '/v1/nodes')).body.nodes.find((n: { name: string }) => n.name === 'node-a').state).toBe('LOST');
  return { a, b, id: t.id };
}

/** node-a's id, as the store knows it. */
const a_id = (): string => [...h.server.control.nodes.values()].find((n) => n.name === 'node-a')!.id;

/** Time passes for everyone but node-a: node-b heartbeats, the server ticks. */
async function advance(b: FakeAgent, ms: number): Promise<void> {
  h.clock.advance(ms);
  await b.heartbeat();
  h.server.control.tick();
  await h.server.control.settle();
}

describe('a task whose node was lost waits for that node before it runs again', () => {
  it('holds it one lease (reason NodeLost) although another node has room; an exit 0 from the returning node makes it SUCCEEDED, never run again', async () => {
    const { a, b, id } = await lostWithRoomElsewhere();
    const t = await taskState(h, id);
    expect(t).toMatchObject({ state: 'PENDING', reason: 'NodeLost' });
    expect(t.attempts.map((x: { outcome: string }) => x.outcome)).toEqual(['LOST']);
    expect((await b.poll(0)).assignments).toEqual([]);
    await advance(b, LEASE - 2_000);
    expect((await b.poll(0)).assignments).toEqual([]);
    // node-a's partition heals: its supervisor recorded exit 0 before the fence.
    const endedAt = h.clock.now() - LEASE;
    a.running.clear();
    a.exited.set(`${id}#1`, { taskId: id, attempt: 1, status: 'exited', exitCode: 0, endReason: 'exit', endedAt });
    expect((await a.heartbeat()).reregister).toBe(true);
    await a.register();
    await h.server.control.settle();
    const after = await taskState(h, id);
    expect(after).toMatchObject({ state: 'SUCCEEDED', exitCode: 0 });
    expect(after.attempts.map((x: { outcome: string }) => x.outcome)).toEqual(['SUCCEEDED']);
    await advance(b, LEASE);
    expect((await b.poll(0)).assignments).toEqual([]);
    expect((await a.poll(0)).assignments).toEqual([]);
  });

  it('once the hold runs out with no word from the node, the task is placed elsewhere', async () => {
    const { b, id } = await lostWithRoomElsewhere();
    await advance(b, LEASE - 1);
    expect((await b.poll(0)).assignments).toEqual([]);
    await advance(b, 1);
    expect((await b.pollAndStart()).map((x) => [x.taskId, x.attempt])).toEqual([[id, 2]]);
    expect((await taskState(h, id)).state).toBe('RUNNING');
  });

  it('a fenced end reported by the returning node releases the hold at once: nothing to wait for', async () => {
    const { a, b, id } = await lostWithRoomElsewhere();
    a.running.clear();
    a.exited.set(`${id}#1`, { taskId: id, attempt: 1, status: 'exited', exitCode: 143, signal: 'SIGTERM', endReason: 'fenced', endedAt: h.clock.now() - 2_000 });
    await a.register();
    await h.server.control.settle();
    // No time passes: it runs again now (on either node, both have room).
    const placed = [...(await a.pollAndStart()), ...(await b.pollAndStart())];
    expect(placed.map((x) => [x.taskId, x.attempt])).toEqual([[id, 2]]);
  });

  it('a restarted node that still lists the attempt (its exit waits for the logs) is waited for past the first hold', async () => {
    const { a, b, id } = await lostWithRoomElsewhere();
    await advance(b, LEASE - 1_000);
    // The agent restarted, found the exit on disk, and lists the attempt while it ships the logs.
    a.running.set(`${id}#1`, { taskId: id, attempt: 1, status: 'running', pid: 1000 });
    a.exited.clear();
    const reg = await a.register();
    // It is told to stop it (a no-op for an attempt that is over); the real agent ignores that while draining.
    expect(reg.stop.map((s) => [s.taskId, s.attempt])).toEqual([[id, 1]]);
    a.exited.clear();
    a.running.set(`${id}#1`, { taskId: id, attempt: 1, status: 'running', pid: 1000 });
    await h.server.control.settle();
    // The first hold is over; the task still waits for the exit.
    await advance(b, 5_000);
    await a.heartbeat();
    expect([...(await a.poll(0)).assignments, ...(await b.poll(0)).assignments]).toEqual([]);
    expect((await taskState(h, id)).state).toBe('PENDING');
    await a.exit(id, 1, 0);
    expect(await taskState(h, id)).toMatchObject({ state: 'SUCCEEDED', exitCode: 0 });
  });

  it('a failed end reported during the hold ends the wait, and the retry runs', async () => {
    const { a, b, id } = await lostWithRoomElsewhere();
    a.running.clear();
    a.exited.set(`${id}#1`, { taskId: id, attempt: 1, status: 'exited', exitCode: 3, endReason: 'exit', endedAt: h.clock.now() - 2_000 });
    await a.register();
    await h.server.control.settle();
    const placed = [...(await a.pollAndStart()), ...(await b.pollAndStart())];
    expect(placed.map((x) => [x.taskId, x.attempt])).toEqual([[id, 2]]);
  });

  it('a server restarted mid-wait keeps the hold, and the exit 0 the node reports afterwards still wins', async () => {
    const { a, b, id } = await lostWithRoomElsewhere();
    await advance(b, LEASE / 2);
    await h.restart();
    // The new server judges nodes only after a full lease of its own: node-b heartbeats on.
    await advance(b, LEASE / 2 - 1_000);
    expect((await b.poll(0)).assignments).toEqual([]);
    expect(await taskState(h, id)).toMatchObject({ state: 'PENDING', reason: 'NodeLost' });
    a.running.clear();
    a.exited.set(`${id}#1`, { taskId: id, attempt: 1, status: 'exited', exitCode: 0, endReason: 'exit', endedAt: h.clock.now() - LEASE });
    await a.register();
    await h.server.control.settle();
    const after = await taskState(h, id);
    expect(after).toMatchObject({ state: 'SUCCEEDED', exitCode: 0 });
    expect(after.attempts.map((x: { outcome: string }) => x.outcome)).toEqual(['SUCCEEDED']);
    // Decided: the record is gone from the store too, and nothing runs it again.
    expect(await h.store.listLostAttempts()).toEqual([]);
    await advance(b, LEASE);
    expect([...(await a.poll(0)).assignments, ...(await b.poll(0)).assignments]).toEqual([]);
  });

  it('a server restarted mid-wait places the task once the hold it stored runs out, and forgets the record', async () => {
    const { b, id } = await lostWithRoomElsewhere();
    expect(await h.store.listLostAttempts()).toMatchObject([{ taskId: id, attempt: 1, nodeId: a_id(), awaited: false }]);
    await advance(b, LEASE / 2);
    await h.restart();
    await advance(b, LEASE / 2 - 1);
    expect((await b.poll(0)).assignments).toEqual([]);
    await advance(b, 1);
    expect((await b.pollAndStart()).map((x) => [x.taskId, x.attempt])).toEqual([[id, 2]]);
    expect(await h.store.listLostAttempts()).toEqual([]);
  });

  it('under a short lease the wait still covers an agent restart: an exit 0 reported 6 s after the LOST wins (the fault campaign ran such tasks again)', async () => {
    // The campaign's interleaving: node-a's agent is killed -9 while its task finishes, its
    // 4 s lease runs out (LOST), and the restarted agent takes 6 s to register on a busy host.
    const { a, b, id } = await lostWithRoomElsewhere(4_000);
    const lostAt = h.clock.now();
    // Longer than the lease, shorter than the wait: node-b, with room, is given nothing.
    for (let i = 0; i < 6; i++) {
      await advance(b, 1_000);
      expect((await b.poll(0)).assignments).toEqual([]);
    }
    a.running.clear();
    a.exited.set(`${id}#1`, { taskId: id, attempt: 1, status: 'exited', exitCode: 0, endReason: 'exit', endedAt: lostAt - 3_000 });
    await a.register();
    await h.server.control.settle();
    const after = await taskState(h, id);
    expect(after).toMatchObject({ state: 'SUCCEEDED', exitCode: 0 });
    expect(after.attempts.map((x: { outcome: string }) => x.outcome)).toEqual(['SUCCEEDED']);
    await advance(b, MIN_HOLD_MS);
    expect([...(await a.poll(0)).assignments, ...(await b.poll(0)).assignments]).toEqual([]);
  });

  it('the default wait is one lease, and never shorter than an agent restart', () => {
    expect(holdAfterLease(40_000)).toBe(40_000);
    expect(holdAfterLease(4_000)).toBe(MIN_HOLD_MS);
    expect(holdAfterLease(MIN_HOLD_MS + 1)).toBe(MIN_HOLD_MS + 1);
  });

  it('a node its provider ended (nodeGone) is not waited for: processes and all are gone', async () => {
    h = await makeHarness();
    const a = new FakeAgent(h, 'node-a');
    await a.register();
    const [t] = await submit(h, one('job'));
    await a.pollAndStart();
    const b = new FakeAgent(h, 'node-b');
    await b.register();
    await h.server.control.nodeGone('node-a', 'its slurm job ended');
    await h.server.control.settle();
    expect((await b.pollAndStart()).map((x) => [x.taskId, x.attempt])).toEqual([[t.id, 2]]);
  });
});

describe('LostAttempts', () => {
  const task = (state: 'PENDING' | 'FAILED') => ({ id: 't1', state }) as never;

  it('holds only requeued tasks, only when asked, and says once when a hold ran out', () => {
    const l = new LostAttempts(1_000);
    const w: LostWrites = new Map();
    l.record('t1', { attempt: 1, nodeId: 'n1', at: 100, task: task('PENDING') }, true, w);
    l.record('t2', { attempt: 1, nodeId: 'n1', at: 100, task: task('FAILED') }, true, w);
    l.record('t3', { attempt: 1, nodeId: 'n1', at: 100, task: task('PENDING') }, false, w);
    expect([...w.values()].map((r) => [r?.taskId, r?.holdUntil])).toEqual([['t1', 1_100], ['t2', 100], ['t3', 100]]);
    expect([l.held('t1', 1_099), l.held('t2', 100), l.held('t3', 100)]).toEqual([true, false, false]);
    expect(l.nextExpiry()).toBe(1_100);
    expect(l.expired(1_099)).toEqual([]);
    expect(l.expired(1_100)).toEqual(['t1']);
    expect(l.expired(5_000)).toEqual([]);
    expect(l.held('t1', 1_100)).toBe(false);
  });

  it('waits for a returning node once, and only for its own attempt; every change is a write', () => {
    const l = new LostAttempts(1_000);
    const w: LostWrites = new Map();
    l.record('t1', { attempt: 2, nodeId: 'n1', at: 0, task: task('PENDING') }, true, new Map());
    expect(l.awaitExit('t1', 1, 'n1', 500, w)).toBe(false);
    expect(l.awaitExit('t1', 2, 'n2', 500, w)).toBe(false);
    expect(w.size).toBe(0);
    expect(l.awaitExit('t1', 2, 'n1', 900, w)).toBe(true);
    expect(w.get('t1')).toMatchObject({ awaited: true, holdUntil: 1_900 });
    expect(l.held('t1', 1_899)).toBe(true);
    // Listed again later: no second extension.
    expect(l.awaitExit('t1', 2, 'n1', 1_800, w)).toBe(true);
    expect(l.held('t1', 1_900)).toBe(false);
    l.release('t1', 0, w);
    expect(w.get('t1')).toMatchObject({ holdUntil: 0 });
    expect(l.held('t1', 0)).toBe(false);
    l.delete('t1', w);
    expect(w.get('t1')).toBeNull();
    expect(lostWrites(w)).toEqual({ put: [], delete: ['t1'] });
    expect(() => new LostAttempts(-1)).toThrow(/≥ 0/);
  });

  it('restores stored records: a hold still running holds, one that ran out is reported expired once', () => {
    const l = new LostAttempts(1_000);
    const rec = (taskId: string, holdUntil: number) => ({ taskId, attempt: 1, nodeId: 'n1', at: 0, task: { id: taskId, state: 'PENDING' } as never, holdUntil, awaited: false });
    l.restore([rec('t1', 5_000), rec('t2', 500)]);
    expect([l.held('t1', 1_000), l.held('t2', 1_000)]).toEqual([true, false]);
    expect(l.expired(1_000)).toEqual(['t2']);
    expect(l.get('t1')?.nodeId).toBe('n1');
  });
});
