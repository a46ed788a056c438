// The autoscaler's loop in the server, under a ManualClock and a provider in memory: when it
// wakes, what it asks the provider for, and how a lent node's agent is told to join.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProviderOffer } from '../core/autoscale/types.js';
import type { PoolEvent } from '../core/types.js';
import { AGENT_PROTOCOL_VERSION } from '../protocol/version.js';
import { JoinTokenAccess } from './autoscale-join.js';
import { Autoscaler, type AutoscalerOptions } from './autoscaler.js';
import { JoinService } from './join.js';
import type { AgentLaunch, NodeProvider, ProvidedNode } from './providers/types.js';
import { FakeAgent, makeHarness, submit, type Harness } from './testing.js';

/** A provider that starts nothing: it records what it was asked and lists it back. */
class MemoryProvider implements NodeProvider {
  readonly name = 'mem';
  readonly asked: { shape: string; launch: AgentLaunch }[] = [];
  readonly nodes = new Map<string, ProvidedNode>();
  readonly released: string[] = [];
  /** Set to make the next request fail as a provider's command would. */
  failNext: Error | null = null;
  offers(): Promise<ProviderOffer[]> {
    return Promise.resolve([{ provider: this.name, shape: 'a100x1', gpuModel: 'A100-80GB', gpuCount: 1, gpuMemoryMiB: 80 * 1024, gpuTflops: 312, cpuMilli: 4000, memoryMiB: 16_384 }]);
  }
  request(shape: string, launch: AgentLaunch): Promise<ProvidedNode> {
    this.asked.push({ shape, launch });
    const fail = this.failNext;
    this.failNext = null;
    if (fail) return Promise.reject(fail);
    const n: ProvidedNode = { id: String(this.asked.length), provider: this.name, shape, nodeName: launch.nodeName, state: 'pending', detail: 'asked' };
    this.nodes.set(n.id, n);
    return Promise.resolve({ ...n });
  }
  list(): Promise<ProvidedNode[]> {
    return Promise.resolve([...this.nodes.values()].map((n) => ({ ...n })));
  }
  release(id: string): Promise<void> {
    this.released.push(id);
    const n = this.nodes.get(id);
    if (n) n.state = 'ended';
    return Promise.resolve();
  }
}

let h: Harness;
let provider: MemoryProvider;
let scaler: Autoscaler | undefined;
const events: PoolEvent[] = [];

beforeEach(async () => {
  h = await makeHarness();
  provider = new MemoryProvider();
  events.length = 0;
  h.server.control.subscribe((e) => events.push(e));
  // The pool's own node has an H100; the tasks below ask for an A100, which only the provider has.
  await new FakeAgent(h).register();
});
afterEach(async () => {
  await scaler?.stop();
  scaler = undefined;
  await h.close();
});

/** Resolves once `cond` holds, checked at every turn of the event loop (an event, not a sleep). */
async function eventually(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}

function start(opts: Partial<AutoscalerOptions> = {}): Autoscaler {
  const s = new Autoscaler({
    control: h.server.control,
    provider,
    // An interval far longer than the test: any pass it sees came from a wake-up.
    intervalMs: 3_600_000,
    policy: { pendingThresholdMs: 2_000, idleTimeoutMs: 60_000, cooldownMs: 0, maxNodes: { mem: 2 }, minNodes: {} },
    launch: (nodeName) => ({ nodeName, args: ['agent', '--name', nodeName], env: { FASTGPU_MARK: 'kept' } }),
    priceBook: () => h.server.control.billing.pricing.book,
    access: new JoinTokenAccess({ join: new JoinService(h.store, h.clock), store: h.store, clock: h.clock, ttlMs: 600_000, invalidate: () => h.server.auth.invalidate() }),
    ...opts,
  });
  scaler = s;
  return s;
}

/** Starts the loop and submits a task only the provider's node holds; resolves once it asked for one. */
async function askedForOne(): Promise<{ s: Autoscaler; shape: string; launch: AgentLaunch }> {
  const s = start();
  await s.tick();
  s.start();
  await submit(h, { name: 'a', command: ['true'], resources: { gpu: 'A100-80GB:1' } });
  await h.clock.advanceAsync(2_000);
  await eventually(() => provider.asked.length === 1 && events.some((e) => e.type === 'autoscale.requested'));
  return { s, ...provider.asked[0]! };
}

