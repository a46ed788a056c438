// The live server's workload estimate: fed every accepted submit, stored, and resumed after a
// restart, so that a restart in the middle of a trace does not change what `default` places next.
import { afterEach, describe, expect, it } from 'vitest';
import { FakeAgent, h100s, makeHarness, submit, type Harness } from './testing.js';
import { SERVER_MAX_SHAPES, WORKLOAD_META } from './workload.js';

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

/**
 * A small drifting trace: whole GPUs, pairs and fours first (most of which end), then fractions of
 * several sizes; what the fractions should leave whole depends on the mix seen before.
 */
const TRACE = Array.from({ length: 60 }, (_, i) => {
  const gpu = i < 30 ? [1, 2, 4, 1, 2][i % 5]! : [0.25, 0.5, 0.3, 0.75, 0.1, 0.6][i % 6]!;
  return { name: `t${i}`, command: ['true'], resources: { gpu, cpu: 1 + (i % 4) }, ends: i < 30 ? i % 4 !== 0 : i % 5 === 0 };
});

/**
 * Runs TRACE on four nodes (8, 4, 2, 8 GPUs); with `restartAt`, restarts the server before that submit (the
 * agents re-register, as real ones do). Returns where each task went, and the estimate seen right
 * before and after the restart.
 */
async function run(restartAt: number | null, dropStored = false): Promise<{ placed: string[]; before?: unknown; after?: unknown }> {
  const h = await makeHarness();
  open.push(h);
  const agents = (
    [
      ['n1', 8],
      ['n2', 4],
      ['n3', 2],
      ['n4', 8],
    ] as const
  ).map(([n, g]) => new FakeAgent(h, n, h100s(g, `GPU-${n}`)));
  for (const a of agents) await a.register();
  const placed: string[] = [];
  const out: { placed: string[]; before?: unknown; after?: unknown } = { placed };
  for (let i = 0; i < TRACE.length; i++) {
    if (i === restartAt) {
      out.before = h.server.control.workload?.current();
      if (dropStored) await h.store.setMeta(WORKLOAD_META, '');
      await h.restart();
      for (const a of agents) await a.register();
      out.after = h.server.control.workload?.current();
    }
    const { ends, ...spec } = TRACE[i]!;
    const [t] = await submit(h, spec);
    let where = 'pending';
    for (const a of agents) {
      for (const asg of await a.pollAndStart()) {
        where = `${a.name}:${asg.placement.gpus.join('+')}`;
        if (ends) await a.exit(asg.taskId, asg.attempt, 0);
      }
    }
    await h.server.control.settle();
    expect(t.id).toBeDefined();
    placed.push(`${spec.name}@${where}`);
  }
  return out;
}

describe('the pool workload estimate across restarts', () => {
  it('a restart mid-trace changes no placement after it, and resumes the very same estimate', async () => {
    const straight = await run(null);
    const restarted = await run(30);
    expect(restarted.after).toEqual(restarted.before);
    expect(restarted.before).toBeDefined();
    expect(restarted.placed).toEqual(straight.placed);
    // The trace did place work, on more than one node (the check is not vacuous).
    expect(new Set(straight.placed.map((p) => p.split('@')[1]!.split(':')[0])).size).toBeGreaterThan(1);
  }, 60_000);

  it('without the stored row the restarted server plans from nothing (what the row is for)', async () => {
    const r = await run(30, true);
    expect(r.before).toBeDefined();
    expect(r.after).toBeUndefined();
    const straight = await run(null);
    expect(r.placed, 'placements with the estimate lost').not.toEqual(straight.placed);
  }, 60_000);

  it('stores a bounded row: at most SERVER_MAX_SHAPES shapes, whatever the number of submits', async () => {
    const h = await makeHarness();
    open.push(h);
    await new FakeAgent(h, 'n1', h100s(1)).register();
    // 1,100 distinct CPU sizes: more shapes than the bound.
    for (let i = 0; i < 1100; i += 50) {
      const batch = Array.from({ length: 50 }, (_, k) => h.req('POST', '/v1/tasks', { name: `c${i + k}`, command: ['true'], resources: { gpu: 0, cpu: `${100 + i + k}m` } }));
      for (const r of await Promise.all(batch)) expect(r.status).toBe(201);
    }
    await h.server.control.settle();
    const row = JSON.parse((await h.store.getMeta(WORKLOAD_META))!) as { state: { total: number; shapes: unknown[] } };
    expect(row.state.total).toBe(1100);
    expect(row.state.shapes.length).toBe(SERVER_MAX_SHAPES);
    expect(h.server.control.workload?.size).toBe(SERVER_MAX_SHAPES);
  }, 60_000);
});
