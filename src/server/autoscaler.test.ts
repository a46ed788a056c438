// The autoscaler's loop in the server, under a ManualClock and a provider in memory: when it
// wakes, what it asks the provider for, and how a lent node's agent is told to join.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProviderOffer } from '../core/autoscale/types.js';
import type { PoolEvent } from '../core/types.js';
import { Autoscaler, type AutoscalerOptions } from './autoscaler.js';
import type { AgentLaunch, NodeProvider, ProvidedNode } from './providers/types.js';
import { FakeAgent, makeHarness, submit, type Harness } from './testing.js';

/** A provider that starts nothing: it records what it was asked and lists it back. */
class MemoryProvider implements NodeProvider {
  readonly name = 'mem';
  readonly asked: { shape: string; launch: AgentLaunch }[] = [];
  readonly nodes = new Map<string, ProvidedNode>();
  readonly released: string[] = [];
  offers(): Promise<ProviderOffer[]> {
    return Promise.resolve([{ provider: this.name, shape: 'a100x1', gpuModel: 'A100-80GB', gpuCount: 1, gpuMemoryMiB: 80 * 1024, gpuTflops: 312, cpuMilli: 4000, memoryMiB: 16_384 }]);
  }
  request(shape: string, launch: AgentLaunch): Promise<ProvidedNode> {
    this.asked.push({ shape, launch });
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
    launch: (nodeName) => ({ nodeName, args: ['agent', '--name', nodeName], env: { FASTGPU_TOKEN: 'x' } }),
    priceBook: () => h.server.control.billing.pricing.book,
    ...opts,
  });
  scaler = s;
  return s;
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

  it('asks for nothing while the pool can place what is submitted', async () => {
    const s = start();
    await s.tick();
    s.start();
    await submit(h, { name: 'a', command: ['true'], resources: { gpu: 1 } });
    await h.clock.advanceAsync(10_000);
    expect(provider.asked).toEqual([]);
  });
});
