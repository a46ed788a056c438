// The "Reliability", with `fastgpu server` and `fastgpu agent` as separate processes:
// kill -9 of either while 200 tasks are queued or running loses nothing and runs nothing twice;
// an agent gone for good has its tasks LOST within a bounded time and retried elsewhere.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FastGPU, type TaskDetail, type TaskView } from '../../src/sdk/index.js';
import { GiveUp, World, lines, requireBuild, until, type Daemon } from './harness.js';

/** Generous: the 2-core machine these run on is often shared and loaded. */
const TIMEOUT_MS = 120_000;

let world: World;
beforeAll(requireBuild);
afterEach(async () => world?.cleanup());

interface Cluster {
  url: string;
  port: string;
  token: string;
  server: Daemon;
  client: FastGPU;
  env: NodeJS.ProcessEnv;
}

async function startServer(extra: string[] = [], port = '0'): Promise<{ server: Daemon; url: string; port: string }> {
  const server = world.start(['server', '--port', port, '--data-dir', world.dataDir, '--quiet', ...extra]);
  const url = (await server.waitFor(/listening at (http:\/\/\S+)/))[1]!;
  return { server, url, port: new URL(url).port };
}

async function cluster(extra: string[] = []): Promise<Cluster> {
  const { server, url, port } = await startServer(extra);
  const token = readFileSync(join(world.dataDir, 'admin.token'), 'utf8').trim();
  return { url, port, token, server, client: new FastGPU({ url, token }), env: { FASTGPU_URL: url, FASTGPU_TOKEN: token } };
}

async function startAgent(c: Cluster, name: string, gpus: string): Promise<Daemon> {
  const agent = world.start(['agent', '--server', c.url, '--token', c.token, '--gpus', gpus, '--name', name, '--state-dir', join(world.home, `agent-${name}`), '--quiet']);
  await agent.waitFor(/joined/);
  return agent;
}

