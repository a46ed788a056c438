import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeAgent, h100s, makeHarness, submit, taskState, type Harness } from './testing.js';
import { MAX_UNSTARTED_ATTEMPTS } from '../core/state.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => {
  await h.close();
});

/** Resolves once `cond` holds, checked at every turn of the event loop (an event, not a sleep). */
async function eventually(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}

/** Resolves once a long-poll of the node is parked: the event itself, not a sleep. */
async function parked(nodeId: string): Promise<void> {
  while (h.server.control.pollers.count(nodeId) === 0) await new Promise((r) => setImmediate(r));
}

const half = (name: string, extra: Record<string, unknown> = {}) => ({ name, command: ['sleep', '1'], resources: { gpu: 0.5 }, ...extra });

describe('control loop with a fake agent', () => {
  it('packs 4 × 0.5 GPU on one H100: two run, two wait for Resources, then the rest are placed', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await submit(h, half(`t${i}`)))[0].id);
    await h.server.control.settle();

    const first = await agent.pollAndStart();
    expect(first).toHaveLength(2);
    expect(first.every((a) => a.placement.gpuMilli === 500 && a.placement.gpus[0] === 0)).toBe(true);
    expect(first.map((a) => a.attempt)).toEqual([1, 1]);
    const pending = (await h.req('GET', '/v1/tasks?state=PENDING')).body.tasks;
    expect(pending).toHaveLength(2);
    expect(pending.map((t: any) => t.reason)).toEqual(['Resources', 'Resources']);
    const running = (await h.req('GET', '/v1/tasks?state=RUNNING')).body.tasks;
    expect(running).toHaveLength(2);

    const gpus = (await h.req('GET', '/v1/gpus')).body.gpus;
    expect(gpus).toHaveLength(1);
    expect(gpus[0].allocatedMilli).toBe(1000);
    expect(gpus[0].slices).toHaveLength(2);

    // Both exit: capacity frees and the two others get placed.
    h.clock.advance(1000);
    await agent.exit(first[0]!.taskId, 1, 0);
    await agent.exit(first[1]!.taskId, 1, 3);
    await h.server.control.settle();
    expect((await taskState(h, first[0]!.taskId)).state).toBe('SUCCEEDED');
    const failed = await taskState(h, first[1]!.taskId);
    expect(failed.state).toBe('FAILED');
    expect(failed.exitCode).toBe(3);
    expect(failed.attempts[0].outcome).toBe('FAILED');
    const second = await agent.pollAndStart();
    expect(second).toHaveLength(2);
    expect(new Set([...first, ...second].map((a) => a.taskId))).toEqual(new Set(ids));
  });

  it('answers a waiting long-poll as soon as a task is placed', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    // The long-poll's time is the control plane's clock: nothing but the placement can end it.
    const poll = agent.poll(5_000);
    await parked(agent.nodeId);
    const [t] = await submit(h, half('quick'));
    const res = await poll;
    expect(res.assignments.map((a) => a.taskId)).toEqual([t.id]);
    // Nothing new: the next poll waits its time out and resends what is not reported yet.
    const again = agent.poll(30);
    await parked(agent.nodeId);
    h.clock.advance(29);
    expect(h.server.control.pollers.count(agent.nodeId)).toBe(1);
    h.clock.advance(1);
    expect((await again).assignments.map((a) => a.taskId)).toEqual([t.id]);
  });

  it('never hands out a placement before it is durable', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    const real = h.store.commitBatch.bind(h.store);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // Only the cycle's write of the placement hangs (the submit's own batch has no task writes).
    h.store.commitBatch = async (b) => {
      if (b.tasks && b.tasks.length > 0) await gate;
      return real(b);
    };
    const res = await h.req('POST', '/v1/tasks', half('slow-disk'));
    const id = res.body.tasks[0].id;
    // Wait until the cycle has placed it in memory while its write hangs.
    await eventually(() => h.server.control.tasks.get(id)?.state === 'SCHEDULED');
    expect((await agent.poll(0)).assignments).toEqual([]);
    const waiting = agent.poll(5_000);
    release();
    h.store.commitBatch = real;
    const got = await waiting;
    expect(got.assignments.map((a) => a.taskId)).toEqual([id]);
  });

  it('a cycle whose write waited on the disk does not hold back the next one (only computing counts)', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    const real = h.store.commitBatch.bind(h.store);
    let slow = true;
    h.store.commitBatch = async (b) => {
      // The first placement's write takes 300 ms of the control plane's clock, as a WAL
      // checkpoint's fsync can; computing takes none of it.
      if (slow && b.tasks && b.tasks.length > 0) {
        slow = false;
        h.clock.advance(300);
      }
      return real(b);
    };
    await submit(h, half('first'));
    const [second] = await submit(h, half('second'));
    // Throttled by the whole cycle (3 × 300 ms) its cycle would wait for a timer this clock never
    // fires; throttled by computing only, it runs at once.
    await h.server.control.settle();
    expect((await taskState(h, second.id)).state).toBe('SCHEDULED');
    h.store.commitBatch = real;
  });

  it('records timeout, launch failure and cancel outcomes', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(4));
    await agent.register();
    const [a] = await submit(h, half('a', { timeLimit: '1s' }));
    const [b] = await submit(h, half('b'));
    const started = await agent.pollAndStart();
    expect(started).toHaveLength(2);
    expect(started.find((x) => x.taskId === a.id)!.timeLimitMs).toBe(1000);
    await agent.exit(a.id, 1, null, 'timeout');
    await agent.exit(b.id, 1, null, 'launch-failed', 'workdir /nope does not exist');
    const ta = await taskState(h, a.id);
    const tb = await taskState(h, b.id);
    expect(ta.state).toBe('TIMEOUT');
    expect(tb.state).toBe('FAILED');
    expect(tb.reasonMessage).toContain('/nope');
    // Idempotent: the same report again changes nothing.
    await agent.send([{ taskId: a.id, attempt: 1, status: 'exited', exitCode: 0, endReason: 'exit' }]);
    expect((await taskState(h, a.id)).state).toBe('TIMEOUT');
    // Heartbeat acks the exits.
    const hb = await agent.heartbeat();
    expect(hb.ack.map((x) => x.taskId).sort()).toEqual([a.id, b.id].sort());
  });

  it('a preempted attempt sends the task back to the queue for a new attempt', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    const [t] = await submit(h, half('p', { preemptible: true }));
    await agent.pollAndStart();
    await agent.exit(t.id, 1, null, 'preempted');
    await h.server.control.settle();
    const again = await agent.pollAndStart();
    expect(again.map((a) => [a.taskId, a.attempt])).toEqual([[t.id, 2]]);
    const v = await taskState(h, t.id);
    expect(v.attempts.map((a: any) => a.outcome)).toEqual(['PREEMPTED', null]);
    const events = await h.store.listEvents(0, 1000);
    expect(events.filter((e) => e.taskId === t.id).map((e) => e.type)).toEqual(['task.submitted', 'task.scheduled', 'task.started', 'task.requeued', 'task.scheduled', 'task.started']);
  });

  it('cancel: PENDING at once; RUNNING via a stop order and the exit report; finished → 409', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    const [r1] = await submit(h, { command: 'sleep 100', resources: { gpu: 1 } });
    const [p1] = await submit(h, { command: 'sleep 100', resources: { gpu: 1 } });
    const started = await agent.pollAndStart();
    expect(started.map((a) => a.taskId)).toEqual([r1.id]);

    const c1 = await h.req('POST', `/v1/tasks/${p1.id}/cancel`);
    expect(c1.status).toBe(200);
    expect(c1.body.state).toBe('CANCELLED');

    const c2 = await h.req('POST', `/v1/tasks/${r1.id}/cancel`);
    expect(c2.status).toBe(200);
    expect(c2.body.state).toBe('RUNNING');
    const poll = await agent.poll(1000);
    expect(poll.stop).toEqual([{ taskId: r1.id, attempt: 1, graceMs: 10_000, reason: 'cancelled' }]);
    const hb = await agent.heartbeat();
    expect(hb.stop.map((s) => s.taskId)).toEqual([r1.id]);
    await agent.exit(r1.id, 1, null, 'cancelled');
    expect((await taskState(h, r1.id)).state).toBe('CANCELLED');

    const c3 = await h.req('POST', `/v1/tasks/${r1.id}/cancel`);
    expect(c3.status).toBe(409);
    expect(c3.body.error.code).toBe('CONFLICT');
    expect((await h.req('POST', '/v1/tasks/t_nosuchtask/cancel')).status).toBe(404);
  });

  it('cancel of a SCHEDULED task never handed to the agent ends it at once', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    const [t] = await submit(h, half('x'));
    expect((await taskState(h, t.id)).state).toBe('SCHEDULED');
    const c = await h.req('POST', `/v1/tasks/${t.id}/cancel`);
    expect(c.body.state).toBe('CANCELLED');
    expect((await agent.poll(0)).assignments).toEqual([]);
  });

  it('a node that stops heartbeating is LOST: tasks with retries are requeued and placed elsewhere, others FAIL', async () => {
    const a = new FakeAgent(h, 'node-a', h100s(1, 'A'));
    await a.register();
    const [keep] = await submit(h, half('keep', { retries: 1 }));
    const [die] = await submit(h, half('die'));
    expect(await a.pollAndStart()).toHaveLength(2);

    h.clock.advance(10_000);
    const b = new FakeAgent(h, 'node-b', h100s(1, 'B'));
    await b.register();
    h.clock.advance(6_000);
    await b.heartbeat();
    await h.server.control.detectLostNodes();
    await h.server.control.settle();

    const nodes = (await h.req('GET', '/v1/nodes')).body.nodes;
    expect(nodes.find((n: any) => n.name === 'node-a').state).toBe('LOST');
    expect(nodes.find((n: any) => n.name === 'node-b').state).toBe('READY');
    const tk = await taskState(h, keep.id);
    expect(tk.attempts[0].outcome).toBe('LOST');
    // It waits one lease for node-a's late exit report before it runs elsewhere.
    expect(tk).toMatchObject({ state: 'PENDING', reason: 'NodeLost' });
    expect(tk.reasonMessage).toMatch(/its node node-a was lost; it waits until .* for that node to report how attempt 1 ended/);
    const td = await taskState(h, die.id);
    expect(td.state).toBe('FAILED');
    expect((await b.poll(0)).assignments).toEqual([]);
    h.clock.advance(15_000);
    await b.heartbeat();
    h.server.control.tick();
    await h.server.control.settle();

    const onB = await b.pollAndStart();
    expect(onB.map((x) => [x.taskId, x.attempt])).toEqual([[keep.id, 2]]);

    // node-a comes back still running attempt 1 of both: it gets stop orders for them.
    const hb = await a.heartbeat();
    expect(hb.reregister).toBe(true);
    const reg = await a.register();
    expect(reg.stop.map((s) => `${s.taskId}#${s.attempt}`).sort()).toEqual([`${keep.id}#1`, `${die.id}#1`].sort());
    // Its stale exit reports are ignored.
    await a.send([{ taskId: keep.id, attempt: 1, status: 'exited', exitCode: 0, endReason: 'exit' }]);
    expect((await taskState(h, keep.id)).state).toBe('RUNNING');
    await b.exit(keep.id, 2, 0);
    expect((await taskState(h, keep.id)).state).toBe('SUCCEEDED');
  });

  it('a server restart (new app on the same store) loses nothing and launches nothing twice', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(2));
    await agent.register();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await submit(h, half(`r${i}`)))[0].id);
    const first = await agent.pollAndStart();
    expect(first).toHaveLength(4);
    await agent.exit(first[0]!.taskId, 1, 0);

    await h.restart();
    await agent.register();
    await h.server.control.settle();
    const after = (await h.req('GET', '/v1/tasks?all=true')).body.tasks;
    expect(after).toHaveLength(6);
    const states = Object.fromEntries(after.map((t: any) => [t.id, t.state]));
    for (const a of first.slice(1)) expect(states[a.taskId]).toBe('RUNNING');
    expect(states[first[0]!.taskId]).toBe('SUCCEEDED');

    const second = await agent.pollAndStart();
    expect(second).toHaveLength(1); // room freed by the exit
    const keys = [...first, ...second].map((a) => `${a.taskId}#${a.attempt}`);
    expect(new Set(keys).size).toBe(keys.length);
    // Nothing already running is handed out again.
    const again = await agent.poll(0);
    expect(again.assignments).toEqual([]);
  });

  it('an agent restarted without a RUNNING task makes it LOST and requeued', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    const [t] = await submit(h, half('x', { retries: 2 }));
    await agent.pollAndStart();
    agent.running.clear();
    await agent.register();
    await h.server.control.settle();
    const v = await taskState(h, t.id);
    expect(v.attempts[0].outcome).toBe('LOST');
    const again = await agent.pollAndStart();
    expect(again.map((a) => a.attempt)).toEqual([2]);
  });

  it('heartbeats that keep leaving a running task out make it LOST', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    const [t] = await submit(h, half('x'));
    await agent.pollAndStart();
    agent.running.clear();
    for (let i = 0; i < 3; i++) await agent.heartbeat();
    expect((await taskState(h, t.id)).state).toBe('FAILED');
  });

  it('reports of an unknown task get a stop order', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    await agent.send([{ taskId: 't_ghost00000', attempt: 1, status: 'running' }]);
    const poll = await agent.poll(0);
    expect(poll.stop).toEqual([{ taskId: 't_ghost00000', attempt: 1, graceMs: 10_000, reason: 'orphaned' }]);
  });

  it('vGPU: reserve, run tasks inside it, delete cancels its tasks and releases it', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    const created = await h.req('POST', '/v1/vgpus', { name: 'mine', gpu: 0.5 });
    expect(created.status).toBe(201);
    expect(created.body.state).toBe('PENDING');
    await h.server.control.settle();
    const vg = (await h.req('GET', `/v1/vgpus/${created.body.id}`)).body;
    expect(vg.state).toBe('ACTIVE');
    expect(vg.placement.gpuMilli).toBe(500);

    const [t1] = await submit(h, { command: 'true', vgpu: vg.id });
    const [t2] = await submit(h, { command: 'true', vgpu: vg.id });
    const started = await agent.pollAndStart();
    expect(started.length).toBeGreaterThanOrEqual(1);
    expect(started[0]!.placement.vgpuId).toBe(vg.id);
    const gpus = (await h.req('GET', '/v1/gpus')).body.gpus;
    expect(gpus[0].allocatedMilli).toBe(500);

    const del = await h.req('DELETE', `/v1/vgpus/${vg.id}`);
    expect(del.status).toBe(200);
    expect(del.body.state).toBe('RELEASED');
    for (const a of started) agent.stopped(a.taskId, a.attempt);
    await agent.heartbeat();
    for (const id of [t1.id, t2.id]) expect((await taskState(h, id)).state).toBe('CANCELLED');
    const bad = await h.req('POST', '/v1/tasks', { command: 'true', vgpu: vg.id });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('vgpu');
  });

  it('200 tasks drain to completion exactly once through a server restart and an agent restart', async () => {
    const a = new FakeAgent(h, 'node-a', h100s(4, 'A'));
    const b = new FakeAgent(h, 'node-b', h100s(4, 'B'));
    await a.register();
    await b.register();
    const ids = new Set<string>();
    for (let i = 0; i < 200; i++) ids.add((await submit(h, half(`job${i}`, { resources: { gpu: 0.25 } })))[0].id);
    const launches = new Map<string, number>();
    let round = 0;
    for (; round < 100; round++) {
      if (round === 3) {
        await h.restart(); // as after kill -9: the new app loads from the store
        await a.register();
        await b.register();
      }
      if (round === 5) await b.register(); // an agent restart: same running set
      for (const ag of [a, b]) {
        for (const x of await ag.pollAndStart()) launches.set(x.taskId, (launches.get(x.taskId) ?? 0) + 1);
        // Half of what runs finishes each round.
        const running = [...ag.running.values()];
        for (const r of running.slice(0, Math.ceil(running.length / 2))) await ag.exit(r.taskId, r.attempt, 0);
        await ag.heartbeat();
      }
      h.clock.advance(1000);
      await h.server.control.settle();
      if (h.server.control.tasks.size === 0) break;
    }
    expect(round).toBeLessThan(100);
    const all = (await h.req('GET', '/v1/tasks?all=true&limit=1000')).body.tasks;
    expect(all).toHaveLength(200);
    expect(all.every((t: any) => t.state === 'SUCCEEDED' && t.attempts === 1)).toBe(true);
    expect([...launches.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(launches.keys())).toEqual(ids);
  });

  it('a lost node gives back its vGPU slices (re-placed elsewhere) and heartbeat samples show as utilisation', async () => {
    const a = new FakeAgent(h, 'node-a', h100s(1, 'A'));
    await a.register();
    const vg = (await h.req('POST', '/v1/vgpus', { gpu: 0.5 })).body;
    await h.server.control.settle();
    expect((await h.req('GET', `/v1/vgpus/${vg.id}`)).body.placement.node).toBe('node-a');
    const hb = await h.req('POST', '/v1/agent/heartbeat', { nodeId: a.nodeId, tasks: [], samples: [{ gpuIndex: 0, utilPercent: 42, memoryUsedMiB: 1000 }] }, a.headers());
    expect(hb.status).toBe(200);
    expect((await h.req('GET', '/v1/gpus')).body.gpus[0].utilPercent).toBe(42);

    const b = new FakeAgent(h, 'node-b', h100s(1, 'B'));
    h.clock.advance(16_000);
    await b.register();
    await h.server.control.detectLostNodes();
    await h.server.control.settle();
    const after = (await h.req('GET', `/v1/vgpus/${vg.id}`)).body;
    expect(after.state).toBe('ACTIVE');
    expect(after.placement.node).toBe('node-b');
  });
});

