// Issue 9 §1 and §2 at the protocol level: leases judged after the server caught up, late exits
// that win over an unacted LOST, node identity, fencing tokens, and an agent token that speaks
// only for its own node with bounded input. The real-process versions are in test/e2e/faults.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { leaseTimings } from '../protocol/lease.js';
import { EPOCH_META } from './control.js';
import { FakeAgent, h100s, makeHarness, submit, taskState, type Harness } from './testing.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const one = (name: string, extra: Record<string, unknown> = {}) => ({ name, command: ['sleep', '1'], resources: { gpu: 1 }, ...extra });

describe('leases', () => {
  it('the fence windows never overlap the server lease, whatever the lease', () => {
    for (const lease of [400, 1_000, 15_000, 40_000, 120_000]) {
      const t = leaseTimings(lease);
      // The last moment a fenced task can run is before the first moment the server may reassign it.
      expect(t.fenceAfterMs + t.fenceGraceMs).toBeLessThan(t.leaseMs);
      expect(t.leaseMs - t.fenceAfterMs - t.fenceGraceMs).toBeGreaterThanOrEqual(t.leaseMs / 8 - 1);
      // Several heartbeats may be missed before anything is fenced.
      expect(t.fenceAfterMs / t.heartbeatMs).toBeGreaterThanOrEqual(6);
    }
    expect(leaseTimings()).toEqual({ leaseMs: 40_000, heartbeatMs: 5_000, fenceAfterMs: 30_000, fenceGraceMs: 5_000 });
    expect(() => leaseTimings(100)).toThrow(/at least 400 ms/);
  });

  it('a server that did not run (paused) extends every lease by that time: no node is LOST before its waiting heartbeat is read', async () => {
    h = await makeHarness({ tickMs: 200 });
    const a = new FakeAgent(h, 'node-a');
    await a.register();
    const [t] = await submit(h, one('busy'));
    expect(await a.pollAndStart()).toHaveLength(1);
    await h.clock.advanceAsync(1_000);
    // The server is stopped for 60 s: its clock moves on, none of its timers run.
    h.clock.set(h.clock.now() + 60_000);
    // It resumes: its first tick sees the stall before it judges anyone.
    await h.clock.advanceAsync(200);
    await h.server.control.settle();
    expect((await h.req('GET', '/v1/nodes')).body.nodes[0].state).toBe('READY');
    // …then reads the heartbeat that waited in its socket.
    expect((await a.heartbeat()).reregister).toBe(false);
    expect((await taskState(h, t.id)).state).toBe('RUNNING');
    // A lease that really runs out (no heartbeat for longer than the lease) is still LOST.
    await h.clock.advanceAsync(16_000);
    await h.server.control.settle();
    expect((await h.req('GET', '/v1/nodes')).body.nodes[0].state).toBe('LOST');
    expect(h.server.control.nodeLostAfterMs).toBe(15_000);
  });

  it('a heartbeat renews the lease: a node heartbeating on time is never LOST however long it runs', async () => {
    h = await makeHarness({ tickMs: 200 });
    const a = new FakeAgent(h, 'node-a');
    const reg = await a.register();
    expect(reg.heartbeatIntervalMs).toBe(1_875);
    for (let i = 0; i < 20; i++) {
      await h.clock.advanceAsync(reg.heartbeatIntervalMs);
      await a.heartbeat();
    }
    expect((await h.req('GET', '/v1/nodes')).body.nodes[0].state).toBe('READY');
  });
});

