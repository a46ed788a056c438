// `fastgpu up --sharing mps` on a machine that looks like an H100 node (recorded nvidia-smi and
// the fake MPS control program on PATH): the agent runs the control daemon with its own pipe and
// log folders, tasks get their slice's caps and that pipe folder, the node view reports the
// daemon's health, a daemon that dies is started again, and stopping FastGPU stops it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, World, requireBuild, until } from './harness.js';

const FIXTURES = join(ROOT, 'src', 'agent', 'fixtures');
const PATH = `${join(FIXTURES, 'smi-h100')}:${FIXTURES}:${process.env.PATH ?? ''}`;

let world: World;
beforeAll(requireBuild);
afterEach(async () => world?.cleanup());

function alive(pid: number): boolean {
  try {
    return !/\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('fastgpu up --sharing mps', () => {
  it('runs the MPS daemon, caps each slice, reports and restarts the daemon, stops it on exit', async () => {
    world = new World();
    const up = world.start(['up', '--port', '0', '--data-dir', world.dataDir, '--sharing', 'mps', '--name', 'h100box'], { PATH });
    await up.waitFor(/FastGPU is up at (http:\/\/\S+)/, 30_000);
    const pipeDir = join(world.dataDir, 'agent', 'mps', 'pipe');
    expect(up.output).toContain(`mps: control daemon answering on ${pipeDir}`);
    const pidFile = join(pipeDir, 'nvidia-cuda-mps-control.pid');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(pid)).toBe(true);

    const run = await world.cli(['run', '--gpu', '0.25', '--gpu-memory', '20GiB', '--', 'sh', '-c', 'env | grep -E "^CUDA_" | sort'], { env: { PATH } });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('CUDA_VISIBLE_DEVICES=GPU-3f2b6c1e-9d84-5a27-b1c0-7e4d2a96f851\n');
    expect(run.stdout).toContain(`CUDA_MPS_PIPE_DIRECTORY=${pipeDir}\n`);
    expect(run.stdout).toContain(`CUDA_MPS_LOG_DIRECTORY=${join(world.dataDir, 'agent', 'mps', 'log')}\n`);
    expect(run.stdout).toContain('CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25\n');
    expect(run.stdout).toContain('CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=20480M\n');

    const client = world.client();
    const node = await until('the node to report MPS health', async () => (await client.nodes()).find((n) => n.name === 'h100box' && n.mps !== null && n.mps !== undefined));
    expect(node.gpus).toEqual([{ index: 0, uuid: 'GPU-3f2b6c1e-9d84-5a27-b1c0-7e4d2a96f851', model: 'H100-80GB', memoryMiB: 81559, tflops: 989, sharing: 'mps' }]);
    expect(node.mps).toMatchObject({ state: 'ok', restarts: 0 });

    // The daemon dies: the agent starts it again and the node says so.
    process.kill(pid, 'SIGKILL');
    const after = await until('the node to report a restarted daemon', async () => {
      const n = (await client.nodes()).find((x) => x.name === 'h100box');
      const mps = n?.mps as { state: string; restarts: number } | null | undefined;
      return mps && mps.restarts >= 1 && mps.state === 'ok' ? mps : undefined;
    });
    expect(after.restarts).toBe(1);
    const pid2 = Number(readFileSync(pidFile, 'utf8'));
    expect(pid2).not.toBe(pid);
    expect(alive(pid2)).toBe(true);

    // No task runs: stopping FastGPU tells the daemon to quit.
    up.child.kill('SIGTERM');
    await up.exited;
    expect(alive(pid2)).toBe(false);
    expect(readFileSync(join(world.dataDir, 'agent', 'mps', 'log', 'control.log'), 'utf8')).toContain('quit');
  });
});
