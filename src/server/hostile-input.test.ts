// Hostile input (issue 9 §4): deep nesting and alias bombs are 400s before any parser recurses
// (they used to take the whole process down with a fatal V8 out-of-memory); amounts above their
// documented maxima are 400s naming the field; and a ledger at its limits still settles.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_LEDGER_MICROS } from '../core/pricing/money.js';
import { FakeAgent, h100s, makeHarness, type Harness } from './testing.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness({ settleEveryMs: 1000 });
});
afterEach(async () => {
  await h.close();
});

const deepBodies: [string, string, string][] = [
  ['10 KB of nested [ in YAML', 'application/yaml', '['.repeat(10_000)],
  ['5,000 nested [ in YAML', 'application/yaml', '['.repeat(5_000)],
  ['nested { in YAML', 'application/yaml', '{'.repeat(20_000)],
  ['compact block sequences in YAML', 'application/yaml', `command: ${'- '.repeat(5_000)}x`],
  ['nested arrays in JSON', 'application/json', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
  ['nested objects in JSON', 'application/json', `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`],
  ['an alias bomb in YAML', 'application/yaml', ['a: &a [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`)].join('\n')],
];

describe('deep nesting and aliases', () => {
  for (const [what, type, body] of deepBodies) {
    it(`${what}: 400 naming body, and the server goes on`, async () => {
      const r = await h.req('POST', '/v1/tasks', body, { 'content-type': type });
      expect(r.status, r.raw).toBe(400);
      expect(r.body.error.field).toBe('body');
      expect(r.body.error.message).toMatch(/deeper than 64|aliases|alias/);
      expect((await h.req('GET', '/healthz')).status).toBe(200);
    });
  }

  it('unauthenticated POST /dashboard/session parses no YAML and no nesting', async () => {
    for (const [type, body] of [
      ['application/yaml', '['.repeat(10_000)],
      ['application/json', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
      ['application/json', JSON.stringify({ token: { nested: ['x'] } })],
      ['text/plain', 'token=abc'],
    ] as const) {
      const res = await h.server.app.inject({ method: 'POST', url: '/dashboard/session', headers: { 'content-type': type, 'x-fastgpu-csrf': '1' }, payload: body });
      expect([400, 401, 413], `${type}: ${res.payload}`).toContain(res.statusCode);
    }
    const big = await h.server.app.inject({ method: 'POST', url: '/dashboard/session', headers: { 'content-type': 'application/json', 'x-fastgpu-csrf': '1' }, payload: JSON.stringify({ token: 'x'.repeat(10_000) }) });
    expect(big.statusCode).toBe(413);
    const ok = await h.server.app.inject({ method: 'POST', url: '/dashboard/session', headers: { 'content-type': 'application/json', 'x-fastgpu-csrf': '1' }, payload: JSON.stringify({ token: h.token }) });
    expect(ok.statusCode, ok.payload).toBe(200);
  });
});

describe('amounts have maxima', () => {
  it('prices, budgets, promotion discounts and budgets above the maximum: 400 naming the field', async () => {
    const huge = '99999999999999999999';
    for (const [url, body, field] of [
      ['/v1/prices', { model: 'H100', price: huge }, /price/],
      ['/v1/prices', { model: 'H100', price: '1000000.01' }, /price/],
      ['/v1/admin/tenants', { name: 'rich', budget: huge }, /budget/],
      ['/v1/promotions', { name: 'p1', discount: `${huge}/h`, from: '2025-03-01', to: '2025-03-02' }, /discount/],
      ['/v1/promotions', { name: 'p2', discount: '10%', budget: huge, from: '2025-03-01', to: '2025-03-02' }, /budget/],
    ] as const) {
      const r = await h.req('POST', url, body);
      expect(r.status, `${url} ${r.raw}`).toBe(400);
      expect(r.body.error.field).toMatch(field);
      expect(r.body.error.message).toMatch(/above the maximum/);
    }
    expect((await h.req('POST', '/v1/prices', { model: 'H100', price: '1000000' })).status).toBe(200);
  });

  it('a ledger that reached its limit still settles: later price changes and usage answer 200', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(8));
    await agent.register();
    expect((await h.req('POST', '/v1/prices', { model: 'H100', price: '1000000' })).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await h.req('POST', '/v1/tasks', { command: ['sleep', '1'], resources: { gpu: 2 } })).status).toBe(201);
    await h.server.control.settle();
    expect(await agent.pollAndStart()).toHaveLength(4);
    // Four tasks at 2,000,000 per hour each for 1,000 years: each saturates, and so does their sum.
    h.clock.advance(1000 * 365 * 24 * 3_600_000);
    await h.server.control.tick();
    await h.server.control.settle();
    const price = await h.req('POST', '/v1/prices', { model: 'H100', price: '2.00' });
    expect(price.status, price.raw).toBe(200);
    const usage = await h.req('GET', '/v1/usage');
    expect(usage.status, usage.raw).toBe(200);
    const charged = BigInt(usage.body.totals.chargedMicros as string);
    expect(charged).toBeGreaterThan(0n);
    expect(charged).toBeLessThanOrEqual(MAX_LEDGER_MICROS * 4n);
    expect((await h.req('POST', '/v1/tasks', { command: ['true'], resources: { gpu: 1 } })).status).toBe(201);
  });
});
