// Arrays, dependencies and results through the HTTP API in-process (issue 14), with a fake agent.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeAgent, h100s, makeHarness, submit, type Harness } from './testing.js';

let h: Harness;
let agent: FakeAgent;
beforeEach(async () => {
  h = await makeHarness();
  agent = new FakeAgent(h, 'node-a', h100s(2));
  await agent.register();
});
afterEach(async () => {
  await h.close();
});

const active = (): number => [...h.server.control.tasks.values()].filter((t) => t.state === 'SCHEDULED' || t.state === 'RUNNING').length;
const state = async (id: string): Promise<any> => (await h.req('GET', `/v1/tasks/${id}`)).body;

/** Start what was assigned, then end every running element with `code` and its index as result. */
async function runRound(code = 0): Promise<number> {
  await h.server.control.runCycle();
  await h.server.control.settle();
  const started = await agent.pollAndStart();
  for (const a of started) {
    await agent.send([{ taskId: a.taskId, attempt: a.attempt, status: 'exited', exitCode: code, endReason: 'exit', startedAt: h.clock.now(), endedAt: h.clock.now() + 1000, result: JSON.stringify({ index: Number(a.env.FASTGPU_ARRAY_INDEX), square: Number(a.env.FASTGPU_ARRAY_INDEX) ** 2 }) }]);
  }
  await h.server.control.settle();
  return started.length;
}

