// The fault suite (issue 9): real `fastgpu server` and `fastgpu agent` processes, paused with
// SIGSTOP, killed with kill -9, doubled under one name. What must hold: a task never runs twice
// at the same time, a task that finished is never run again, a paused server judges no node
// before reading its waiting heartbeats, and a second agent cannot take a node's name.
// The lease timings are in faults-harness.ts, with the helpers both fault files share.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agent, cluster, joined, nodeIs, pause, resume, running, stateDir, stateOf, submit, TIMEOUT_MS } from './faults-harness.js';
import { World, lines, requireBuild, sleep, until } from './harness.js';

let world: World;
beforeAll(requireBuild);
afterEach(async () => world?.cleanup());

describe('faults', () => {
  it('an agent paused past its lease: its task is fenced before it runs elsewhere (never two copies), and an exit recorded while paused wins', async () => {
    world = new World();
    const c = await cluster(world, ['--node-lost-after', '8s']);
    const a = await joined(c, 'node-a');
    const ticks = join(world.home, 'ticks');
    // Writes "<attempt> <ms>" every 100 ms while it runs.
    const long = await submit(c, 1, '0.5', `while :; do echo "$FASTGPU_ATTEMPT $(date +%s%3N)" >> ${ticks}; sleep 0.1; done`);
    // Exits 0 once told to, which happens while its agent is paused.
    const go = join(world.home, 'go');
    const quick = await submit(c, 0, '0.5', `while [ ! -e ${go} ]; do sleep 0.1; done; exit 0`);
    await running(c, long);
    await running(c, quick);
    await joined(c, 'node-b');

    pause(a);
    const pausedAt = Date.now();
    writeFileSync(go, '');
    // The server declares node-a LOST and runs attempt 2 on node-b.
    await until('attempt 2 on node-b', async () => {
      const t = await c.client.tasks.get(long);
      return t.attempts === 2 && t.state === 'RUNNING' && t.placement?.node === 'node-b' ? t : undefined;
    }, 60_000, 200);
    await until('attempt 2 ticking', () => (lines(ticks).some((l) => l.startsWith('2 ')) ? true : undefined));
    // Keep it paused a while longer: a copy that survived would tick now.
    await until('12 s paused', () => (Date.now() - pausedAt > 12_000 ? true : undefined), 30_000, 200);
    resume(a);
    await nodeIs(c, 'node-a', 'READY');
    await until('the quick task to settle', async () => ((await stateOf(c, quick)) === 'SUCCEEDED' ? true : undefined), 20_000, 200);

    const t = lines(ticks).map((l) => l.split(' ').map(Number) as [number, number]);
    const lastOf1 = Math.max(...t.filter(([att]) => att === 1).map(([, ms]) => ms));
    const firstOf2 = Math.min(...t.filter(([att]) => att === 2).map(([, ms]) => ms));
    // Never two copies at once: attempt 1 was fenced (its last tick) before attempt 2 started.
    expect(lastOf1).toBeLessThan(firstOf2);
    const detail = await c.client.tasks.get(long);
    expect(detail.history[0]?.outcome).toBe('LOST');
    // The quick task (retries 0) exited 0 while its agent was paused: SUCCEEDED, not "node lost".
    const q = await c.client.tasks.get(quick);
    expect(q.state).toBe('SUCCEEDED');
    expect(q.exitCode).toBe(0);
    expect(readFileSync(join(stateDir(c, 'node-a'), 'tasks', long, '1', 'exit'), 'utf8')).toMatch(/fenced=1/);
  }, TIMEOUT_MS);

  it('a paused server marks no node LOST on resume: it reads the heartbeats waiting in its socket first', async () => {
    world = new World();
    const c = await cluster(world, ['--node-lost-after', '8s']);
    await joined(c, 'node-a');
    const quick = await submit(c, 0, '0.5', 'sleep 2; exit 0');
    await running(c, quick);
    pause(c.server);
    // Longer than the lease: the old server declared every node LOST on its first tick.
    await sleep(10_000);
    resume(c.server);
    await until('the quick task to settle', async () => {
      const s = await stateOf(c, quick);
      return s === 'RUNNING' ? undefined : s;
    }, 30_000, 200);
    // The exit its supervisor recorded during the pause is read before anyone is judged.
    expect(await stateOf(c, quick)).toBe('SUCCEEDED');
    await until('a heartbeat after the resume', async () => {
      const n = (await c.client.nodes()).find((x) => x.name === 'node-a');
      return n && Date.parse(String(n.lastHeartbeatAt)) > Date.now() - 1_500 ? n : undefined;
    }, 20_000, 200);
    expect((await c.client.nodes()).map((n) => [n.name, n.state])).toEqual([['node-a', 'READY']]);
    expect(c.server.output).not.toMatch(/LOST/);
    expect(c.server.output).toMatch(/did not run for \d+ ms .*leases extended/);
  }, TIMEOUT_MS);

  it('two agents, one name: the second is refused with a clear message and launches nothing', async () => {
    world = new World();
    const c = await cluster(world);
    await joined(c, 'gpu-1');
    const twin = agent(c, 'gpu-1', stateDir(c, 'gpu-1', 2));
    const said = await twin.waitFor(/joined|node name gpu-1 is held by another agent[^\n]*/, 60_000);
    expect(said[0]).toMatch(/held by another agent .*its own --name/);
    expect(await twin.exited).not.toBe(0);
    const ids = [await submit(c, 0, '1', 'true'), await submit(c, 0, '1', 'true')];
    for (const id of ids) await until(`${id} done`, async () => ((await stateOf(c, id)) === 'SUCCEEDED' ? true : undefined));
    // The twin launched nothing: its state dir holds no attempt.
    expect(existsSync(join(stateDir(c, 'gpu-1', 2), 'tasks')) ? readdirSync(join(stateDir(c, 'gpu-1', 2), 'tasks')) : []).toEqual([]);
    expect((await c.client.nodes()).map((n) => n.name)).toEqual(['gpu-1']);
  }, TIMEOUT_MS);
});
