// Issue 9 §3 "Disk full": a store whose writes fail. Memory and store must end up agreeing,
// nothing acknowledged is lost, and the server says it is degraded (/healthz and its log).
import { afterEach, expect, it } from 'vitest';
import { FakeAgent, makeHarness, submit, taskState, type Harness } from './testing.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

/** Resolves once `cond` holds, checked each turn of the event loop (an event, not a sleep). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

it('a failed write is retried until it succeeds; /healthz says degraded meanwhile, submits get 503, and nothing is lost', async () => {
  const lines: string[] = [];
  h = await makeHarness({ log: (l) => lines.push(l) });
  const agent = new FakeAgent(h);
  await agent.register();
  const [t] = await submit(h, { command: 'true', resources: { gpu: 0.5 } });
  await agent.pollAndStart();

  const real = h.store.commitBatch.bind(h.store);
  let full = true;
  let failures = 0;
  h.store.commitBatch = async (b) => {
    if (full) {
      failures++;
      throw new Error('SQLITE_FULL: database or disk is full');
    }
    return real(b);
  };
  // The exit report's write fails: the report waits while the server retries.
  let answered = 0;
  const report = agent.exit(t.id, 1, 0).then(() => (answered = 1));
  await until(() => h.server.control.degraded !== null);
  expect(lines.some((l) => /DEGRADED: a store write failed \(SQLITE_FULL/.test(l))).toBe(true);
  const health = await h.req('GET', '/healthz');
  expect(health.status).toBe(503);
  expect(health.body.error.message).toMatch(/^degraded: store writes have failed since .* \(SQLITE_FULL/);
  const refused = await h.req('POST', '/v1/tasks', { command: 'true', resources: { gpu: 0.5 } });
  expect(refused.status).toBe(503);
  expect(refused.body.error.message).toMatch(/degraded/);
  // A heartbeat still renews the lease, and acknowledges nothing that is not durable.
  const hb = await agent.heartbeat();
  expect(hb.ack).toEqual([]);
  expect(agent.exited.has(`${t.id}#1`)).toBe(true);
  // Retried with backoff on the clock.
  await h.clock.advanceAsync(1_000);
  expect(failures).toBeGreaterThan(2);
  expect(answered).toBe(0);
  expect((await h.store.getTask(t.id))!.state).toBe('RUNNING');
  // Reads show the end memory knows, and a listing does not lose the task between the two.
  expect((await h.req('GET', `/v1/tasks/${t.id}`)).body.state).toBe('SUCCEEDED');
  expect((await h.req('GET', '/v1/tasks')).body.tasks.map((x: { id: string; state: string }) => [x.id, x.state])).toEqual([[t.id, 'SUCCEEDED']]);
  expect((await h.req('GET', '/v1/tasks?state=SUCCEEDED')).body.tasks.map((x: { id: string }) => x.id)).toEqual([t.id]);

  full = false;
  await h.clock.advanceAsync(5_000);
  await report;
  await h.server.control.settle();
  expect(h.server.control.degraded).toBeNull();
  expect((await h.req('GET', '/healthz')).status).toBe(200);
  expect(lines.some((l) => /store writes work again after \d+ ms/.test(l))).toBe(true);
  // Memory and store agree, and the list shows it.
  expect((await h.store.getTask(t.id))!.state).toBe('SUCCEEDED');
  expect((await taskState(h, t.id)).state).toBe('SUCCEEDED');
  expect((await h.req('GET', '/v1/tasks')).body.tasks.map((x: any) => [x.id, x.state])).toEqual([[t.id, 'SUCCEEDED']]);
  // …and after a restart.
  await h.restart();
  expect((await taskState(h, t.id)).state).toBe('SUCCEEDED');
  // The acknowledgement comes once it is durable.
  expect((await agent.heartbeat()).ack).toEqual([{ taskId: t.id, attempt: 1 }]);
  // Submits work again.
  expect((await h.req('POST', '/v1/tasks', { command: 'true', resources: { gpu: 0.5 } })).status).toBe(201);
});

it('a submit whose write fails is refused with 503 and leaves nothing behind', async () => {
  h = await makeHarness();
  h.store.commitBatch = async () => {
    throw new Error('SQLITE_IOERR: disk I/O error');
  };
  const r = await h.req('POST', '/v1/tasks', { name: 'lost', command: 'true', resources: { gpu: 0.5 } });
  expect(r.status).toBe(503);
  expect(h.server.control.tasks.size).toBe(0);
  expect(await h.store.countTasks()).toBe(0);
});

it('a log batch the full disk cannot take is a 503 that names the disk (the agent keeps it and retries)', async () => {
  h = await makeHarness();
  const agent = new FakeAgent(h);
  await agent.register();
  const [t] = await submit(h, { command: 'true', resources: { gpu: 0.5 } });
  await agent.pollAndStart();
  h.store.appendLogs = async () => {
    throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
  };
  const res = await h.req('POST', '/v1/agent/logs', { nodeId: agent.nodeId, chunks: [{ taskId: t.id, attempt: 1, stream: 'stdout', seq: 0, at: h.clock.now(), data: 'hi\n' }] }, agent.headers());
  expect(res.status).toBe(503);
  expect(res.body.error.message).toMatch(/disk is full/);
});
