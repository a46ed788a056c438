// The fault suite (issue 9): real `fastgpu server` and `fastgpu agent` processes, paused with
// SIGSTOP, killed with kill -9, doubled under one name. What must hold: a task never runs twice
// at the same time, a task that finished is never run again, a paused server judges no node
// before reading its waiting heartbeats, and a second agent cannot take a node's name.
// Short leases keep it within CI's minutes: with --node-lost-after 8s an agent heartbeats every
// second, its tasks are fenced 6 s after the last renewal (SIGKILL at 7 s), LOST comes at 8 s.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FastGPU } from '../../src/sdk/index.js';
import { World, lines, requireBuild, sleep, until, type Daemon } from './harness.js';

const TIMEOUT_MS = 120_000;

let world: World;
beforeAll(requireBuild);
afterEach(async () => world?.cleanup());

interface Cluster {
  url: string;
  token: string;
  server: Daemon;
  client: FastGPU;
  env: NodeJS.ProcessEnv;
}

async function cluster(extra: string[] = []): Promise<Cluster> {
  const server = world.start(['server', '--port', '0', '--data-dir', world.dataDir, ...extra]);
  const url = (await server.waitFor(/listening at (http:\/\/\S+)/))[1]!;
  const token = readFileSync(join(world.dataDir, 'admin.token'), 'utf8').trim();
  return { url, token, server, client: new FastGPU({ url, token }), env: { FASTGPU_URL: url, FASTGPU_TOKEN: token } };
}

const stateDir = (name: string, n = 1): string => join(world.home, `agent-${name}-${n}`);

function agent(c: Cluster, name: string, dir = stateDir(name)): Daemon {
  return world.start(['agent', '--server', c.url, '--token', c.token, '--gpus', '1xH100', '--name', name, '--state-dir', dir]);
}

async function joined(c: Cluster, name: string, dir?: string): Promise<Daemon> {
  const a = agent(c, name, dir);
  await a.waitFor(/joined/);
  return a;
}

/** `fastgpu run -d`: the task id. */
async function submit(c: Cluster, retries: number, gpu: string, script: string): Promise<string> {
  const r = await world.cli(['run', '-d', '--gpu', gpu, '--cpu', '10m', '--memory', '16MiB', '--retries', String(retries), '--', 'sh', '-c', script], { env: c.env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

const stateOf = async (c: Cluster, id: string): Promise<string> => (await c.client.tasks.get(id)).state;
const running = (c: Cluster, id: string): Promise<boolean> => until(`${id} running`, async () => ((await stateOf(c, id)) === 'RUNNING' ? true : undefined), 60_000, 100);

function pause(d: Daemon): void {
  d.child.kill('SIGSTOP');
}
function resume(d: Daemon): void {
  d.child.kill('SIGCONT');
}

describe('faults', () => {
  it('an agent paused past its lease: its task is fenced before it runs elsewhere (never two copies), and an exit recorded while paused wins', async () => {
    world = new World();
    const c = await cluster(['--node-lost-after', '8s']);
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
    await until('node-a READY again', async () => ((await c.client.nodes()).find((n) => n.name === 'node-a')?.state === 'READY' ? true : undefined), 30_000, 200);
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
    expect(readFileSync(join(stateDir('node-a'), 'tasks', long, '1', 'exit'), 'utf8')).toMatch(/fenced=1/);
  }, TIMEOUT_MS);

  it('a paused server marks no node LOST on resume: it reads the heartbeats waiting in its socket first', async () => {
    world = new World();
    const c = await cluster(['--node-lost-after', '8s']);
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
    const c = await cluster();
    await joined(c, 'gpu-1');
    const twin = agent(c, 'gpu-1', stateDir('gpu-1', 2));
    const said = await twin.waitFor(/joined|node name gpu-1 is held by another agent[^\n]*/, 60_000);
    expect(said[0]).toMatch(/held by another agent .*its own --name/);
    expect(await twin.exited).not.toBe(0);
    const ids = [await submit(c, 0, '1', 'true'), await submit(c, 0, '1', 'true')];
    for (const id of ids) await until(`${id} done`, async () => ((await stateOf(c, id)) === 'SUCCEEDED' ? true : undefined));
    // The twin launched nothing: its state dir holds no attempt.
    expect(existsSync(join(stateDir('gpu-1', 2), 'tasks')) ? readdirSync(join(stateDir('gpu-1', 2), 'tasks')) : []).toEqual([]);
    expect((await c.client.nodes()).map((n) => n.name)).toEqual(['gpu-1']);
  }, TIMEOUT_MS);
});