describe('reliability', () => {
  it('kill -9 of the server, then of the agent, with 200 tasks queued or running: all complete, none runs twice', async () => {
    world = new World();
    const c = await cluster();
    let agent = await startAgent(c, 'node-a', '4xH100');
    const runs = join(world.home, 'runs.log');
    const spec = join(world.home, 'many.yaml');
    const one = (i: number): string =>
      `name: r${i}\ncommand: 'echo "$FASTGPU_TASK_ID $FASTGPU_ATTEMPT" >> ${runs}; sleep 0.2'\nresources: {gpu: 0.25, cpu: 10m, memory: 16MiB}\n`;
    writeFileSync(spec, Array.from({ length: 200 }, (_, i) => one(i)).join('---\n'));
    const sub = await world.cli(['submit', spec], { env: c.env, timeoutMs: 60_000 });
    expect(sub.stderr).toBe('');
    const ids = sub.stdout.trim().split('\n');
    expect(new Set(ids).size).toBe(200);

    await until('20 tasks run', () => (lines(runs).length >= 20 ? true : undefined));
    await c.server.kill9();
    const restarted = await startServer([], c.port);
    c.server = restarted.server;

    await until('80 tasks run', () => (lines(runs).length >= 80 ? true : undefined), 60_000);
    await agent.kill9();
    agent = await startAgent(c, 'node-a', '4xH100');

    let summary = '';
    const finished = await until<TaskView[]>(
      'the queue to drain',
      async () => {
        const all = await c.client.tasks.list({ all: true, limit: 1000 });
        const byState: Record<string, number> = {};
        for (const t of all) byState[t.state] = (byState[t.state] ?? 0) + 1;
        summary = `${JSON.stringify(byState)}, ${lines(runs).length} runs`;
        const bad = all.find((t) => t.state === 'FAILED' || t.state === 'CANCELLED' || t.state === 'TIMEOUT');
        if (bad) throw new GiveUp(`task ended ${bad.state}: ${JSON.stringify(await c.client.tasks.get(bad.id))}`);
        return all.length === 200 && all.every((t) => t.state === 'SUCCEEDED') ? all : undefined;
      },
      150_000,
      500,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}; last seen: ${summary}`);
    });
    expect(finished.map((t) => t.id).sort()).toEqual([...ids].sort());
    expect(finished.every((t: TaskView) => t.exitCode === 0)).toBe(true);
    // Each task's process ran once, as its last attempt. An earlier attempt is allowed only if it
    // never started (the agent was killed between claiming it and starting its process).
    const ran = lines(runs);
    expect(ran).toHaveLength(200);
    expect(new Set(ran.map((l) => l.split(' ')[0])).size).toBe(200);
    const attemptOf = new Map(finished.map((t) => [t.id, t.attempts]));
    expect(ran.filter((l) => Number(l.split(' ')[1]) !== attemptOf.get(l.split(' ')[0]!))).toEqual([]);
    for (const t of finished.filter((x) => x.attempts > 1)) {
      const d = await c.client.tasks.get(t.id);
      expect(d.history.slice(0, -1).map((a) => [a.outcome, a.startedAt])).toEqual(Array.from({ length: t.attempts - 1 }, () => ['LOST', null]));
    }
  }, 2.5 * TIMEOUT_MS);

  it("an agent stopped for good: its tasks become LOST within the bound and are retried on the other node", async () => {
    world = new World();
    // A 4 s lease: fenced 3 s after the last renewal, so a loaded CI box does not fence by mistake.
    const c = await cluster(['--node-lost-after', '4s']);
    const a = await startAgent(c, 'node-a', '1xH100');
    const log = join(world.home, 'lost.log');
    // Each attempt runs until the test opens the gate: on a loaded box the second agent may take
    // many seconds to start, and a task that had ended by then would prove nothing.
    const gate = join(world.home, 'lost.gate');
    const cmd = ['sh', '-c', `echo "$FASTGPU_TASK_ID $FASTGPU_NODE $FASTGPU_ATTEMPT" >> ${log}; while [ ! -e ${gate} ]; do sleep 0.05; done`];
    const submit = async (retries: string): Promise<string> => {
      const r = await world.cli(['run', '-d', '--gpu', '0.5', '--cpu', '10m', '--retries', retries, '--', ...cmd], { env: c.env });
      expect(r.code).toBe(0);
      return r.stdout.trim();
    };
    const retried = await submit('1');
    const doomed = await submit('0');
    await until('both running on node-a', () => (lines(log).length === 2 ? true : undefined));
    await startAgent(c, 'node-b', '1xH100');

    await a.kill9();
    // LOST once the lease ran out, never before: judged on the server's own clock (the time the
    // attempt ended LOST against node-a's last heartbeat). A stalled server may take longer.
    await until('the first attempt to be LOST', async () => ((await c.client.tasks.get(retried)).history[0]?.outcome === 'LOST' ? true : undefined), 30_000, 100);
    const lostAt = Date.parse(String((await c.client.tasks.get(retried)).history[0]!.endedAt));
    const lastBeat = Date.parse(String((await c.client.nodes()).find((n) => n.name === 'node-a')!.lastHeartbeatAt));
    expect(lostAt - lastBeat).toBeGreaterThanOrEqual(4_000);
    const moved = await until(
      'the task to run again on node-b',
      async () => {
        const t = await c.client.tasks.get(retried);
        return t.state === 'RUNNING' && t.placement?.node === 'node-b' ? t : undefined;
      },
      60_000,
      200,
    );
    expect(moved.attempts).toBe(2);
    expect(moved.history.map((h) => [h.attempt, h.outcome])).toEqual([
      [1, 'LOST'],
      [2, null],
    ]);
    const gone: TaskDetail = await c.client.tasks.get(doomed);
    expect(gone.state).toBe('FAILED');
    expect(gone.history[0]?.outcome).toBe('LOST');
    expect(gone.reasonMessage).toMatch(/node lost/);

    writeFileSync(gate, '');
    const done = await c.client.tasks.wait(retried, { timeoutMs: 30_000 });
    expect(done.state).toBe('SUCCEEDED');
    expect(lines(log).filter((l) => l.startsWith(`${retried} node-b 2`))).toHaveLength(1);
  }, TIMEOUT_MS);
});