describe('arrays', () => {
  it('pages the elements by index, and a dry run answers the array in brief too', async () => {
    const r = await h.req('POST', '/v1/tasks', { command: 'true', array: '1,3,5-9:2' });
    const id = r.body.array.id;
    expect(r.body.array).toMatchObject({ size: 5, max: null, range: '1,3,5,7,9' });
    const page = async (q: string): Promise<any> => (await h.req('GET', `/v1/arrays/${id}/tasks?${q}`)).body;
    const p1 = await page('limit=2');
    expect(p1.tasks.map((t: any) => t.array.index)).toEqual([1, 3]);
    expect(p1.next).toBe(3);
    const p2 = await page(`afterIndex=${p1.next}&limit=2`);
    expect(p2.tasks.map((t: any) => t.array.index)).toEqual([5, 7]);
    const p3 = await page(`afterIndex=${p2.next}&limit=2`);
    expect(p3.tasks.map((t: any) => t.array.index)).toEqual([9]);
    expect(p3.next).toBeUndefined();
    expect((await page('afterIndex=9')).tasks).toEqual([]);
    expect((await h.req('GET', `/v1/arrays/${id}/tasks?limit=0`)).status).toBe(400);
    expect(p1.tasks[0].id).toBe(r.body.array.firstTaskId);
    expect(p3.tasks[0].id).toBe(r.body.array.lastTaskId);
    const dry = await h.req('POST', '/v1/tasks?dryRun=true', { command: 'true', array: '0-9999%8' });
    expect(dry.status).toBe(200);
    expect(dry.body.tasks).toHaveLength(1);
    expect(dry.body.array).toMatchObject({ size: 10_000, max: 8, range: '0-9999%8', counts: { PENDING: 10_000 } });
  });

  it('an array of 40 with %4 never has more than 4 elements on the pool; results come back by index', async () => {
    const r = await h.req('POST', '/v1/tasks', { command: 'true', resources: { gpu: 0.25 }, array: '0-39%4' });
    expect(r.status).toBe(201);
    // The answer is the first element and the array in brief, not 40 views.
    expect(r.body.tasks).toHaveLength(1);
    const arrayId = r.body.tasks[0].array.id;
    expect(arrayId).toMatch(/^a_[a-z2-7]{10}$/);
    const all = (await h.req('GET', `/v1/arrays/${arrayId}/tasks`)).body.tasks;
    expect(r.body.array).toEqual({
      id: arrayId,
      name: r.body.tasks[0].name,
      tenant: 'default',
      size: 40,
      max: 4,
      range: '0-39%4',
      firstTaskId: all[0].id,
      lastTaskId: all[39].id,
      counts: { PENDING: 40 },
      links: { status: `/v1/arrays/${arrayId}`, tasks: `/v1/arrays/${arrayId}/tasks`, results: `/v1/arrays/${arrayId}/results` },
    });
    expect(r.body.tasks[0].id).toBe(all[0].id);
    expect(all.map((t: any) => t.array.index)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(all[7].spec.env).toMatchObject({ FASTGPU_ARRAY_ID: arrayId, FASTGPU_ARRAY_INDEX: '7', FASTGPU_ARRAY_SIZE: '40' });
    // Past the cap, an element is born waiting (ArrayTaskLimit, said in its task.submitted event),
    // so the first cycle writes nothing for it: no reason write, no task.pending event.
    expect([all[3].reason, all[4].reason, all[39].reason]).toEqual([null, 'ArrayTaskLimit', 'ArrayTaskLimit']);
    const submitted = (await h.req('GET', `/v1/tasks/${all[39].id}/events`)).body.events;
    expect(submitted.map((e: any) => [e.type, e.data.reason])).toEqual([['task.submitted', 'ArrayTaskLimit']]);
    await h.server.control.runCycle();
    await h.server.control.settle();
    await h.server.control.flushReasons();
    expect((await h.req('GET', `/v1/tasks/${all[39].id}/events`)).body.events).toHaveLength(1);
    expect((await h.store.getTask(all[39].id))?.version).toBe(1);
    await h.server.control.settle();
    let most = 0;
    let rounds = 0;
    for (;;) {
      await h.server.control.runCycle();
      await h.server.control.settle();
      most = Math.max(most, active());
      const s = (await h.req('GET', `/v1/arrays/${arrayId}`)).body;
      if (s.done) break;
      if (rounds === 0) {
        expect(s.counts).toEqual({ SCHEDULED: 4, PENDING: 36 });
        const held = (await h.req('GET', `/v1/arrays/${arrayId}/tasks`)).body.tasks.filter((t: any) => t.state === 'PENDING');
        expect(held[0].reason).toBe('ArrayTaskLimit');
        expect(held[0].reasonMessage).toContain('%4');
      }
      expect(await runRound()).toBeLessThanOrEqual(4);
      if (++rounds > 30) throw new Error('array did not finish');
    }
    expect(most).toBe(4);
    const res = (await h.req('GET', `/v1/arrays/${arrayId}/results`)).body;
    expect(res.array).toMatchObject({ size: 40, max: 4, done: true, ok: true, counts: { SUCCEEDED: 40 } });
    expect(res.results.map((x: any) => x.result)).toEqual(Array.from({ length: 40 }, (_, i) => ({ index: i, square: i * i })));
    // 40 elements × 1 s × a quarter GPU.
    expect(res.array.usage.gpuSeconds).toBeCloseTo(10, 3);
  });

  it('cancel ARRAY cancels what has not finished; a finished element stays as it was', async () => {
    const r = await h.req('POST', '/v1/tasks', { command: 'true', resources: { gpu: 0.5 }, array: '1-10' });
    const arrayId = r.body.tasks[0].array.id;
    await h.server.control.settle();
    await h.server.control.runCycle();
    const [first] = await agent.pollAndStart();
    await agent.exit(first!.taskId, first!.attempt, 0);
    await h.server.control.settle();
    const c = await h.req('POST', `/v1/arrays/${arrayId}/cancel`);
    expect(c.status).toBe(200);
    expect(c.body.cancelled).toBe(9);
    const running = [...h.server.control.tasks.values()].filter((t) => t.array?.id === arrayId);
    for (const t of running) agent.stopped(t.id, t.attempts);
    await agent.heartbeat();
    await h.server.control.settle();
    const s = (await h.req('GET', `/v1/arrays/${arrayId}`)).body;
    expect(s.counts).toEqual({ SUCCEEDED: 1, CANCELLED: 9 });
    expect(s.done).toBe(true);
    expect(s.ok).toBe(false);
    expect((await h.req('GET', '/v1/arrays/a_nosucharray')).status).toBe(404);
  });

  it('refuses a malformed range, %0, and a gang array, with the field named; stores nothing', async () => {
    const bad = async (body: unknown, field: string, text: string): Promise<void> => {
      const r = await h.req('POST', '/v1/tasks', body);
      expect(r.status).toBe(400);
      expect(r.body.error.field).toBe(field);
      expect(r.body.error.message).toContain(text);
    };
    await bad({ command: 'true', array: '0-99%0' }, 'array', '"%0" would let no element run');
    await bad({ command: 'true', array: '5-1' }, 'array', 'runs backwards');
    await bad({ command: 'true', array: '0-x' }, 'array', 'cannot read "0-x"');
    await bad({ command: 'true', array: '0-10000' }, 'array', 'more than 10000 elements');
    await bad({ command: 'true', array: '0-3', gang: 2 }, 'array', 'an array cannot be a gang');
    await bad({ command: 'true', arrray: '0-3' }, 'arrray', 'did you mean');
    // A spec just within execve's limits (about 1,026,000 of 1,048,576 bytes, within the 1 MiB
    // body), and a map input that takes one element past them.
    const near = { command: ['true', ...new Array<string>(4095).fill('y'.repeat(238))], env: Object.fromEntries(Array.from({ length: 1024 }, (_, i) => [`K${i.toString(36).padStart(3, '0')}`, ''])) };
    await bad({ ...near, inputs: ['a', 'x'.repeat(40_000)] }, 'inputs.1', 'element 1 could never start');
    expect(await h.store.countTasks()).toBe(0);
    // The same spec with small inputs starts.
    expect((await h.req('POST', '/v1/tasks', { ...near, inputs: ['a', 'b'] })).status).toBe(201);
    expect(await h.store.countTasks()).toBe(2);
  });
});

describe('dependencies', () => {
  it('afterok chains run in order, each waiting with reason Dependency', async () => {
    const [a] = await submit(h, { name: 'a', command: 'true', resources: { gpu: 1 } });
    const [b] = await submit(h, { name: 'b', command: 'true', resources: { gpu: 1 }, after: `${a.id}:ok` });
    const [c] = await submit(h, { name: 'c', command: 'true', resources: { gpu: 1 }, after: [b.id] });
    await h.server.control.runCycle();
    await h.server.control.settle();
    expect((await state(b.id)).reason).toBe('Dependency');
    expect((await state(b.id)).reasonMessage).toBe(`Waiting for ${a.id} to succeed`);
    expect((await state(b.id)).after).toEqual([{ id: a.id, on: 'ok' }]);
    const order: string[] = [];
    for (let i = 0; i < 6 && order.length < 3; i++) {
      await h.server.control.runCycle();
      await h.server.control.settle();
      for (const x of await agent.pollAndStart()) {
        order.push(x.name);
        await agent.exit(x.taskId, x.attempt, 0);
        await h.server.control.settle();
      }
    }
    expect(order).toEqual(['a', 'b', 'c']);
    expect((await state(c.id)).state).toBe('SUCCEEDED');
  });

  it('a failed dependency cancels its dependents (and theirs) with reason Dependency; afterany and afterfailed run', async () => {
    const [a] = await submit(h, { name: 'a', command: 'false', resources: { gpu: 1 } });
    const [b] = await submit(h, { name: 'b', command: 'true', after: a.id });
    const [c] = await submit(h, { name: 'c', command: 'true', after: b.id });
    const [d] = await submit(h, { name: 'd', command: 'true', after: `${a.id}:any` });
    const [e] = await submit(h, { name: 'e', command: 'true', after: `${a.id}:failed` });
    const [f] = await submit(h, { name: 'f', command: 'true', after: `${d.id}:failed` });
    await h.server.control.runCycle();
    await h.server.control.settle();
    const [x] = await agent.pollAndStart();
    expect(x!.taskId).toBe(a.id);
    await agent.exit(a.id, 1, 1);
    for (let i = 0; i < 4; i++) {
      await h.server.control.runCycle();
      await h.server.control.settle();
      for (const y of await agent.pollAndStart()) {
        await agent.exit(y.taskId, y.attempt, 0);
        await h.server.control.settle();
      }
    }
    const sb = await state(b.id);
    expect(sb.state).toBe('CANCELLED');
    expect(sb.reason).toBe('Dependency');
    expect(sb.reasonMessage).toContain(`task ${a.id} ended FAILED`);
    expect((await state(c.id))).toMatchObject({ state: 'CANCELLED', reason: 'Dependency' });
    expect((await state(d.id)).state).toBe('SUCCEEDED');
    expect((await state(e.id)).state).toBe('SUCCEEDED');
    expect((await state(f.id))).toMatchObject({ state: 'CANCELLED', reason: 'Dependency' });
  });

  it('a task can wait for a whole array; one failed element cancels it before the array ends', async () => {
    const r = await h.req('POST', '/v1/tasks', { command: 'true', resources: { gpu: 1 }, array: '0-3%1' });
    const arrayId = r.body.tasks[0].array.id;
    const [ok] = await submit(h, { name: 'ok', command: 'true', after: `${arrayId}:ok` });
    const [any] = await submit(h, { name: 'any', command: 'true', after: `${arrayId}:any` });
    await h.server.control.runCycle();
    await h.server.control.settle();
    const [first] = await agent.pollAndStart();
    await agent.exit(first!.taskId, first!.attempt, 3);
    await h.server.control.runCycle();
    await h.server.control.settle();
    expect(await state(ok.id)).toMatchObject({ state: 'CANCELLED', reason: 'Dependency' });
    expect((await state(ok.id)).reasonMessage).toContain(`array ${arrayId}`);
    expect((await state(any.id)).reason).toBe('Dependency');
    for (let i = 0; i < 8; i++) await runRound();
    expect((await state(any.id)).state).toBe('SUCCEEDED');
  });

  it('refuses an unknown or another tenant’s dependency id, and a malformed one, storing nothing', async () => {
    const unknown = await h.req('POST', '/v1/tasks', { command: 'true', after: 't_nosuchtask' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.field).toBe('after.0');
    expect(unknown.body.error.message).toContain('t_nosuchtask is not a known task id');
    const arr = await h.req('POST', '/v1/tasks', { command: 'true', after: ['a_nosucharray:any'] });
    expect(arr.body.error.message).toContain('a_nosucharray is not a known array id');
    const kind = await h.req('POST', '/v1/tasks', { command: 'true', after: 't_x:sometimes' });
    expect(kind.status).toBe(400);
    expect(kind.body.error.message).toContain('is not a dependency kind; use ok, any or failed');
    expect(await h.store.countTasks()).toBe(0);
  });
});

describe('reduce', () => {
  it('a reduce step waits for its array, then gets every result by index in FASTGPU_RESULTS', async () => {
    const r = await h.req('POST', '/v1/tasks', { command: 'true', resources: { gpu: 0.25 }, array: '0-3' });
    const arrayId = r.body.tasks[0].array.id;
    const [red] = await submit(h, { name: 'sum', command: 'true', reduce: arrayId });
    expect(red.after).toEqual([{ id: arrayId, on: 'ok' }]);
    expect(red.reduce).toBe(arrayId);
    const seen: Record<string, string>[] = [];
    for (let i = 0; i < 6; i++) {
      await h.server.control.runCycle();
      await h.server.control.settle();
      const started = await agent.pollAndStart();
      for (const a of started) {
        seen.push(a.env);
        const index = a.env.FASTGPU_ARRAY_INDEX;
        await agent.send([{ taskId: a.taskId, attempt: a.attempt, status: 'exited', exitCode: 0, endReason: 'exit', startedAt: h.clock.now(), endedAt: h.clock.now(), ...(index !== undefined ? { result: JSON.stringify({ i: Number(index) }) } : {}) }]);
      }
      await h.server.control.settle();
    }
    const reduceEnv = seen.find((e) => e.FASTGPU_RESULTS !== undefined);
    expect(JSON.parse(reduceEnv!.FASTGPU_RESULTS!)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
    expect((await state(red.id)).state).toBe('SUCCEEDED');
  });

  it('refuses reduce of something that is not an array id, or together with array', async () => {
    const bad = await h.req('POST', '/v1/tasks', { command: 'true', reduce: 't_abc' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('reduce');
    const both = await h.req('POST', '/v1/tasks', { command: 'true', reduce: 'a_abc', array: '0-1' });
    expect(both.body.error.message).toContain('give either array or reduce');
    const unknown = await h.req('POST', '/v1/tasks', { command: 'true', reduce: 'a_nosucharray' });
    expect(unknown.body.error.message).toContain('a_nosucharray is not a known array id');
  });
});
