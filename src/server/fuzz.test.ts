// The API fuzz (issue 9 §4): every route, every content type, deep nesting included; no answer
// is a 5xx and the process survives. bench/fuzz-api.ts runs 10,000 of these over a socket.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FuzzGen, isStream, routesOf, CONTENT_TYPES } from './fuzz.js';
import { FakeAgent, h100s, makeHarness, submit, type Harness } from './testing.js';

let h: Harness;
let gen: FuzzGen;
const RUNS = 1500;

beforeAll(async () => {
  h = await makeHarness();
  await new FakeAgent(h, 'node-a', h100s(2)).register();
  const [t] = await submit(h, { command: ['true'], resources: { gpu: 0.5 } });
  const member = await h.req('POST', '/v1/admin/tokens', { tenant: 'default', role: 'member' });
  const viewer = await h.req('POST', '/v1/admin/tokens', { tenant: 'default', role: 'viewer' });
  const openapi = (await h.req('GET', '/v1/openapi.json')).body;
  gen = new FuzzGen({ routes: routesOf(openapi), adminToken: h.token, otherTokens: [member.body.token, viewer.body.token], ids: [t.id, 'node-a', 'default', 'H100'] }, 20260907);
});
afterAll(async () => {
  await h.close();
});

it(`${RUNS} generated requests over every route and content type: no 5xx`, async () => {
  const seen = new Map<string, number>();
  const statuses = new Map<number, number>();
  let deep = 0;
  for (let i = 0; i < RUNS; i++) {
    const r = gen.next();
    if (isStream(r)) continue;
    const res = await h.server.app.inject({ method: r.method, url: r.url, headers: r.headers, ...(r.body !== undefined ? { payload: r.body } : {}) });
    expect(res.statusCode, `${r.method} ${r.url} [${r.headers['content-type']}] ${String(r.body).slice(0, 120)} → ${res.payload.slice(0, 300)}`).toBeLessThan(500);
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    seen.set(r.headers['content-type'] ?? 'none', 1);
    if (r.body !== undefined && /(\[{60}|\{"a":\{"a":|- - - - - -)/.test(r.body)) deep++;
  }
  // The generator did reach what it claims to: every content type, deep nesting, and successes.
  for (const t of CONTENT_TYPES) expect(seen.has(t), t).toBe(true);
  expect(deep).toBeGreaterThan(20);
  expect(statuses.get(200) ?? 0).toBeGreaterThan(50);
  expect((await h.req('GET', '/healthz')).status).toBe(200);
}, 240_000);