describe('an attempt that never started (the agent stopped mid-launch)', () => {
  const NEVER = 'the agent stopped before the task was started';

  it('goes back to PENDING for a new attempt, not FAILED, and does not use a retry', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    const [t] = await submit(h, half('n', { retries: 1 }));
    expect((await agent.poll()).assignments.map((a) => [a.taskId, a.attempt])).toEqual([[t.id, 1]]);
    // The agent's early "running" (no pid yet) came through before it died.
    await agent.send([{ taskId: t.id, attempt: 1, status: 'running', startedAt: h.clock.now() }]);
    expect((await taskState(h, t.id)).state).toBe('RUNNING');
    h.clock.advance(10_000);
    await agent.exit(t.id, 1, null, 'never-started', NEVER);
    let v = await taskState(h, t.id);
    expect(v.state).toBe('PENDING');
    expect(v.reasonMessage).toBe(`requeued: attempt 1 never started (${NEVER})`);
    expect(v.attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: 'LOST', startedAt: null, exitCode: null })]);
    // The exit is acknowledged like any other, so the agent forgets the attempt.
    expect((await agent.heartbeat()).ack).toEqual([{ taskId: t.id, attempt: 1 }]);

    // Survives a server restart: attempt 2 runs; its node is lost once, which its one retry covers.
    await h.restart();
    await agent.register();
    await h.server.control.settle();
    expect((await agent.pollAndStart()).map((a) => [a.taskId, a.attempt])).toEqual([[t.id, 2]]);
    agent.running.clear(); // the agent comes back without it
    await agent.register();
    await h.server.control.settle();
    v = await taskState(h, t.id);
    expect(v.state).toBe('SCHEDULED'); // requeued, and placed again at once
    expect(v.attempts.map((a: any) => a.outcome)).toEqual(['LOST', 'LOST', null]);
    // Attempt 3 lost too: that is a second start lost, more than its one retry.
    expect((await agent.pollAndStart()).map((a) => [a.taskId, a.attempt])).toEqual([[t.id, 3]]);
    agent.running.clear();
    await agent.register();
    v = await taskState(h, t.id);
    expect(v.state).toBe('FAILED');
    expect(v.attempts.map((a: any) => a.outcome)).toEqual(['LOST', 'LOST', 'LOST']);
    const events = (await h.store.listEvents(0, 1000)).filter((e) => e.taskId === t.id).map((e) => e.type);
    expect(events.slice(0, 4)).toEqual(['task.submitted', 'task.scheduled', 'task.started', 'task.requeued']);
  });

  it('from SCHEDULED (nothing reported before the crash) too; with retries 0 the next attempt still runs to success', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    const [t] = await submit(h, half('s'));
    await agent.poll();
    await agent.exit(t.id, 1, null, 'never-started', NEVER);
    expect((await taskState(h, t.id)).state).toBe('PENDING');
    await h.server.control.settle();
    expect((await agent.pollAndStart()).map((a) => a.attempt)).toEqual([2]);
    await agent.exit(t.id, 2, 0);
    const v = await taskState(h, t.id);
    expect(v).toMatchObject({ state: 'SUCCEEDED', exitCode: 0, attempt: 2 });
    expect(v.attempts.map((a: any) => [a.attempt, a.outcome, a.startedAt === null])).toEqual([
      [1, 'LOST', true],
      [2, 'SUCCEEDED', false],
    ]);
  });

  it(`a node that never starts anything cannot bounce a task forever: FAILED after ${MAX_UNSTARTED_ATTEMPTS} requeues`, async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    const [t] = await submit(h, half('bounce', { retries: 5 }));
    const why = 'the agent could not launch it: ENOSPC: no space left on device';
    for (let attempt = 1; attempt <= MAX_UNSTARTED_ATTEMPTS + 1; attempt++) {
      await h.server.control.settle();
      expect((await agent.poll()).assignments.map((a) => [a.taskId, a.attempt])).toEqual([[t.id, attempt]]);
      await agent.exit(t.id, attempt, null, 'never-started', why);
    }
    const v = await taskState(h, t.id);
    expect(v).toMatchObject({ state: 'FAILED', exitCode: null, reasonMessage: `never started: ${MAX_UNSTARTED_ATTEMPTS + 1} attempts ended before their process started; the last: ${why}` });
    expect(v.attempts.map((a: any) => [a.outcome, a.startedAt])).toEqual(Array.from({ length: MAX_UNSTARTED_ATTEMPTS + 1 }, () => ['LOST', null]));
    await h.server.control.settle();
    expect((await agent.poll()).assignments).toEqual([]);
  });

  it('a task being cancelled whose attempt never started is CANCELLED', async () => {
    const agent = new FakeAgent(h);
    await agent.register();
    const [t] = await submit(h, half('c'));
    await agent.send([{ taskId: t.id, attempt: 1, status: 'running', startedAt: h.clock.now() }]);
    expect((await h.req('POST', `/v1/tasks/${t.id}/cancel`)).status).toBe(200);
    await agent.exit(t.id, 1, null, 'never-started', NEVER);
    expect((await taskState(h, t.id)).state).toBe('CANCELLED');
  });
});

