// Tenancy, preemption, metering and pricing through the server API, with a ManualClock and a
// fake agent: no real sleeps, every amount checked against a hand computation.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeAgent, h100s, makeHarness, submit, taskState, type Harness } from './testing.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

const MIN = 60_000;
const T0 = Date.UTC(2025, 2, 1, 0, 0, 0);

async function ok(res: Promise<{ status: number; body: any; raw: string }>, status = 200): Promise<any> {
  const r = await res;
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.raw}`);
  return r.body;
}

/** A tenant and a member token for it (through the admin API). */
async function tenant(name: string, o: Record<string, unknown> = {}): Promise<string> {
  await ok(h.req('POST', '/v1/admin/tenants', { name, ...o }), 201);
  const t = await ok(h.req('POST', '/v1/admin/tokens', { tenant: name, role: 'member' }), 201);
  return t.token as string;
}

/** A request with another token. */
function as(token: string, method: string, url: string, body?: unknown) {
  return h.req(method, url, body, { authorization: `Bearer ${token}` });
}

async function submitAs(token: string, spec: unknown): Promise<any> {
  const body = await ok(as(token, 'POST', '/v1/tasks', spec), 201);
  await h.server.control.settle();
  return body.tasks[0];
}

const gpuTask = (name: string, extra: Record<string, unknown> = {}) => ({ name, command: ['sleep', '100'], resources: { gpu: 1 }, ...extra });

describe('two tenants, one GPU: borrowing and reclaim', () => {
  beforeEach(async () => {
    h = await makeHarness();
  });

  it('A borrows B’s idle guarantee; B submits; A is preempted (stop order "preempted"), requeued, and runs again after B', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(1));
    await agent.register();
    const a = await tenant('team-a', { guarantee: 0, weight: 1 });
    const b = await tenant('team-b', { guarantee: 1 });

    const ta = await submitAs(a, gpuTask('a-job'));
    expect((await agent.pollAndStart()).map((x) => x.taskId)).toEqual([ta.id]);
    const scheduled = (await h.store.listEvents(0, 1000)).find((e) => e.type === 'task.scheduled' && e.taskId === ta.id);
    expect(scheduled?.data.borrowed).toBe(true);

    h.clock.advance(MIN);
    const tb = await submitAs(b, gpuTask('b-job'));
    // B waits for the room A's task gives back; A gets a stop order with reason preempted.
    const waiting = await taskState(h, tb.id);
    expect(waiting).toMatchObject({ state: 'PENDING', reason: 'Resources' });
    expect(waiting.reasonMessage).toMatch(new RegExp(`preempting ${ta.id}`));
    const hb = await agent.heartbeat();
    expect(hb.stop).toEqual([{ taskId: ta.id, attempt: 1, graceMs: 10_000, reason: 'preempted' }]);
    // No overlap: nothing is handed out for B while A's process may still run.
    await h.server.control.runCycle();
    expect((await agent.poll(0)).assignments).toEqual([]);
    expect((await taskState(h, ta.id)).reasonMessage).toMatch(/^Preempting: preempted: tenant team-b reclaims its guarantee/);

    // The agent reports A's exit (SIGTERM after FASTGPU_PREEMPTED=1): A is requeued, B starts.
    h.clock.advance(2_000);
    await agent.exit(ta.id, 1, null, 'preempted');
    await h.server.control.settle();
    const requeued = await taskState(h, ta.id);
    expect(requeued.state).toBe('PENDING');
    expect(requeued.attempts.map((x: any) => x.outcome)).toEqual(['PREEMPTED']);
    expect((await agent.pollAndStart()).map((x) => [x.taskId, x.attempt])).toEqual([[tb.id, 1]]);
    // A stays queued while B holds its guarantee.
    expect((await taskState(h, ta.id)).state).toBe('PENDING');

    h.clock.advance(MIN);
    await agent.exit(tb.id, 1, 0);
    await h.server.control.settle();
    expect((await agent.pollAndStart()).map((x) => [x.taskId, x.attempt])).toEqual([[ta.id, 2]]);
    h.clock.advance(MIN);
    await agent.exit(ta.id, 2, 0);
    await h.server.control.settle();
    const done = await taskState(h, ta.id);
    expect(done.state).toBe('SUCCEEDED');
    expect(done.attempts.map((x: any) => x.outcome)).toEqual(['PREEMPTED', 'SUCCEEDED']);
    expect((await taskState(h, tb.id)).state).toBe('SUCCEEDED');
  });

  it('a preempted task on a node that is lost counts as preempted, not lost (no retry used)', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(1));
    await agent.register();
    const a = await tenant('team-a');
    const b = await tenant('team-b', { guarantee: 1 });
    const ta = await submitAs(a, gpuTask('a-job'));
    await agent.pollAndStart();
    await submitAs(b, gpuTask('b-job'));
    h.clock.advance(20_000);
    await h.server.control.detectLostNodes();
    await h.server.control.settle();
    const t = await taskState(h, ta.id);
    expect(t.state).toBe('PENDING');
    expect(t.attempts.map((x: any) => x.outcome)).toEqual(['PREEMPTED']);
  });

  it('a victim asked to stop for a preemption is preempted however it ends (exit 143, or a reason-less stop after an agent restart)', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(2));
    await agent.register();
    const a = await tenant('team-a');
    const b = await tenant('team-b', { guarantee: 2 });
    const [a1, a2] = [await submitAs(a, gpuTask('a1')), await submitAs(a, gpuTask('a2'))];
    await agent.pollAndStart();
    await submitAs(b, gpuTask('b-job', { resources: { gpu: 2 } }));
    expect((await agent.heartbeat()).stop.map((x) => x.reason)).toEqual(['preempted', 'preempted']);
    await agent.exit(a1.id, 1, 143);
    await agent.exit(a2.id, 1, null, 'cancelled');
    await h.server.control.settle();
    for (const id of [a1.id, a2.id]) expect(await taskState(h, id)).toMatchObject({ state: 'PENDING', attempts: [{ outcome: 'PREEMPTED' }] });
    expect((await agent.pollAndStart()).map((x) => x.taskId)).toHaveLength(1);
    expect((await h.req('GET', '/metrics')).raw).toMatch(/fastgpu_preemptions_total\{tenant="team-a"\} 2/);
  });

  it('fair share: a tenant that queued first does not take everything', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(4));
    const a = await tenant('team-a');
    const b = await tenant('team-b', { weight: 1 });
    for (let i = 0; i < 4; i++) await submitAs(a, gpuTask(`a${i}`));
    for (let i = 0; i < 2; i++) await submitAs(b, gpuTask(`b${i}`));
    await agent.register(); // the node joins with all six queued
    await h.server.control.settle();
    const started = await agent.pollAndStart();
    const tenants = await Promise.all(started.map(async (x) => (await taskState(h, x.taskId)).tenant));
    expect(tenants.sort()).toEqual(['team-a', 'team-a', 'team-b', 'team-b']);
  });

  it('a higher-priority task preempts a preemptible one (no tenants configured); a non-preemptible one is left alone', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(2));
    await agent.register();
    const [low] = await submit(h, gpuTask('low', { priority: 10, preemptible: true }));
    const [fixed] = await submit(h, gpuTask('fixed', { priority: 5 }));
    await agent.pollAndStart();
    const [high] = await submit(h, gpuTask('high', { priority: 90 }));
    expect((await agent.heartbeat()).stop).toEqual([{ taskId: low.id, attempt: 1, graceMs: 10_000, reason: 'preempted' }]);
    expect((await taskState(h, low.id)).reasonMessage).toBe(`Preempting: preempted: task ${high.id} has priority 90 > 10`);
    await agent.exit(low.id, 1, null, 'preempted');
    await h.server.control.settle();
    expect((await agent.pollAndStart()).map((x) => x.taskId)).toEqual([high.id]);
    expect((await taskState(h, fixed.id)).state).toBe('RUNNING');
    expect((await taskState(h, low.id)).state).toBe('PENDING');
  });

  it('an agent that restarts mid-preemption is told the stop is a preemption (so the task sees FASTGPU_PREEMPTED=1)', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(1));
    await agent.register();
    const [low] = await submit(h, gpuTask('low', { priority: 10, preemptible: true }));
    await agent.pollAndStart();
    await submit(h, gpuTask('high', { priority: 90 }));
    await h.server.control.settle();
    // The agent restarts before its next heartbeat: it registers again, still running `low`.
    expect((await agent.register()).stop).toEqual([{ taskId: low.id, attempt: 1, graceMs: 10_000, reason: 'preempted' }]);
  });

  it('a tenant never exceeds its limit: reason Quota', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(4));
    await agent.register();
    const a = await tenant('capped', { limit: 1 });
    await submitAs(a, gpuTask('one'));
    const two = await submitAs(a, gpuTask('two'));
    const t = await taskState(h, two.id);
    expect(t).toMatchObject({ state: 'PENDING', reason: 'Quota' });
    expect(t.reasonMessage).toBe('tenant capped uses 1 GPU of its 1 GPU limit; this task needs 1 GPU more');
  });
});

describe('metering and pricing', () => {
  beforeEach(async () => {
    h = await makeHarness();
    h.clock.set(T0);
  });

  it('a usage report across a promotion boundary matches a hand computation to the cent, through settlements and a restart', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(1));
    await agent.register();
    await ok(h.req('POST', '/v1/prices', { model: 'H100', price: '2.99' }));
    const promo = await ok(h.req('POST', '/v1/promotions', { name: 'spring', discount: '30%', from: '2025-03-01T00:25:00Z', to: '2025-03-02T00:00:00Z', models: 'H100' }), 201);
    expect(promo).toMatchObject({ name: 'spring', discount: '30%', status: 'scheduled' });
    const a = await tenant('team-a');
    const t = await submitAs(a, { name: 'half', command: ['sleep', '1'], resources: { gpu: 0.5 } });
    await agent.pollAndStart(); // starts at T0 (the fake agent reports the clock)

    // Settled every 30 s of clock time, as the loop ticks; a restart half-way loses nothing.
    for (let m = 1; m <= 70; m++) {
      h.clock.advance(MIN);
      await agent.heartbeat();
      h.server.control.tick();
      await h.server.control.settle();
      if (m === 40) {
        await h.restart();
        await agent.register();
      }
    }
    await agent.exit(t.id, 1, 0);
    await h.server.control.settle();
    expect(h.server.control.billing.openEntries()).toEqual([]);

    // By hand: 0.5 × 2.99 = 1.495 per hour. 70 min: list 1.744167 (1.495 × 70/60).
    // [0, 25 min) no promotion: list 0.622917; [25, 70 min) 30% off: list 1.121250, discount 0.336375.
    // Charged 1.744167 − 0.336375 = 1.407792 → 1.41.
    const report = await ok(as(a, 'GET', '/v1/usage'));
    expect(report.rows).toEqual([
      {
        tenant: 'team-a',
        taskId: t.id,
        gpuModel: 'H100-80GB',
        gpuSeconds: 2100,
        promotions: ['spring'],
        listAmount: 1.74,
        discountAmount: 0.34,
        chargedAmount: 1.41,
        listMicros: '1744167',
        discountMicros: '336375',
        chargedMicros: '1407792',
      },
    ]);
    expect(report.totals).toMatchObject({ listAmount: 1.74, discountAmount: 0.34, chargedAmount: 1.41, promotions: ['spring'] });
    // Two periods split at the boundary add up to the whole.
    const before = await ok(h.req('GET', '/v1/usage?from=2025-03-01T00:00:00Z&to=2025-03-01T00:25:00Z'));
    const after = await ok(h.req('GET', '/v1/usage?from=2025-03-01T00:25:00Z&to=2025-03-01T02:00:00Z'));
    expect(before.totals).toMatchObject({ listMicros: '622917', discountMicros: '0', promotions: [] });
    expect(after.totals).toMatchObject({ listMicros: '1121250', discountMicros: '336375', promotions: ['spring'] });
    // The ledger entry: exact meters.
    const [entry] = await h.store.listLedgerEntries({ taskId: t.id });
    expect(entry).toMatchObject({ gpuMilliMs: 500n * 70n * BigInt(MIN), chargedAmount: 1_407_792n, to: T0 + 70 * MIN });
  });

  it('members see only their tenant’s usage; asking for another is refused', async () => {
    const a = await tenant('team-a');
    await tenant('team-b');
    expect((await as(a, 'GET', '/v1/usage?tenant=team-b')).status).toBe(403);
    expect((await ok(as(a, 'GET', '/v1/usage'))).rows).toEqual([]);
    expect((await as(a, 'POST', '/v1/prices', { model: 'H100', price: 1 })).status).toBe(403);
    expect((await as(a, 'POST', '/v1/promotions', { name: 'x', discount: '10%', from: '2025-03-01', to: '2025-03-02' })).status).toBe(403);
    expect((await ok(as(a, 'GET', '/v1/prices'))).currency).toBe('USD');
  });

  it('dry run and quote: list price, the promotion in force, when it ends, and the estimate for the time limit', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(1));
    await agent.register();
    await ok(h.req('POST', '/v1/prices', { model: 'H100-80GB', price: '4.00' }));
    await ok(h.req('POST', '/v1/promotions', { name: 'launch', discount: '25%', from: '2025-02-01T00:00:00Z', to: '2025-03-01T01:00:00Z' }), 201);
    const res = await ok(h.req('POST', '/v1/tasks?dryRun=true', { command: 'true', resources: { gpu: 0.5 }, timeLimit: '2h' }));
    // 0.5 × 4.00 = 2.00/h; 1 h at 1.50 (25% off), then 1 h at 2.00.
    expect(res.quote).toEqual({
      gpuModel: 'H100-80GB',
      gpuMilli: 500,
      gpuCount: 1,
      currency: 'USD',
      unitPrice: 4,
      listPerHour: 2,
      listPerHourExact: '2.000000',
      promotion: { name: 'launch', discount: '25%', endsAt: '2025-03-01T01:00:00.000Z', pricePerHour: 1.5, pricePerHourExact: '1.500000', budgetLeft: null },
      estimate: { timeLimitMs: 7_200_000, listAmount: 4, discountAmount: 0.5, chargedAmount: 3.5, chargedExact: '3.500000' },
    });
    expect((await ok(h.req('POST', '/v1/quote', { command: 'true', resources: { gpu: 1 } }))).quote).toMatchObject({ listPerHour: 4, estimate: null });
    const promos = await ok(h.req('GET', '/v1/promotions'));
    expect(promos.promotions.map((p: any) => [p.name, p.status])).toEqual([['launch', 'active']]);
  });

  it('a vGPU reservation pays for its slice from placement to release, through a restart; tasks inside it pay no GPU time', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(1));
    await agent.register();
    await ok(h.req('POST', '/v1/prices', { model: 'H100', price: '2.00' }));
    const a = await tenant('team-a');
    const vg = await ok(as(a, 'POST', '/v1/vgpus', { gpu: 0.5 }), 201);
    await h.server.control.settle();
    expect((await ok(as(a, 'GET', `/v1/vgpus/${vg.id}`))).state).toBe('ACTIVE');

    // Idle for 30 min, then a task inside it for 30 min, a restart, 60 min idle, then released.
    h.clock.advance(30 * MIN);
    const dry = await ok(as(a, 'POST', '/v1/tasks?dryRun=true', { command: 'true', vgpu: vg.id }));
    expect(dry.quote).toBeNull(); // the reservation pays for the slice
    const t = await submitAs(a, { command: 'true', vgpu: vg.id });
    await agent.pollAndStart();
    h.clock.advance(30 * MIN);
    await agent.exit(t.id, 1, 0);
    await h.restart();
    await agent.register();
    h.clock.advance(60 * MIN);
    expect((await as(a, 'DELETE', `/v1/vgpus/${vg.id}`)).status).toBe(200);
    await h.server.control.settle();
    expect(h.server.control.billing.openEntries()).toEqual([]);

    // 2 h of half an H100 at 2.00/h: 2.00. The task's own entry meters no GPU and costs nothing.
    const report = await ok(as(a, 'GET', '/v1/usage'));
    expect(report.rows).toEqual([expect.objectContaining({ tenant: 'team-a', taskId: vg.id, gpuModel: 'H100-80GB', gpuSeconds: 3600, chargedAmount: 2 })]);
    const [taskEntry] = await h.store.listLedgerEntries({ taskId: t.id });
    expect(taskEntry).toMatchObject({ gpuModel: null, gpuCount: 0, gpuMilliMs: 0n, chargedAmount: 0n, to: T0 + 60 * MIN });
    const [vgEntry] = await h.store.listLedgerEntries({ taskId: vg.id });
    expect(vgEntry).toMatchObject({ tenant: 'team-a', attempt: 1, gpuMilli: 500, from: T0, to: T0 + 120 * MIN, gpuMilliMs: 500n * 120n * BigInt(MIN), chargedAmount: 2_000_000n });
  });

  it('a reservation whose node is lost stops paying until it is placed again', async () => {
    const first = new FakeAgent(h, 'node-a', h100s(1));
    await first.register();
    await ok(h.req('POST', '/v1/prices', { model: 'H100', price: '1.00' }));
    const vg = await ok(h.req('POST', '/v1/vgpus', { gpu: 1 }), 201);
    await h.server.control.settle();
    h.clock.advance(60 * MIN);
    await h.server.control.detectLostNodes(); // node-a's heartbeats stopped an hour ago
    expect((await ok(h.req('GET', `/v1/vgpus/${vg.id}`))).state).toBe('PENDING');
    h.clock.advance(60 * MIN); // nowhere to go for an hour
    const second = new FakeAgent(h, 'node-b', h100s(1));
    await second.register();
    await h.server.control.settle();
    expect((await ok(h.req('GET', `/v1/vgpus/${vg.id}`))).state).toBe('ACTIVE');
    h.clock.advance(30 * MIN);
    expect((await h.req('DELETE', `/v1/vgpus/${vg.id}`)).status).toBe(200);
    await h.server.control.settle();
    const entries = await h.store.listLedgerEntries({ taskId: vg.id });
    expect(entries.map((e) => [e.attempt, e.from - T0, e.to! - T0, e.chargedAmount])).toEqual([
      [1, 0, 60 * MIN, 1_000_000n],
      [2, 120 * MIN, 150 * MIN, 500_000n],
    ]);
  });

  it('a price change settles running usage at the old price first', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(1));
    await agent.register();
    await ok(h.req('POST', '/v1/prices', { model: 'H100', price: '1.00' }));
    const t = await submit(h, gpuTask('x'));
    await agent.pollAndStart();
    h.clock.advance(60 * MIN);
    await ok(h.req('POST', '/v1/prices', { model: 'H100', price: '3.00' }));
    h.clock.advance(60 * MIN);
    await agent.exit(t[0].id, 1, 0);
    await h.server.control.settle();
    expect((await ok(h.req('GET', '/v1/usage'))).totals).toMatchObject({ listAmount: 4, chargedAmount: 4 });
  });
});

describe('ledger across crashes', () => {
  beforeEach(async () => {
    h = await makeHarness({ settleEveryMs: 30_000 });
    h.clock.set(T0);
  });

  it('settles every 30 s of clock time, not every tick; an attempt whose start or end never reached the ledger is reconciled on restart', async () => {
    const agent = new FakeAgent(h, 'node-a', h100s(2));
    await agent.register();
    await ok(h.req('POST', '/v1/prices', { model: 'H100', price: '3.60' }));
    const [t1] = await submit(h, gpuTask('ended-while-down'));
    await agent.pollAndStart();
    // Not every tick: 10 s later nothing is settled yet; 30 s later it is.
    h.clock.advance(10_000);
    h.server.control.tick();
    await h.server.control.settle();
    expect((await h.store.listLedgerEntries({ taskId: t1.id }))[0]).toMatchObject({ settledTo: T0 });
    h.clock.advance(20_000);
    await agent.heartbeat();
    h.server.control.tick();
    await h.server.control.settle();
    expect((await h.store.listLedgerEntries({ taskId: t1.id }))[0]).toMatchObject({ settledTo: T0 + 30_000 });

    // A second task whose ledger entry cannot be opened (the write fails), and the first one's
    // close fails too: the attempts are recorded, the ledger is behind.
    const realOpen = h.store.openLedgerEntry.bind(h.store);
    const realSettle = h.store.settleLedger.bind(h.store);
    h.store.openLedgerEntry = async () => {
      throw new Error('disk full');
    };
    const [t2] = await submit(h, gpuTask('start-never-metered'));
    await agent.pollAndStart();
    h.clock.advance(30 * MIN);
    await agent.heartbeat();
    h.store.settleLedger = async () => {
      throw new Error('disk full');
    };
    await agent.exit(t1.id, 1, 0);
    await h.server.control.settle();
    h.store.openLedgerEntry = realOpen;
    h.store.settleLedger = realSettle;
    expect((await h.store.listLedgerEntries({ taskId: t1.id }))[0]!.to).toBeNull();
    expect(await h.store.listLedgerEntries({ taskId: t2.id })).toEqual([]);

    await h.restart();
    await agent.register();
    await h.server.control.settle();
    const [e1] = await h.store.listLedgerEntries({ taskId: t1.id });
    const [e2] = await h.store.listLedgerEntries({ taskId: t2.id });
    // t1 closed at its recorded end (30.5 min): 3.60/h × 30.5 min = 1.83; t2 open from its start.
    expect(e1).toMatchObject({ to: T0 + 30 * MIN + 30_000, chargedAmount: 1_830_000n });
    expect(e2).toMatchObject({ to: null, from: T0 + 30_000 });
    h.clock.advance(10 * MIN);
    await agent.heartbeat();
    await agent.exit(t2.id, 1, 0);
    await h.server.control.settle();
    // t2 ran 40 min: 2.40. Totals add up: 1.83 + 2.40 = 4.23, whatever the crashes.
    const report = await ok(h.req('GET', '/v1/usage'));
    expect(report.rows.map((r: any) => [r.taskId, r.chargedMicros])).toEqual(
      [
        [t1.id, '1830000'],
        [t2.id, '2400000'],
      ].sort((x, y) => (x[0]! < y[0]! ? -1 : 1)),
    );
    expect(report.totals.chargedMicros).toBe('4230000');
  });
});

describe('budgets', () => {
  it('an exhausted budget refuses new tasks (Budget); running ones continue by default, stop under budgetPolicy stop', async () => {
    h = await makeHarness({ settleEveryMs: 60_000 });
    h.clock.set(T0);
    const agent = new FakeAgent(h, 'node-a', h100s(1));
    await agent.register();
    await ok(h.req('POST', '/v1/prices', { model: 'H100', price: '6.00' }));
    const a = await tenant('thrifty', { budget: '1.00' });
    const t1 = await submitAs(a, gpuTask('one'));
    await agent.pollAndStart();
    const queued = await submitAs(a, gpuTask('queued'));
    expect((await taskState(h, queued.id)).reason).toBe('Resources');
    // 6.00/h: 1.00 after 10 minutes.
    for (let m = 0; m < 11; m++) {
      h.clock.advance(MIN);
      await agent.heartbeat();
      h.server.control.tick();
      await h.server.control.settle();
    }
    expect(h.server.control.billing.spendOf('thrifty')).toBe(1_100_000n);
    const refused = await as(a, 'POST', '/v1/tasks', gpuTask('two'));
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toBe('Budget: tenant thrifty has spent 1.10 USD of its 1.00 USD budget; new tasks are refused until the budget is raised');
    expect((await taskState(h, t1.id)).state).toBe('RUNNING');
    // Tasks queued before the budget ran out wait with reason Budget.
    await h.server.control.runCycle();
    expect(await taskState(h, queued.id)).toMatchObject({ state: 'PENDING', reason: 'Budget', reasonMessage: 'tenant thrifty has spent 1.10 USD of its 1.00 USD budget' });

    await ok(h.req('POST', '/v1/billing/settings', { budgetPolicy: 'stop' }));
    h.server.control.tick();
    await h.server.control.settle();
    const hb = await agent.heartbeat();
    expect(hb.stop.map((s) => [s.taskId, s.reason])).toEqual([[t1.id, 'cancelled']]);
  });
});

describe('budgets by period', () => {
  it('a monthly budget counts this month’s spend only, and starts again on the 1st (UTC), a running task’s usage split at midnight', async () => {
    h = await makeHarness({ settleEveryMs: 60_000 });
    h.clock.set(Date.UTC(2025, 2, 31, 22, 0)); // 31 March, 22:00 UTC
    const agent = new FakeAgent(h, 'node-a', h100s(1));
    await agent.register();
    await ok(h.req('POST', '/v1/prices', { model: 'H100', price: '1.00' }));
    expect(await ok(h.req('POST', '/v1/billing/settings', { budgetPeriod: 'month' }))).toEqual({ budgetPolicy: 'continue', budgetPeriod: 'month' });
    const a = await tenant('monthly', { budget: '1.50' });
    const t1 = await submitAs(a, { name: 'long', command: ['sleep', '1'], resources: { gpu: 1 } });
    await agent.pollAndStart();
    const tick = async (minutes: number): Promise<void> => {
      for (let m = 0; m < minutes; m++) {
        h.clock.advance(MIN);
        await agent.heartbeat();
        h.server.control.tick();
        await h.server.control.settle();
      }
    };
    await tick(100); // 23:40: 1.67 spent in March
    const refused = await as(a, 'POST', '/v1/tasks', gpuTask('more'));
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toBe(
      'Budget: tenant monthly has spent 1.67 USD of its 1.50 USD budget this month (it starts again at 2025-04-01T00:00:00.000Z); new tasks are refused until the budget starts again or is raised',
    );
    await tick(50); // 00:30 on 1 April: the budget starts again; the running task has used 0.50 of April
    expect(h.server.control.billing.spendOf('monthly')).toBe(500_000n);
    expect((await as(a, 'POST', '/v1/tasks', { ...gpuTask('april'), resources: { gpu: 0.5 } })).status).toBe(201);
    // A restart reads April's spend again from the ledger, the line across midnight clipped.
    await agent.exit(t1.id, 1, 0);
    await h.restart();
    expect(h.server.control.billing.budgetPeriod).toBe('month');
    expect(h.server.control.billing.spendOf('monthly')).toBe(500_000n);
    // All-time usage is untouched: 2.5 h at 1.00/h.
    expect((await ok(h.req('GET', '/v1/usage?tenant=monthly'))).totals).toMatchObject({ chargedAmount: 2.5 });
    // Back to all time: everything counts again.
    await ok(h.req('POST', '/v1/billing/settings', { budgetPeriod: 'all' }));
    expect(h.server.control.billing.spendOf('monthly')).toBe(2_500_000n);
  });

  it('refuses settings it does not know, and an empty change', async () => {
    h = await makeHarness();
    const bad = await h.req('POST', '/v1/billing/settings', { budgetPeriod: 'year' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('budgetPeriod');
    const empty = await h.req('POST', '/v1/billing/settings', {});
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toContain('give budgetPolicy, budgetPeriod or both');
    expect(await ok(h.req('GET', '/v1/billing/settings'))).toEqual({ budgetPolicy: 'continue', budgetPeriod: 'all' });
  });
});

describe('metrics', () => {
  it('quota use, borrowed capacity, spend and active promotions', async () => {
    h = await makeHarness();
    h.clock.set(T0);
    const agent = new FakeAgent(h, 'node-a', h100s(2));
    await agent.register();
    await ok(h.req('POST', '/v1/prices', { model: 'H100', price: '3.60' }));
    await ok(h.req('POST', '/v1/promotions', { name: 'now', discount: '10%', from: '2025-02-01T00:00:00Z', to: '2025-04-01T00:00:00Z' }), 201);
    const a = await tenant('team-a', { limit: 2 });
    await tenant('team-b', { guarantee: 1 });
    await submitAs(a, gpuTask('x'));
    await agent.pollAndStart();
    h.clock.advance(60 * MIN);
    await h.server.control.billing.settleNow();
    const text = (await h.req('GET', '/metrics')).raw;
    expect(text).toMatch(/fastgpu_tenant_gpu_milli\{tenant="team-a"\} 1000/);
    expect(text).toMatch(/fastgpu_tenant_limit_milli\{tenant="team-a"\} 2000/);
    expect(text).toMatch(/fastgpu_tenant_guarantee_milli\{tenant="team-b"\} 1000/);
    expect(text).toMatch(/fastgpu_tenant_borrowed_milli\{tenant="team-a"\} 1000/);
    expect(text).toMatch(/fastgpu_tenant_spend\{tenant="team-a"\} 3\.24/);
    expect(text).toMatch(/fastgpu_promotions_active 1/);
    expect(text).toMatch(/fastgpu_promotion_active\{promotion="now"\} 1/);
  });
});