describe('the autoscaler loop', () => {
  it('wakes the moment a waiting task crosses the threshold, not at its next interval', async () => {
    const s = start();
    await s.tick(); // reads the offers, so submit accepts a task only the provider's shape holds
    s.start();
    const [t] = await submit(h, { name: 'a', command: ['true'], resources: { gpu: 'A100-80GB:1' } });
    expect(events.find((e) => e.type === 'task.pending' && e.taskId === t.id)?.data.reason).toBe('Resources');

    await h.clock.advanceAsync(1_999);
    expect(provider.asked).toEqual([]);
    await h.clock.advanceAsync(1);
    await eventually(() => events.some((e) => e.type === 'autoscale.requested'));
    expect(provider.asked.map((a) => a.shape)).toEqual(['a100x1']);
    const requested = events.find((e) => e.type === 'autoscale.requested')!;
    expect(requested.data).toEqual(expect.objectContaining({ provider: 'mem', providerId: '1', shape: 'a100x1', tasks: [t.id], requestMs: 0 }));
    expect(requested.at).toBe(h.clock.now());
  });

  it('asks for a gang whole or not at all: no nodes for part of a gang it could not run', async () => {
    // One A100 per provider node, two nodes at most: a gang of 3 cannot be served, a gang of 2 can.
    const s = start();
    await s.tick();
    s.start();
    await submit(h, { name: 'big', command: ['true'], gang: 3, resources: { gpu: 'A100-80GB:1' } });
    await h.clock.advanceAsync(2_000);
    await s.tick(); // the gang has waited past the threshold: the pass that would ask
    expect(provider.asked).toEqual([]);
    // A gang it can serve, submitted beside it, is served.
    await submit(h, { name: 'pair', command: ['true'], gang: 2, resources: { gpu: 'A100-80GB:1' } });
    await h.clock.advanceAsync(2_000);
    await eventually(() => provider.asked.length === 2);
  });

  it('a gang neither the pool nor any provider shape holds at once is refused at submit, and says why', async () => {
    const s = start();
    await s.tick(); // the offers are known: A100 nodes only; the pool has one H100
    const res = await h.req('POST', '/v1/tasks', { name: 'h100s', command: ['true'], gang: 2, resources: { gpu: 'H100-80GB:1' } });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'UNSCHEDULABLE', field: 'gang', message: 'a gang of 2 must run all at once, but an empty pool holds at most 1 of them' });
  });

  it('a gang only provider nodes hold is accepted, and gets a node for each member', async () => {
    const s = start();
    await s.tick();
    s.start();
    await submit(h, { name: 'pair', command: ['true'], gang: 2, resources: { gpu: 'A100-80GB:1' } });
    await h.clock.advanceAsync(2_000);
    await eventually(() => provider.asked.length === 2 && events.filter((e) => e.type === 'autoscale.requested').length === 2);
  });

  it('asks for nothing while the pool can place what is submitted', async () => {
    const s = start();
    await s.tick();
    s.start();
    await submit(h, { name: 'a', command: ['true'], resources: { gpu: 1 } });
    await h.clock.advanceAsync(10_000);
    expect(provider.asked).toEqual([]);
  });
});

describe('lent nodes join with a join token of their own', () => {
  const join = (joinToken: string, name: string) => h.req('POST', '/v1/agent/join', { joinToken, name, agentVersion: 'test', protocolVersion: AGENT_PROTOCOL_VERSION }, { authorization: '' });

  it('a single-use token, labelled with its provider, living as long as the join timeout; traded for a credential that dies with the node', async () => {
    const { launch } = await askedForOne();
    // The launch's own environment is kept; the only secret added is the node's join token.
    expect(Object.keys(launch.env).sort()).toEqual(['FASTGPU_JOIN_TOKEN', 'FASTGPU_MARK']);
    const token = launch.env.FASTGPU_JOIN_TOKEN!;
    expect(token).toMatch(/^fgj_/);
    const [record] = await h.store.listJoinTokens();
    expect(record).toEqual(expect.objectContaining({ maxUses: 1, uses: 0, labels: { 'fastgpu.io/provider': 'mem' }, revokedAt: null }));
    expect(record!.expiresAt - record!.createdAt).toBe(600_000);

    const joined = await join(token, launch.nodeName);
    expect(joined.status, joined.raw).toBe(200);
    expect(joined.body).toEqual(expect.objectContaining({ node: launch.nodeName, labels: { 'fastgpu.io/provider': 'mem' } }));
    const credential = joined.body.credential as string;
    await expect(h.server.auth.authenticate(`Bearer ${credential}`)).resolves.toEqual(expect.objectContaining({ role: 'agent', node: launch.nodeName }));
    // Single use: the token a job script held is worth nothing once its agent joined.
    const again = await join(token, 'someone-else');
    expect(again.status).toBe(401);
    expect(again.body.error.message).toMatch(/join token used up/);

    // The provider says the node ended (a job cancelled from outside): its credential stops working.
    provider.nodes.get('1')!.state = 'ended';
    await scaler!.tick();
    await expect(h.server.auth.authenticate(`Bearer ${credential}`)).rejects.toThrow(`node credential of ${launch.nodeName} revoked`);
  });

  it('a token whose node never came (the request failed, or the node ended before joining) is revoked', async () => {
    provider.failNext = new Error('sbatch: error: Batch job submission failed');
    const s = start();
    await s.tick();
    s.start();
    await submit(h, { name: 'a', command: ['true'], resources: { gpu: 'A100-80GB:1' } });
    await h.clock.advanceAsync(2_000);
    await eventually(() => provider.asked.length === 1);
    await eventually(() => s.getStatus().lastError !== null);
    expect(s.getStatus().lastError).toMatch(/Batch job submission failed/);
    const [failed] = await h.store.listJoinTokens();
    expect(failed?.revokedAt).not.toBeNull();
    expect((await join(provider.asked[0]!.launch.env.FASTGPU_JOIN_TOKEN!, 'x')).body.error.message).toMatch(/join token revoked/);

    // The next pass asks again; this node ends before its agent joined: its token dies with it.
    await s.tick();
    expect(provider.asked).toHaveLength(2);
    provider.nodes.get('2')!.state = 'ended';
    await s.tick();
    expect((await join(provider.asked[1]!.launch.env.FASTGPU_JOIN_TOKEN!, 'y')).body.error.message).toMatch(/join token revoked/);
  });
});

