// A tenant's default time limit (issue 22) through the API: it overrides the pool's
// --default-time-limit, a task's own limit overrides both, and the scheduler's backfill and its
// Priority hint read the limit a task got. ManualClock and a fake agent: no real sleeps.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeAgent, h100s, makeHarness, submit, taskState, type Harness } from './testing.js';

const MIN = 60_000;
const POOL_DEFAULT = 120 * MIN;

let h: Harness;
beforeEach(async () => {
  h = await makeHarness({ defaultTimeLimitMs: POOL_DEFAULT });
});
afterEach(async () => {
  await h.close();
});

async function ok(res: Promise<{ status: number; body: any; raw: string }>, status = 200): Promise<any> {
  const r = await res;
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.raw}`);
  return r.body;
}

/** A tenant (through the admin API) and a member token for it. */
async function tenant(name: string, o: Record<string, unknown> = {}): Promise<string> {
  await ok(h.req('POST', '/v1/admin/tenants', { name, ...o }), 201);
  return (await ok(h.req('POST', '/v1/admin/tokens', { tenant: name, role: 'member' }), 201)).token as string;
}

async function submitAs(token: string, spec: Record<string, unknown>): Promise<any> {
  const body = await ok(h.req('POST', '/v1/tasks', { command: ['sleep', '100'], ...spec }, { authorization: `Bearer ${token}` }), 201);
  await h.server.control.settle();
  return body.tasks[0];
}

describe('a tenant’s default time limit', () => {
  it('is shown, stored and changed through the admin API; PATCH keeps the fields it does not name', async () => {
    const created = await ok(h.req('POST', '/v1/admin/tenants', { name: 'quick', guarantee: 1, budget: '50', defaultTimeLimit: '5m' }), 201);
    expect(created).toMatchObject({ name: 'quick', guarantee: 1, budget: '50.00', defaultTimeLimit: '5m', defaultTimeLimitMs: 5 * MIN });

    const patched = await ok(h.req('PATCH', '/v1/admin/tenants/quick', { defaultTimeLimit: '1h30m' }));
    expect(patched).toMatchObject({ guarantee: 1, budget: '50.00', defaultTimeLimit: '1h30m', defaultTimeLimitMs: 90 * MIN, createdAt: created.createdAt });
    expect(await ok(h.req('GET', '/v1/admin/tenants/quick'))).toEqual(patched);

    // null: back to the pool's default; the rest stays.
    expect(await ok(h.req('PATCH', '/v1/admin/tenants/quick', { defaultTimeLimit: null }))).toMatchObject({ guarantee: 1, defaultTimeLimit: null, defaultTimeLimitMs: null });
    // POST replaces the whole tenant: a field it leaves out goes back to its default.
    expect(await ok(h.req('POST', '/v1/admin/tenants', { name: 'quick', defaultTimeLimit: 90 }))).toMatchObject({ guarantee: 0, budget: null, defaultTimeLimit: '1m30s' });
  });

  it('refuses bad input naming the field, and an unknown tenant with 404', async () => {
    await tenant('quick', { guarantee: 2 });
    const bad = async (body: unknown, field: string): Promise<void> => {
      const r = await h.req('PATCH', '/v1/admin/tenants/quick', body);
      expect(r.status, r.raw).toBe(400);
      expect(r.body.error.field).toBe(field);
    };
    await bad({ defaultTimeLimit: 'soon' }, 'body.defaultTimeLimit');
    await bad({ defaultTimeLimit: 0 }, 'body.defaultTimeLimit');
    await bad({ limit: 1 }, 'body.limit'); // below the guarantee it keeps
    await bad({ name: 'other' }, 'body.name');
    expect((await h.req('POST', '/v1/admin/tenants', { name: 'x', defaultTimeLimit: '400d' })).body.error.field).toBe('body.defaultTimeLimit');
    expect((await h.req('PATCH', '/v1/admin/tenants/nobody', { weight: 2 })).status).toBe(404);
    // Nothing half-written: the refused updates left the tenant as it was.
    expect(await ok(h.req('GET', '/v1/admin/tenants/quick'))).toMatchObject({ guarantee: 2, limit: null, defaultTimeLimit: null });
  });

  it('overrides the pool’s default; a task’s own limit overrides both; changes apply to the next submit', async () => {
    const quick = await tenant('quick', { defaultTimeLimit: '5m' });
    const plain = await tenant('plain');
    expect((await submitAs(quick, { name: 'q' })).spec.timeLimitMs).toBe(5 * MIN);
    expect((await submitAs(quick, { name: 'q-own', timeLimit: '3h' })).spec.timeLimitMs).toBe(180 * MIN);
    expect((await submitAs(plain, { name: 'p' })).spec.timeLimitMs).toBe(POOL_DEFAULT);
    // An admin submitting for a tenant (?tenant=) gets that tenant's default; a dry run shows it.
    const dry = await ok(h.req('POST', '/v1/tasks?tenant=quick&dryRun=true', { command: 'true' }));
    expect(dry.tasks[0].spec.timeLimitMs).toBe(5 * MIN);

    await ok(h.req('PATCH', '/v1/admin/tenants/quick', { defaultTimeLimit: null }));
    expect((await submitAs(quick, { name: 'q-after' })).spec.timeLimitMs).toBe(POOL_DEFAULT);
  });

  it('feeds the scheduler’s backfill and its Priority hint', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(1));
    await agent.register();
    // One tenant, so that priority orders its queue (across tenants fair share does).
    const team = await tenant('team');

    // Half the GPU is busy for 30 minutes; a whole-GPU task at priority 60 is first in line.
    const running = await submitAs(team, { name: 'half', resources: { gpu: 0.5 }, timeLimit: '30m' });
    expect((await agent.pollAndStart()).map((a) => a.taskId)).toEqual([running.id]);
    const head = await submitAs(team, { name: 'big', resources: { gpu: 1 }, priority: 60 });
    expect((await taskState(h, head.id)).state).toBe('PENDING');

    // An untimed task takes the pool's 2 hours: it would delay the big task, so it is held, and
    // the hint says which limit would let it start now.
    const slow = await submitAs(team, { name: 'small', resources: { gpu: 0.25 } });
    const held = await taskState(h, slow.id);
    expect(held).toMatchObject({ state: 'PENDING', reason: 'Priority' });
    expect(held.reasonMessage).toMatch(new RegExp(`held back so that ${head.id} \\(priority 60\\) can start .*a time limit of 30m or less would let it start now`));

    // With the tenant's default at 20 minutes, the same untimed task ends before the big task
    // can start: it is backfilled at once, and the big task's start does not move.
    await ok(h.req('PATCH', '/v1/admin/tenants/team', { defaultTimeLimit: '20m' }));
    const quick = await submitAs(team, { name: 'small2', resources: { gpu: 0.25 } });
    expect((await taskState(h, quick.id))).toMatchObject({ state: 'SCHEDULED', spec: { timeLimitMs: 20 * MIN } });
    expect((await taskState(h, slow.id)).state).toBe('PENDING'); // its limit was set when it was submitted
    expect((await taskState(h, head.id)).reasonMessage).toMatch(/expected to start at .* \(in 30m\)/);
  });
});
