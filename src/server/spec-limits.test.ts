// The spec states what the validators enforce (issue 21 §1, §5) and the routes agree with it:
// query numbers with their ranges, the task-state list, "give at least one of" rules, the bodies
// of promotions and quotes, 404 for a missing tenant, and 405 (not a content-type complaint) for
// an undeclared method that carries a body.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHarness, type Harness } from './testing.js';

type Param = { name: string; in: string; schema: Record<string, unknown> };
type Op = { parameters?: Param[]; requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }; responses: Record<string, { content?: Record<string, { schema?: unknown }> }> };

let h: Harness;
let paths: Record<string, Record<string, Op>>;
beforeAll(async () => {
  h = await makeHarness();
  paths = (await h.req('GET', '/v1/openapi.json')).body.paths;
});
afterAll(async () => {
  await h.close();
});

const param = (path: string, method: string, name: string): Record<string, unknown> => {
  const p = paths[path]?.[method]?.parameters?.find((x) => x.name === name);
  if (!p) throw new Error(`${method} ${path} has no parameter ${name}`);
  return p.schema;
};
const body = (path: string, method: string): Record<string, unknown> | undefined => paths[path]?.[method]?.requestBody?.content['application/json']?.schema;

describe('the spec states the validators’ limits', () => {
  it('query numbers are integers with the ranges the server enforces', () => {
    expect(param('/v1/agent/assignments', 'get', 'waitMs')).toMatchObject({ type: 'integer', minimum: 0, maximum: 120_000 });
    expect(param('/v1/tasks', 'get', 'limit')).toMatchObject({ type: 'integer', minimum: 1 });
    expect(param('/v1/tasks/{id}/wait', 'get', 'timeoutMs')).toMatchObject({ type: 'integer', minimum: 0 });
    expect(param('/v1/tasks/{id}/logs', 'get', 'after')).toMatchObject({ type: 'integer', minimum: -1 });
  });

  it('every integer the spec gives a query is answered, and one past its range is refused', async () => {
    for (const v of ['0', '120000']) expect((await h.req('GET', `/v1/agent/assignments?nodeId=none&waitMs=${v}`)).status).toBe(404);
    expect((await h.req('GET', '/v1/agent/assignments?nodeId=none&waitMs=120001')).status).toBe(400);
    expect((await h.req('GET', '/v1/tasks?limit=0')).status).toBe(400);
  });

  it('the task-state list is a pattern of the states, which the server takes', async () => {
    const s = param('/v1/tasks', 'get', 'state');
    expect(s.type).toBe('string');
    const re = new RegExp(String(s.pattern));
    expect(re.test('PENDING,RUNNING')).toBe(true);
    expect(re.test('NOPE')).toBe(false);
    expect((await h.req('GET', '/v1/tasks?state=PENDING,RUNNING')).status).toBe(200);
    expect((await h.req('GET', '/v1/tasks?state=NOPE')).status).toBe(400);
  });

  it('"give at least one of" rules are anyOf of required fields', () => {
    expect(body('/v1/billing/settings', 'post')?.anyOf).toEqual([{ required: ['budgetPolicy'] }, { required: ['budgetPeriod'] }]);
    expect(body('/v1/vgpus', 'post')?.anyOf).toEqual([{ required: ['gpu'] }, { required: ['memory'] }, { required: ['tflops'] }, { required: ['model'] }]);
  });

  it('usage times carry the pattern the server reads', () => {
    const re = new RegExp(String(param('/v1/usage', 'get', 'from').pattern));
    expect(['2025-03-01', '2025-03-01T22:00:00Z', '2025-03-01T22:00+02:00'].every((t) => re.test(t))).toBe(true);
    expect(re.test('0000000000')).toBe(false);
  });

  it('POST /v1/promotions and POST /v1/quote declare the bodies they read', () => {
    expect(body('/v1/promotions', 'post')?.required).toEqual(expect.arrayContaining(['name', 'discount', 'from', 'to']));
    expect(body('/v1/quote', 'post')?.required).toEqual(['command']);
  });

  it('every JSON answer of every route has a declared schema', () => {
    const missing: string[] = [];
    for (const [path, ops] of Object.entries(paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, r] of Object.entries(op.responses)) {
          if (status === 'default' || !status.startsWith('2')) continue;
          const types = Object.keys(r.content ?? {});
          if (types.length === 0 || types.some((t) => !r.content?.[t]?.schema)) missing.push(`${method.toUpperCase()} ${path} ${status}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('a missing referenced entity is a 404', () => {
  it('an unknown tenant, when submitting, reserving or making a token', async () => {
    const r1 = await h.req('POST', '/v1/tasks?tenant=nobody', { command: 'true' });
    const r2 = await h.req('POST', '/v1/vgpus?tenant=nobody', { gpu: 0.5 });
    const r3 = await h.req('POST', '/v1/admin/tokens', { tenant: 'nobody' });
    expect([r1.status, r2.status, r3.status]).toEqual([404, 404, 404]);
    expect(r3.body.error.message).toContain('create it first');
  });
});

describe('undeclared methods that carry a body', () => {
  it('QUERY and PUT on a known path answer 405 with Allow before the body is read', async () => {
    for (const method of ['QUERY', 'PUT']) {
      const r = await h.server.app.inject({ method: method as 'GET', url: '/healthz', headers: { 'content-type': 'application/x-nothing' }, payload: 'x' });
      expect(r.statusCode).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
      const bare = await h.server.app.inject({ method: method as 'GET', url: '/healthz' });
      expect(bare.statusCode).toBe(405);
    }
  });

  it('on an unknown path they are a 404', async () => {
    const r = await h.server.app.inject({ method: 'QUERY' as 'GET', url: '/v1/nothing-here' });
    expect(r.statusCode).toBe(404);
  });
});
