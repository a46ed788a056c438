// Conventional HTTP (issue 21 §3, §6): 405 with Allow for an undeclared method on a known path,
// path parameters up to the spec's 128 characters, and error messages that never echo unbounded input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorFromResponse } from '../sdk/errors.js';
import { MAX_PATH_PARAM } from './errors.js';
import { makeHarness, type Harness } from './testing.js';

let h: Harness;
beforeAll(async () => {
  h = await makeHarness();
});
afterAll(async () => {
  await h.close();
});

describe('undeclared methods', () => {
  const cases: [string, string, string][] = [
    ['PUT', '/v1/tasks', 'GET, HEAD, POST'],
    ['TRACE', '/v1/tasks', 'GET, HEAD, POST'],
    ['PATCH', '/v1/tasks/t_abc', 'GET, HEAD'],
    ['DELETE', '/v1/admin/tokens', 'GET, HEAD, POST'],
    ['GET', '/v1/admin/tokens/tok_x/revoke', 'POST'],
    ['PUT', '/v1/admin/tenants/research', 'DELETE, GET, HEAD, PATCH'],
  ];
  for (const [method, url, allow] of cases) {
    it(`${method} ${url} answers 405 with Allow: ${allow}`, async () => {
      // Without a token too: which methods a path has is public (it is in /v1/openapi.json).
      const headerSets: Record<string, string>[] = [{}, { authorization: '' }];
      for (const headers of headerSets) {
        const r = await h.req(method, url, undefined, headers);
        expect(r.status).toBe(405);
        expect(r.headers.allow).toBe(allow);
        expect(r.body.error.code).toBe('METHOD_NOT_ALLOWED');
      }
    });
  }

  it('the SDK reads a 405 as METHOD_NOT_ALLOWED', async () => {
    const r = await h.req('PUT', '/v1/tasks');
    const e = errorFromResponse(r.status, r.body, r.raw);
    expect([e.code, e.status]).toEqual(['METHOD_NOT_ALLOWED', 405]);
    expect(e.message).toBe('PUT is not allowed here; allowed: GET, HEAD, POST');
  });

  it('declared methods still answer, and unknown paths are still 404', async () => {
    expect((await h.req('GET', '/v1/tasks')).status).toBe(200);
    expect((await h.req('PUT', '/v1/nothing-here')).status).toBe(404);
    expect((await h.req('GET', '/v1/tasks/t_abc/nothing')).status).toBe(404);
  });
});

describe('path parameters', () => {
  it('every path parameter in the served spec has maxLength 128 at most, the router limit', async () => {
    const spec = (await h.req('GET', '/v1/openapi.json')).body;
    let seen = 0;
    for (const ops of Object.values(spec.paths) as Record<string, { parameters?: { in: string; name: string; schema: { maxLength?: number } }[] }>[]) {
      for (const op of Object.values(ops)) {
        for (const p of op.parameters ?? []) {
          if (p.in !== 'path') continue;
          seen++;
          expect(p.schema.maxLength, p.name).toBeLessThanOrEqual(MAX_PATH_PARAM);
        }
      }
    }
    expect(seen).toBeGreaterThan(10);
  });

  it('ids of 101–128 characters (counted decoded) reach authentication and the route: 401 without a token, 404 with', async () => {
    for (const id of ['a'.repeat(101), 'a'.repeat(128), encodeURIComponent('é'.repeat(128))]) {
      expect((await h.req('GET', `/v1/tasks/${id}`, undefined, { authorization: '' })).status).toBe(401);
      const r = await h.req('GET', `/v1/tasks/${id}`);
      expect(r.status).toBe(404);
      expect(r.body.error.message).toMatch(/^task .* not found$/);
      expect((await h.req('POST', `/v1/admin/tokens/${id}/revoke`)).status).toBe(404);
      // /v1/nodes/:node takes DELETE (node removal, issue 11): the route is reached and the node is not there.
      expect((await h.req('DELETE', `/v1/nodes/${id}`)).status).toBe(404);
    }
  });

  it('a longer one is a 400 that names the limit without echoing the path', async () => {
    for (const id of ['b'.repeat(129), encodeURIComponent('é'.repeat(129)), 'c'.repeat(100_000)]) {
      const r = await h.req('GET', `/v1/tasks/${id}`, undefined, { authorization: '' });
      expect(r.status).toBe(400);
      expect(r.body.error).toEqual({ code: 'INVALID_ARGUMENT', message: 'url: a path parameter is longer than 128 characters', field: 'url' });
    }
    const bad = await h.req('GET', `/v1/tasks/${'d'.repeat(5000)}%E0%A4%A`);
    expect(bad.status).toBe(400);
    expect(bad.raw).not.toContain('ddddd');
  });
});

describe('error messages never echo unbounded input', () => {
  it('clips unknown paths, methods and query keys', async () => {
    const longPath = `/v1/${'x'.repeat(10_000)}`;
    const nf = await h.req('GET', longPath);
    expect(nf.status).toBe(404);
    expect(nf.raw.length).toBeLessThan(500);
    expect(nf.body.error.message).toContain('10004 characters');
    const q = await h.req('GET', `/v1/tasks?${'k'.repeat(5000)}=1&${Array.from({ length: 50 }, (_, i) => `z${i}=1`).join('&')}`);
    expect(q.status).toBe(400);
    expect(q.raw.length).toBeLessThan(600);
    expect(q.body.error.message).toMatch(/unknown fields .* and 46 more/);
  });
});
