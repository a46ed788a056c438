// A node's MPS health (issue 23): the agent sends it with each heartbeat, the node view shows
// it as last reported, nodes that send none show null, and a malformed report is refused.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeAgent, makeHarness, type Harness } from './testing.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => h.close());

const beat = (agent: FakeAgent, mps?: unknown) =>
  h.req('POST', '/v1/agent/heartbeat', { nodeId: agent.nodeId, tasks: [], samples: [], ...(mps !== undefined ? { mps } : {}) }, agent.headers());

describe('MPS health in the node view', () => {
  it('is null until reported, then the latest report with when the server heard it', async () => {
    const agent = new FakeAgent(h, 'mps-node');
    await agent.register();
    const node = async () => (await h.req('GET', '/v1/nodes')).body.nodes.find((n: { name: string }) => n.name === 'mps-node');
    expect((await node()).mps).toBeNull();

    expect((await beat(agent, { state: 'ok', restarts: 0, lastOkAt: h.clock.now() })).status).toBe(200);
    expect((await node()).mps).toEqual({ state: 'ok', restarts: 0, lastOkAt: new Date(h.clock.now()).toISOString(), reportedAt: new Date(h.clock.now()).toISOString() });

    h.clock.advance(5_000);
    await beat(agent, { state: 'down', detail: 'does not answer (exit 1); restarting it', restarts: 1, lastOkAt: h.clock.now() - 5_000 });
    expect((await node()).mps).toMatchObject({ state: 'down', detail: 'does not answer (exit 1); restarting it', restarts: 1, reportedAt: new Date(h.clock.now()).toISOString() });
    // A heartbeat without a report keeps the last one (an agent of an older version sends none).
    await beat(agent);
    expect((await node()).mps).toMatchObject({ state: 'down', restarts: 1 });
  });

  it('refuses a malformed report, naming the field', async () => {
    const agent = new FakeAgent(h, 'mps-node');
    await agent.register();
    for (const bad of [{ state: 'fine', restarts: 0 }, { state: 'ok', restarts: -1 }, { state: 'ok', restarts: 0, detail: 'x'.repeat(1001) }, { state: 'ok', restarts: 0, extra: 1 }]) {
      const res = await beat(agent, bad);
      expect(res.status).toBe(400);
      expect(res.raw).toMatch(/mps/);
    }
  });
});
