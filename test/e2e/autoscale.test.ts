// `fastgpu up --autoscale local:max=…`: a task nothing can take makes the autoscaler start a node
// (a real agent process), the task runs there, and the empty node is drained and given back.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../../src/sdk/index.js';
import { World, requireBuild, until } from './harness.js';

const TIMEOUT_MS = 120_000;
let world: World;
beforeAll(requireBuild);
afterEach(async () => world?.cleanup());

describe('fastgpu up --autoscale local', () => {
  it('scales out for a waiting task, runs it on the new node, then drains and gives the node back', async () => {
    world = new World();
    const { daemon } = await world.up(['--gpus', '1xH100', '--autoscale', 'local:max=2,gpus=1xH100,cpus=2,memory=4GiB', '--scale-after', '1s', '--idle-timeout', '3s', '--scale-cooldown', '1s']);
    const client = world.client();
    // The local node's one GPU is taken by a long task; the second whole-GPU task has no room.
    const blocker = await world.cli(['run', '--detach', '--gpu', '1', '--', 'sleep', '60']);
    expect(blocker.code, blocker.stderr).toBe(0);
    await until('blocker running', async () => ((await client.tasks.get(blocker.stdout.trim())).state === 'RUNNING' ? true : undefined));
    const second = await world.cli(['run', '--detach', '--gpu', '1', '--', 'sh', '-c', 'echo "ran on $FASTGPU_NODE"']);
    const id = second.stdout.trim();

    const done = await until('the second task ran', async () => {
      const t: TaskView = await client.tasks.get(id);
      return t.state === 'SUCCEEDED' ? t : undefined;
    }, TIMEOUT_MS);
    expect(done.placement?.node).toMatch(/^local-[0-9a-f]{6}$/);
    const history = [];
    for await (const e of client.tasks.eventHistory(id)) history.push(e);
    const reasons = history.filter((e) => e.type === 'task.pending').map((e) => e.data.reason);
    // It waited for room, then for the node being started for it.
    expect(reasons).toEqual(['Resources', 'ScalingUp']);

    // Idle past the timeout: drained, then given back; its agent process is gone.
    const lent = done.placement!.node;
    const released = await until('the lent node released', async () => {
      const n = (await client.nodes()).find((x) => x.name === lent);
      return n?.labels?.['fastgpu.io/lifecycle'] === 'released' ? n : undefined;
    }, TIMEOUT_MS);
    expect(released.labels?.['fastgpu.io/provider']).toBe('local');
    const nodes = await world.cli(['nodes']);
    expect(nodes.stdout).toMatch(new RegExp(`${lent}\\s+\\S+\\s+RELEASED\\s+local \\(released\\)`));
    expect(daemon.output).toMatch(new RegExp(`autoscaler: asked local for a 1xH100 node \\(\\d+, ${lent}\\): 1 task\\(s\\) waited over 1 s for room \\(${id}\\)`));
    expect(daemon.output).toMatch(new RegExp(`autoscaler: draining ${lent}: idle for \\d+ s \\(idle timeout 3 s\\)`));
    expect(daemon.output).toMatch(new RegExp(`autoscaler: gave ${lent} back to local: drained and empty`));
    // The hand-started node was never touched.
    expect((await client.nodes()).find((x) => x.name !== lent)?.state).toBe('READY');
    // Stopping `up` stops every agent its provider started (none is left behind).
    daemon.child.kill('SIGINT');
    await daemon.exited;
    const { execFileSync } = await import('node:child_process');
    const left = execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => l.includes(`${world.dataDir}/autoscale/`));
    expect(left).toEqual([]);
  }, TIMEOUT_MS * 2);

  it('refuses a bad --autoscale before starting anything', async () => {
    world = new World();
    const r = await world.cli(['up', '--port', '0', '--data-dir', world.dataDir, '--autoscale', 'local:max=2,gpus=1xNope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--autoscale: gpus: expected COUNTxMODEL such as 1xH100, got "1xNope"/);
    const r2 = await world.cli(['up', '--port', '0', '--data-dir', world.dataDir, '--autoscale', 'slurm:max=2,colour=blue']);
    expect(r2.stderr).toMatch(/--autoscale: slurm takes max, min, partition, account, time, gpu-model, price, simulated-gpus; unknown key "colour"/);
  });
});
