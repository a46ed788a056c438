// Conventional HTTP (issue 21 §3, §6): 405 with Allow for an undeclared method on a known path,
// path parameters up to the spec's 128 characters, and error messages that never echo unbounded input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    ['PUT', '/v1/admin/tenants/research', 'DELETE, GET, HEAD'],
  ];
  for (const [method, url, allow] of cases) {
    it(`${method} ${url} answers 405 with Allow: ${allow}`, async () => {
      // Without a token too: which methods a path has is public (it is in /v1/openapi.json).
      for (const headers of [{}, { authorization: '' }]) {
        const r = await h.req(method, url, undefined, headers);
        expect(r.status).toBe(405);
        expect(r.headers.allow).toBe(allow);
        expect(r.body.error.code).toBe('METHOD_NOT_ALLOWED');
      }
    });
  }

  it('declared methods still answer, and unknown paths are still 404', async () => {
    expect((await h.req('GET', '/v1/tasks')).status).toBe(200);
    expect((await h.req('PUT', '/v1/nothing-here')).status).toBe(404);
    expect((await h.req('GET', '/v1/tasks/t_abc/nothing')).status).toBe(404);
  });
});
