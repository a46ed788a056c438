import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAgent, h100s, makeHarness, type Harness } from './testing.js';

let h: Harness;
beforeAll(async () => {
  h = await makeHarness();
  await new FakeAgent(h, 'node-a', h100s(2)).register();
});
afterAll(async () => {
  await h.close();
});

async function post(body: string | Buffer, type = 'application/json') {
  const res = await h.server.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: { authorization: `Bearer ${h.token}`, 'content-type': type },
    payload: body,
  });
  return { status: res.statusCode, body: res.json() as { error: { code: string; message: string; field?: string } } };
}

describe('bad input: a 4xx naming the field, never a 500, nothing written', () => {
  const cases: [string, string | Buffer, number, string | RegExp, string?][] = [
    ['malformed JSON', '{"command": ', 400, 'body'],
    ['malformed YAML', 'command: [a, b\nname: x', 400, 'body', 'application/yaml'],
    ['unknown field', JSON.stringify({ command: 'true', colour: 'red' }), 400, /colour/],
    ['missing command', JSON.stringify({ resources: { gpu: 1 } }), 400, 'command'],
    ['negative GPU', JSON.stringify({ command: 'true', resources: { gpu: -1 } }), 400, /resources\.gpu/],
    ['zero count', JSON.stringify({ command: 'true', resources: { gpu: { count: 0 } } }), 400, /resources\.gpu/],
    ['NaN memory', JSON.stringify({ command: 'true', resources: { memory: 'NaNGiB' } }), 400, 'resources.memory'],
    ['huge memory', JSON.stringify({ command: 'true', resources: { memory: '1e30GiB' } }), 400, 'resources.memory'],
    ['YAML .nan', 'command: "true"\npriority: .nan\n', 400, 'priority', 'application/yaml'],
    ['unknown GPU model', JSON.stringify({ command: 'true', resources: { gpu: 'B9000:0.5' } }), 400, /resources\.gpu/],
    ['priority out of range', JSON.stringify({ command: 'true', priority: 101 }), 400, 'priority'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x63, 0xff, 0xfe, 0x22, 0x7d]), 400, 'body'],
    ['empty body', '', 400, 'body'],
    ['array body', '[1,2]', 400, /./],
    ['unsupported content type', 'command=true', 400, 'content-type', 'application/x-www-form-urlencoded'],
    ['body over 1 MiB', JSON.stringify({ command: 'true', env: { BIG: 'x'.repeat(1024 * 1024 + 10) } }), 413, 'body'],
  ];
  for (const [what, body, status, field, type] of cases) {
    it(what, async () => {
      const before = await h.store.countTasks();
      const r = await post(body, type);
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      expect(r.body.error.message.length).toBeGreaterThan(3);
      if (typeof field === 'string') expect(r.body.error.field).toBe(field);
      else expect(`${r.body.error.field ?? ''} ${r.body.error.message}`).toMatch(field);
      expect(await h.store.countTasks()).toBe(before);
    });
  }

  it('bad queries and ids', async () => {
    for (const [url, status] of [
      ['/v1/tasks?limit=-1', 400],
      ['/v1/tasks?limit=abc', 400],
      ['/v1/tasks?state=NOPE', 400],
      ['/v1/tasks?bogus=1', 400],
      ['/v1/tasks/t_zzzzzzzzzz', 404],
      ['/v1/tasks/t_zzzzzzzzzz/logs', 404],
      ['/v1/tasks/t_zzzzzzzzzz/events', 404],
      ['/v1/tasks/%E0%A4%A', 400],
      ['/v1/vgpus/vg_nope', 404],
      ['/v1/nope', 404],
      ['/v1/agent/assignments', 400],
      ['/v1/agent/assignments?nodeId=n_unknown&waitMs=0', 404],
      ['/v1/events?after=-5', 400],
    ] as const) {
      const r = await h.req('GET', url);
      expect(r.status, `${url}: ${r.raw}`).toBe(status);
      expect(r.body.error.code).toBeTypeOf('string');
    }
    const r = await h.req('POST', '/v1/agent/heartbeat', { nodeId: 'x', tasks: [{ taskId: 'a', attempt: 0, status: 'running' }] });
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe('body.tasks.0.attempt');
  });

  it('fuzz: random bodies, paths and queries never give a 500 nor a half-written task', async () => {
    const json = fc.jsonValue({ maxDepth: 3 });
    const specish = fc.record(
      {
        name: fc.oneof(fc.string(), fc.integer()),
        command: fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 }), fc.integer()),
        env: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.string()),
        resources: fc.record(
          {
            gpu: fc.oneof(fc.double(), fc.string(), fc.constantFrom('0.5', 'A100:0.5', '2xH100', 'H100:2', '1e9'), fc.record({ count: fc.integer(), model: fc.string(), memory: fc.string() }, { requiredKeys: [] })),
            cpu: fc.oneof(fc.double(), fc.string()),
            memory: fc.oneof(fc.double(), fc.string(), fc.constantFrom('20GiB', '-1GiB', '1e400')),
          },
          { requiredKeys: [] },
        ),
        priority: fc.oneof(fc.integer(), fc.double()),
        timeLimit: fc.oneof(fc.string(), fc.integer()),
        retries: fc.integer(),
        gang: fc.integer({ min: -2, max: 5 }),
        preemptible: fc.anything(),
        vgpu: fc.string(),
        workdir: fc.string(),
      },
      { requiredKeys: [] },
    );
    const method = fc.constantFrom('GET', 'POST', 'DELETE');
    const segment = fc.oneof(fc.constantFrom('tasks', 'vgpus', 'nodes', 'gpus', 'events', 'agent', 'cancel', 'logs', 'wait', 'register', 'heartbeat', 'reports', 'assignments'), fc.string({ maxLength: 8 }).map(encodeURIComponent));
    const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/v1/${s.join('/')}`);
    const query = fc.dictionary(fc.constantFrom('state', 'limit', 'after', 'follow', 'dryRun', 'timeoutMs', 'waitMs', 'nodeId', 'x'), fc.string({ maxLength: 6 }), { maxKeys: 3 });
    const body = fc.oneof(
      specish.map((s) => JSON.stringify(s)),
      json.map((j) => JSON.stringify(j)),
      fc.string(),
      fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
    );
    const type = fc.constantFrom('application/json', 'application/yaml', 'text/plain', undefined);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ weight: 3, arbitrary: fc.constant('/v1/tasks') }, { weight: 2, arbitrary: path }),
        method,
        query,
        body,
        type,
        async (p, m, q, b, t) => {
          // Long-polls and streams are kept short or skipped: the event stream never ends.
          if (m === 'GET' && p.replace(/\/+$/, '') === '/v1/events') return;
          const qq: Record<string, string> = { ...q };
          delete qq.follow;
          if (p.endsWith('/wait')) qq.timeoutMs = '0';
          if (p.includes('assignments')) qq.waitMs = '0';
          const url = `${p}?${new URLSearchParams(qq).toString()}`;
          const res = await h.server.app.inject({
            method: m as 'GET',
            url,
            headers: { authorization: `Bearer ${h.token}`, ...(t && m !== 'GET' ? { 'content-type': t } : {}) },
            ...(m !== 'GET' ? { payload: b } : {}),
          });
          expect(res.statusCode, `${m} ${url} ${String(b).slice(0, 200)} → ${res.payload}`).toBeLessThan(500);
        },
      ),
      { numRuns: 400 },
    );
    // No half-written task: every stored task is whole, and gangs are complete.
    const all = await h.store.listTasks({ limit: 100_000 });
    const gangs = new Map<string, number>();
    for (const t of all) {
      expect(t.spec.command.length).toBeGreaterThan(0);
      expect(t.id).toMatch(/^t_[a-z2-7]{10}$/);
      if (t.gangId) gangs.set(t.gangId, (gangs.get(t.gangId) ?? 0) + 1);
    }
    for (const t of all) if (t.gangId) expect(gangs.get(t.gangId)).toBe(t.spec.gang);
  });
});