describe('an exit recorded before the fence wins over a LOST nothing acted on', () => {
  it('retries 0: FAILED "node lost" becomes SUCCEEDED when the agent reports the exit it recorded', async () => {
    h = await makeHarness();
    const a = new FakeAgent(h, 'node-a');
    await a.register();
    const [t] = await submit(h, one('ok'));
    await a.pollAndStart();
    const endedAt = h.clock.now() + 2_000;
    h.clock.advance(16_000);
    await h.server.control.detectLostNodes();
    expect((await taskState(h, t.id)).state).toBe('FAILED');
    // The agent comes back: told to register again, it reports what its supervisor recorded.
    a.running.clear();
    a.exited.set(`${t.id}#1`, { taskId: t.id, attempt: 1, status: 'exited', exitCode: 0, endReason: 'exit', startedAt: endedAt - 1_000, endedAt });
    expect((await a.heartbeat()).reregister).toBe(true);
    await a.register();
    await h.server.control.settle();
    const after = await taskState(h, t.id);
    expect(after.state).toBe('SUCCEEDED');
    expect(after.exitCode).toBe(0);
    expect(after.attempts.map((x: any) => x.outcome)).toEqual(['SUCCEEDED']);
    const events = (await h.req('GET', `/v1/tasks/${t.id}/events`)).body.events.map((e: any) => e.type);
    expect(events.filter((e: string) => e === 'task.finished')).toHaveLength(2);
  });

  it('retries 1, not placed again yet: the exit wins and the task is not run again', async () => {
    h = await makeHarness();
    const a = new FakeAgent(h, 'node-a');
    await a.register();
    const [t] = await submit(h, one('ok', { retries: 1 }));
    await a.pollAndStart();
    h.clock.advance(16_000);
    await h.server.control.detectLostNodes();
    await h.server.control.settle();
    expect((await taskState(h, t.id)).state).toBe('PENDING'); // no node to run it on
    a.running.clear();
    a.exited.set(`${t.id}#1`, { taskId: t.id, attempt: 1, status: 'exited', exitCode: 0, endReason: 'exit', endedAt: h.clock.now() - 10_000 });
    await a.register();
    await h.server.control.settle();
    expect((await taskState(h, t.id)).state).toBe('SUCCEEDED');
    expect(await a.pollAndStart()).toEqual([]);
  });

  it('a fenced exit, or one after the task was placed again, does not win', async () => {
    h = await makeHarness();
    const a = new FakeAgent(h, 'node-a');
    await a.register();
    const [fenced] = await submit(h, one('fenced'));
    await a.pollAndStart();
    h.clock.advance(16_000);
    await h.server.control.detectLostNodes();
    a.running.clear();
    a.exited.set(`${fenced.id}#1`, { taskId: fenced.id, attempt: 1, status: 'exited', exitCode: 143, signal: 'SIGTERM', endReason: 'fenced', endedAt: h.clock.now() - 1_000 });
    await a.register();
    await h.server.control.settle();
    expect((await taskState(h, fenced.id)).state).toBe('FAILED');

    const b = new FakeAgent(h, 'node-b');
    await b.register();
    const [moved] = await submit(h, one('moved', { retries: 1 }));
    const onA = await a.pollAndStart();
    const first = onA.length > 0 ? a : b;
    const other = first === a ? b : a;
    if (onA.length === 0) await b.pollAndStart();
    h.clock.advance(16_000);
    await other.heartbeat();
    await h.server.control.detectLostNodes();
    await h.server.control.settle();
    // Held one lease for a late exit from its node; then placed on the other.
    expect((await other.poll(0)).assignments).toEqual([]);
    h.clock.advance(15_000);
    await other.heartbeat();
    h.server.control.tick();
    await h.server.control.settle();
    expect(await other.pollAndStart()).toHaveLength(1); // attempt 2 placed: the LOST was acted on
    await first.register();
    await first.exit(moved.id, 1, 0);
    const now = await taskState(h, moved.id);
    expect(now.state).toBe('RUNNING');
    expect(now.attempts.map((x: any) => x.outcome)).toEqual(['LOST', null]);
  });
});