describe('lent nodes in the store', () => {
  it('records each node asked for, when it joined and when it ended, for node-hours by provider', async () => {
    const { s, launch } = await askedForOne();
    const asked = h.clock.now();
    const name = launch.nodeName;
    const row = { provider: 'mem', providerId: '1', nodeName: name, shape: 'a100x1', requestedAt: asked, joinedAt: null, drainingAt: null, releasedAt: null, releaseReason: null };
    // No price in the offer: the price book's A100 price per GPU-hour, for its one GPU.
    const [saved] = await h.store.listLentNodes();
    expect(saved).toEqual({ ...row, hourlyMicros: expect.any(BigInt) });
    const hourly = saved!.hourlyMicros;

    await h.clock.advanceAsync(3_000);
    provider.nodes.get('1')!.state = 'running';
    const agent = new FakeAgent(h, name);
    await agent.register();
    const joinedAt = h.clock.now();
    await s.tick();
    expect(await h.store.listLentNodes()).toEqual([{ ...row, hourlyMicros: hourly, joinedAt }]);

    await h.clock.advanceAsync(60_000);
    provider.nodes.get('1')!.state = 'ended';
    provider.nodes.get('1')!.detail = 'CANCELLED by 0';
    await s.tick();
    const [first, second] = await h.store.listLentNodes();
    expect(first).toEqual({ ...row, hourlyMicros: hourly, joinedAt, releasedAt: h.clock.now(), releaseReason: 'ended: CANCELLED by 0' });
    // The task still waits (the fake agent has no A100): the same pass asked for another node.
    expect(second).toEqual(expect.objectContaining({ providerId: '2', requestedAt: h.clock.now(), joinedAt: null }));
  });
});

describe('warm headroom in the server', () => {
  const basePolicy = { pendingThresholdMs: 2_000, idleTimeoutMs: 60_000, cooldownMs: 0, maxNodes: { mem: 2 }, minNodes: {} };

  it('counts the idle GPUs of the pool’s own nodes, and asks for a node the moment a task takes the last one', async () => {
    const s = start({ policy: { ...basePolicy, headroom: { spareGpus: 1, forecastFactor: 0, forecastWindowMs: 60_000 } } });
    await s.tick();
    // The hand-started node's idle H100 is the one spare GPU: nothing to ask for.
    expect(provider.asked).toEqual([]);
    s.start();
    await submit(h, { name: 'busy', command: ['sleep', '60'], resources: { gpu: 1 } });
    // Its submission wakes the loop a second later; no task waits, yet the spare GPU is gone.
    await h.clock.advanceAsync(1_000);
    await eventually(() => provider.asked.length === 1);
    const requested = events.find((e) => e.type === 'autoscale.requested')!;
    expect(requested.data).toEqual(expect.objectContaining({ tasks: [], reason: 'warm headroom: room kept ready for 1 spare GPU(s)' }));
  });

  it('scales ahead on arrivals, and serves a waiting task without the threshold while the headroom is short', async () => {
    const s = start({ policy: { ...basePolicy, headroom: { spareGpus: 0, forecastFactor: 1, forecastWindowMs: 60_000 } } });
    await s.tick();
    s.start();
    const [t] = await submit(h, { name: 'a', command: ['true'], resources: { gpu: 'A100-80GB:1' } });
    // One second in (of a 2 s threshold): a node for the task, and one for the room the forecast keeps.
    await h.clock.advanceAsync(1_000);
    await eventually(() => provider.asked.length === 2);
    const reasons = events.filter((e) => e.type === 'autoscale.requested').map((e) => [e.data.tasks, e.data.reason]);
    expect(reasons).toEqual([
      [[t!.id], expect.stringMatching(/waited over 0 s for room \(the warm headroom is short\)/)],
      [[], 'warm headroom: room kept ready for 1 × the 1 task(s) (1 GPU(s)) that arrived in the last 60 s'],
    ]);
  });
});