describe('draining a node', () => {
  it('takes no new work there; what runs goes on; kept across re-registration, loss and a restart; resume takes work again', async () => {
    const a = new FakeAgent(h, 'node-a', h100s(1, 'A'));
    await a.register();
    const [t1] = await submit(h, half('running'));
    await a.pollAndStart();
    const drained = await h.req('POST', '/v1/nodes/node-a/drain', {});
    expect(drained.status).toBe(200);
    expect(drained.body).toMatchObject({ node: { name: 'node-a', state: 'DRAINING', drained: true, tasks: 1 }, evicted: 0 });
    const [t2] = await submit(h, half('waits'));
    expect(await taskState(h, t2.id)).toMatchObject({ state: 'PENDING', reason: 'Resources' });
    expect((await taskState(h, t1.id)).state).toBe('RUNNING');
    expect((await a.heartbeat()).stop).toEqual([]);

    await a.register(); // the agent restarts: still drained
    h.clock.advance(16_000);
    await h.server.control.detectLostNodes(); // and is lost for a while: still drained
    expect((await h.req('GET', '/v1/nodes')).body.nodes[0]).toMatchObject({ state: 'LOST', drained: true });
    await h.restart();
    await a.register();
    await h.server.control.settle();
    expect((await h.req('GET', '/v1/nodes')).body.nodes[0]).toMatchObject({ state: 'DRAINING', drained: true });
    expect((await taskState(h, t2.id)).state).toBe('PENDING');

    const resumed = await h.req('POST', `/v1/nodes/${a.nodeId}/resume`);
    expect(resumed.body).toMatchObject({ state: 'READY', drained: false });
    await h.server.control.settle();
    expect((await a.pollAndStart()).map((x) => x.taskId)).toContain(t2.id);
    const events = (await h.store.listEvents(0, 1000)).filter((e) => e.type === 'node.drained' || e.type === 'node.resumed').map((e) => e.type);
    expect(events).toEqual(['node.drained', 'node.resumed']);
  });

  it('with evict, its tasks are stopped as preempted and requeued elsewhere without using a retry, and its vGPU moves', async () => {
    const a = new FakeAgent(h, 'node-a', h100s(1, 'A'));
    await a.register();
    const [t] = await submit(h, half('evicted'));
    await a.pollAndStart();
    const vg = (await h.req('POST', '/v1/vgpus', { gpu: 0.5 })).body;
    await h.server.control.settle();
    const b = new FakeAgent(h, 'node-b', h100s(1, 'B'));
    await b.register();

    const r = await h.req('POST', '/v1/nodes/node-a/drain', { evict: true });
    expect(r.body).toMatchObject({ evicted: 1 });
    expect((await a.heartbeat()).stop).toEqual([{ taskId: t.id, attempt: 1, graceMs: 10_000, reason: 'preempted' }]);
    expect((await taskState(h, t.id)).reasonMessage).toBe('Preempting: evicted: node node-a is being drained');
    await h.server.control.settle();
    expect((await h.req('GET', `/v1/vgpus/${vg.id}`)).body).toMatchObject({ state: 'ACTIVE', placement: { node: 'node-b' } });

    await a.exit(t.id, 1, 143, 'preempted');
    await h.server.control.settle();
    expect((await b.pollAndStart()).map((x) => [x.taskId, x.attempt])).toEqual([[t.id, 2]]);
    const v = await taskState(h, t.id);
    expect(v).toMatchObject({ state: 'RUNNING', placement: { node: 'node-b' } });
    expect(v.attempts.map((x: any) => x.outcome)).toEqual(['PREEMPTED', null]);
  });

  it('answers 404 naming an unknown node', async () => {
    const r = await h.req('POST', '/v1/nodes/nope/drain', {});
    expect(r.status).toBe(404);
    expect(r.body.error.message).toBe('node nope not found');
    expect((await h.req('POST', '/v1/nodes/nope/resume')).status).toBe(404);
    expect((await h.req('POST', '/v1/nodes/x/drain', { evict: 'yes' })).status).toBe(400);
  });
});