describe('node identity', () => {
  it('a second agent with the same name and no credential is refused with a clear message', async () => {
    h = await makeHarness();
    const a = new FakeAgent(h, 'gpu-1');
    const reg = await a.register();
    expect(reg.credential).toMatch(/^fgp_/);
    const twin = new FakeAgent(h, 'gpu-1');
    await expect(twin.register()).rejects.toThrow(/409 .*node name gpu-1 is held by another agent .* no credential .*its own --name/);
    twin.credential = 'fgp_forged';
    await expect(twin.register()).rejects.toThrow(/409 .*not that node's/);
    // The credential is stored as a hash only.
    const stored = await h.store.getMeta(`node.credential.${a.nodeId}`);
    expect(stored).toMatch(/^[0-9a-f]{64}$/);
    expect(stored).not.toContain(a.credential);
    // The holder registers again with it (a restart) and keeps its credential.
    const again = await a.register();
    expect(again.nodeId).toBe(reg.nodeId);
    expect(again.credential).toBeUndefined();
  });

  it("an agent's own strong credential is taken, so a register whose answer was lost can be sent again", async () => {
    h = await makeHarness();
    const a = new FakeAgent(h, 'gpu-1');
    a.credential = `fgn_${'k'.repeat(40)}`;
    const reg = await a.register();
    expect(reg.credential).toBeUndefined(); // the agent has it already
    // The same register again (its answer was lost): the same node, not "held by another agent".
    const again = await a.register();
    expect(again.nodeId).toBe(reg.nodeId);
    await a.heartbeat();
    // Another agent proposing its own credential for the held name is still refused.
    const twin = new FakeAgent(h, 'gpu-1');
    twin.credential = `fgn_${'t'.repeat(40)}`;
    await expect(twin.register()).rejects.toThrow(/409 .*not that node's/);
    // A weak proposal is not taken: the server issues a credential of its own.
    const weak = new FakeAgent(h, 'gpu-2');
    weak.credential = 'short';
    const issued = await weak.register();
    expect(issued.credential).toMatch(/^fgp_/);
    await weak.heartbeat();
  });

  it('a LOST node may be taken over by a new agent; the old credential then no longer speaks for it', async () => {
    h = await makeHarness();
    const a = new FakeAgent(h, 'gpu-1');
    await a.register();
    h.clock.advance(16_000);
    await h.server.control.detectLostNodes();
    const b = new FakeAgent(h, 'gpu-1');
    const reg = await b.register();
    expect(reg.nodeId).toBe(a.nodeId);
    expect(reg.credential).toBeDefined();
    await expect(a.heartbeat()).rejects.toThrow(/403 .*does not hold the credential/);
    await expect(a.register()).rejects.toThrow(/409/);
  });

  it('every attempt carries the server epoch, bumped at each start', async () => {
    h = await makeHarness();
    const a = new FakeAgent(h, 'node-a');
    const first = await a.register();
    expect(first.epoch).toBe(Number(await h.store.getMeta(EPOCH_META)));
    await submit(h, one('x'));
    const [asg] = await a.pollAndStart();
    expect(asg!.epoch).toBe(first.epoch);
    await h.restart();
    const again = await a.register();
    expect(again.epoch).toBe(first.epoch + 1);
    // A report claiming an epoch no server has issued yet is ignored.
    await a.send([{ taskId: asg!.taskId, attempt: 1, status: 'exited', exitCode: 0, endReason: 'exit', epoch: again.epoch + 5 }]);
    expect((await taskState(h, asg!.taskId)).state).toBe('RUNNING');
  });
});

describe('an agent token speaks only for its own node (issue 9 §2)', () => {
  async function twoNodes(): Promise<{ a: FakeAgent; b: FakeAgent; t: any }> {
    h = await makeHarness();
    const a = new FakeAgent(h, 'node-a');
    await a.register();
    const [t] = await submit(h, one('victim'));
    await a.pollAndStart();
    const b = new FakeAgent(h, 'node-b');
    await b.register();
    return { a, b, t };
  }

  it('a fake exit for another node’s task is refused, with or without its node id', async () => {
    const { a, b, t } = await twoNodes();
    const fake = { taskId: t.id, attempt: 1, status: 'exited', exitCode: 0, endReason: 'exit' };
    // Speaking as node-a without node-a's credential:
    const asA = await h.req('POST', '/v1/agent/reports', { nodeId: a.nodeId, tasks: [fake] }, b.headers());
    expect(asA.status).toBe(403);
    // As itself: not its attempt, ignored.
    expect((await h.req('POST', '/v1/agent/reports', { nodeId: b.nodeId, tasks: [fake] }, b.headers())).status).toBe(200);
    expect((await taskState(h, t.id)).state).toBe('RUNNING');
    for (const url of [`/v1/agent/assignments?nodeId=${a.nodeId}&waitMs=0`]) expect((await h.req('GET', url, undefined, b.headers())).status).toBe(403);
    expect((await h.req('POST', '/v1/agent/heartbeat', { nodeId: a.nodeId, tasks: [], samples: [] }, b.headers())).status).toBe(403);
  });

  it('log chunks at seq 0 for another node’s attempt are refused; the real log stays', async () => {
    const { a, b, t } = await twoNodes();
    const chunk = { taskId: t.id, attempt: 1, stream: 'stdout', seq: 0, at: h.clock.now(), data: 'forged\n' };
    expect((await h.req('POST', '/v1/agent/logs', { nodeId: b.nodeId, chunks: [chunk] }, b.headers())).status).toBe(403);
    expect((await h.req('POST', '/v1/agent/logs', { nodeId: a.nodeId, chunks: [chunk] }, b.headers())).status).toBe(403);
    expect((await h.req('POST', '/v1/agent/logs', { nodeId: a.nodeId, chunks: [{ ...chunk, data: 'real\n' }] }, a.headers())).status).toBe(200);
    expect((await h.req('GET', `/v1/tasks/${t.id}/logs`)).body.chunks.map((c: any) => c.data)).toEqual(['real\n']);
  });

  it('re-registering under another node’s name is refused and changes nothing there', async () => {
    const { a, b, t } = await twoNodes();
    const res = await h.req(
      'POST',
      '/v1/agent/register',
      { name: 'node-a', cpuMilli: 1000, memoryMiB: 1024, labels: {}, gpus: [], simulated: true, agentVersion: 'x', tasks: [] },
      b.headers(),
    );
    expect(res.status).toBe(409);
    const nodeA = (await h.req('GET', '/v1/nodes')).body.nodes.find((n: any) => n.id === a.nodeId);
    expect(nodeA.gpus).toHaveLength(1);
    expect((await taskState(h, t.id)).state).toBe('RUNNING');
  });

  it('bad numbers and strings are a 400, never stored: at 1e300 cannot poison GET /v1/tasks', async () => {
    const { a, t } = await twoNodes();
    const now = h.clock.now();
    const bad: [string, unknown][] = [
      ['/v1/agent/logs', { nodeId: a.nodeId, chunks: [{ taskId: t.id, attempt: 1, stream: 'stdout', seq: 0, at: 1e300, data: 'x' }] }],
      ['/v1/agent/logs', { nodeId: a.nodeId, chunks: [{ taskId: t.id, attempt: 1, stream: 'stdout', seq: 0, at: now + 30 * 86_400_000, data: 'x' }] }],
      ['/v1/agent/reports', { nodeId: a.nodeId, tasks: [{ taskId: t.id, attempt: 1, status: 'exited', exitCode: 0, endedAt: 1e300 }] }],
      ['/v1/agent/reports', { nodeId: a.nodeId, tasks: [{ taskId: t.id, attempt: 1, status: 'exited', exitCode: 0, endedAt: 5 }] }],
      ['/v1/agent/reports', { nodeId: a.nodeId, tasks: [{ taskId: t.id, attempt: 1, status: 'running', pid: -4 }] }],
      ['/v1/agent/heartbeat', { nodeId: a.nodeId, tasks: [{ taskId: t.id, attempt: 1, status: 'running', startedAt: now + 10 * 86_400_000 }], samples: [] }],
      ['/v1/agent/heartbeat', { nodeId: a.nodeId, tasks: [], samples: [{ gpuIndex: 0, utilPercent: 1e9, memoryUsedMiB: 0 }] }],
    ];
    for (const [url, body] of bad) {
      const r = await h.req('POST', url, body, a.headers());
      expect(r.status, `${url} ${JSON.stringify(body)}`).toBe(400);
    }
    const reg = (patch: Record<string, unknown>) =>
      h.req('POST', '/v1/agent/register', { name: 'fresh', cpuMilli: 1000, memoryMiB: 1024, labels: {}, gpus: h100s(1), simulated: true, agentVersion: 'x', tasks: [], ...patch });
    for (const patch of [
      { name: 'bad\nname' },
      { name: 'a b' },
      { name: 'x'.repeat(129) },
      { cpuMilli: 1e15 },
      { memoryMiB: 406236185096788 },
      { gpus: [{ ...h100s(1)[0], memoryMiB: 406236185096788 }] },
      { gpus: [{ ...h100s(1)[0], index: 7542 }] },
      { gpus: [{ ...h100s(1)[0], model: 'H100\u0007' }] },
      { labels: { 'k\n': 'v' } },
    ]) {
      expect((await reg(patch)).status, JSON.stringify(patch)).toBe(400);
    }
    expect((await h.req('GET', '/v1/nodes')).body.nodes.map((n: any) => n.name).sort()).toEqual(['node-a', 'node-b']);
    expect((await h.req('GET', '/v1/tasks')).status).toBe(200);
    expect((await h.req('GET', `/v1/tasks/${t.id}/logs`)).status).toBe(200);
    expect((await taskState(h, t.id)).state).toBe('RUNNING');
  });
});
