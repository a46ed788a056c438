// The "Done when", through the CLI on `fastgpu up --gpus 1xH100`: fractions share one
// GPU two at a time, impossible requests are refused at submit, malformed specs name the field,
// and a `kill -9` of `up` loses and repeats nothing. Plus the runnable vGPU example.
import { execFile } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GpuView, TaskView } from '../../src/sdk/index.js';
import { ROOT, World, lines, requireBuild, until } from './harness.js';

/** Generous: the 2-core machine these run on is often shared and loaded. */
const TIMEOUT_MS = 120_000;

let world: World;
beforeAll(requireBuild);
afterEach(async () => world?.cleanup());

/** A task that logs its start and end (with a clock in ms) and waits for `gate` to exist. */
function gatedTask(log: string, gate: string): string[] {
  const stamp = 'date +%s%3N';
  return ['sh', '-c', `echo "start $FASTGPU_TASK_ID $(${stamp})" >> ${log}; while [ ! -e ${gate} ]; do sleep 0.05; done; sleep 0.3; echo "end $FASTGPU_TASK_ID $(${stamp})" >> ${log}`];
}

/** Most tasks ever running at once, from start/end lines. */
function maxConcurrent(events: string[]): number {
  const parsed = events.map((l) => l.split(' ')).map(([kind, id, at]) => ({ kind: kind!, id: id!, at: Number(at) }));
  parsed.sort((a, b) => a.at - b.at || (a.kind === 'end' ? -1 : 1));
  let now = 0;
  let max = 0;
  for (const e of parsed) {
    now += e.kind === 'start' ? 1 : -1;
    max = Math.max(max, now);
  }
  return max;
}

describe('fastgpu up --gpus 1xH100', () => {
  it('runs four --gpu 0.5 tasks two at a time on the one GPU; the other two wait for Resources', async () => {
    world = new World();
    const { daemon } = await world.up(['--gpus', '1xH100', '--quiet']);
    expect(daemon.output).toMatch(/using 1 simulated GPU \(1xH100-80GB\) from --gpus 1xH100/);
    const log = join(world.home, 'events.log');
    const gate = join(world.home, 'gate');
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await world.cli(['run', '--detach', '--gpu', '0.5', '--name', `half-${i}`, '--', ...gatedTask(log, gate)]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      ids.push(r.stdout.trim());
    }
    expect(ids.every((id) => /^\S+$/.test(id))).toBe(true);

    // Poll cheaply through the SDK; the gate holds the state still for the CLI checks below.
    const client = world.client();
    await until('two tasks running and two waiting', async () => {
      const list = await client.tasks.list();
      const running = list.filter((t) => t.state === 'RUNNING');
      const waiting = list.filter((t) => t.state === 'PENDING' && t.reason !== null);
      return running.length === 2 && waiting.length === 2 && lines(log).length === 2 ? true : undefined;
    });
    const tasks = JSON.parse((await world.cli(['ps', '--output', 'json'])).stdout) as TaskView[];
    expect(tasks.map((t) => t.id).sort()).toEqual([...ids].sort());
    const running = tasks.filter((t) => t.state === 'RUNNING');
    const pending = tasks.filter((t) => t.state === 'PENDING');
    expect(pending).toHaveLength(2);
    for (const t of pending) expect(t.reason).toBe('Resources');
    for (const t of running) {
      expect(t.placement).toMatchObject({ gpus: [0], gpuMilli: 500 });
      expect(t.placement?.memoryMiB).toBeGreaterThan(0);
      expect(typeof t.placement?.node).toBe('string');
      expect(t).toHaveProperty('exitCode', null);
      expect(t.attempts).toBe(1);
      expect(typeof t.createdAt).toBe('string');
    }
    expect(running[0]!.placement!.node).toBe(running[1]!.placement!.node);

    const gpus = JSON.parse((await world.cli(['gpus', '--output', 'json'])).stdout) as GpuView[];
    expect(gpus).toHaveLength(1);
    expect(gpus[0]).toMatchObject({ index: 0, model: 'H100-80GB', allocatedMilli: 1000 });
    expect(gpus[0]!.slices.map((s) => s.taskId).sort()).toEqual(running.map((t) => t.id).sort());
    expect((await world.cli(['gpus'])).stdout).toMatch(/H100-80GB\s+80 GiB\s+simulated\s+1 GPU/);

    writeFileSync(gate, '');
    for (const id of ids) {
      const w = await world.cli(['wait', id]);
      expect(w.stdout).toMatch(new RegExp(`^${id} SUCCEEDED exit 0`));
      expect(w.code).toBe(0);
    }
    const events = lines(log);
    expect(events).toHaveLength(8);
    expect(maxConcurrent(events)).toBe(2);
  }, TIMEOUT_MS);

  it('refuses --gpu 2 at submit, names the field of a malformed spec, and streams a run to its exit code', async () => {
    world = new World();
    const { url } = await world.up(['--gpus', '1xH100', '--quiet']);
    expect(statSync(join(world.home, 'config.json')).mode & 0o777).toBe(0o600);
    const again = world.start(['up', '--port', new URL(url).port, '--data-dir', join(world.home, 'other'), '--gpus', '1xH100', '--quiet']);
    expect(await again.result()).toMatchObject({ exit: 1 });
    expect(again.output).toMatch(/^fastgpu: port \d+ on 127\.0\.0\.1 is already in use/m);

    const two = await world.cli(['run', '--gpu', '2', '--', 'true']);
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/^fastgpu: .*2 GPUs.*largest node has 1/);

    const spec = join(world.home, 'bad.yaml');
    writeFileSync(spec, 'command: [echo, hi]\nresources:\n  gpu: -0.5\n');
    const bad = await world.cli(['submit', spec]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^fastgpu: .*resources\.gpu/);
    expect(JSON.parse((await world.cli(['ps', '--all', '--output', 'json'])).stdout)).toEqual([]);

    const run = await world.cli(['run', '--gpu', '0.5', '--', 'sh', '-c', 'echo "out $FASTGPU_GPU_MILLI"; echo oops >&2; exit 7']);
    expect(run.stdout).toBe('out 500\n');
    expect(run.stderr).toBe('oops\n');
    expect(run.code).toBe(7);
  }, TIMEOUT_MS);

  it('after a kill -9 of up and a restart, every task completes exactly once', async () => {
    world = new World();
    const first = await world.up(['--gpus', '1xH100', '--quiet']);
    const ran = join(world.home, 'ran.log');
    const spec = join(world.home, 'tasks.yaml');
    // Six half-GPU tasks of ~1 s: two run while up dies, four are still queued.
    const docs = Array.from({ length: 6 }, (_, i) =>
      `name: t${i}\ncommand: 'echo "$FASTGPU_TASK_ID $FASTGPU_ATTEMPT" >> ${ran}; sleep 1'\nresources: {gpu: 0.5}\n`,
    );
    writeFileSync(spec, docs.join('---\n'));
    const sub = await world.cli(['submit', spec]);
    expect(sub.code).toBe(0);
    const ids = sub.stdout.trim().split('\n');
    expect(ids).toHaveLength(6);

    await until('a task running', () => (lines(ran).length >= 1 ? true : undefined));
    await first.daemon.kill9();
    await world.up(['--gpus', '1xH100', '--quiet']);

    for (const id of ids) {
      const w = await world.cli(['wait', id, '--timeout', '60s'], { timeoutMs: 70_000 });
      expect(w.stdout).toMatch(/SUCCEEDED exit 0/);
    }
    const runs = lines(ran);
    expect(runs.map((l) => l.split(' ')[0]).sort()).toEqual([...ids].sort());
    // Each ran as its task's last attempt; an earlier one is there only if it never started
    // (up was killed while launching it).
    const tasks = JSON.parse((await world.cli(['ps', '--all', '--output', 'json'])).stdout) as TaskView[];
    const attemptOf = new Map(tasks.map((t) => [t.id, t.attempts]));
    expect(runs.filter((l) => Number(l.split(' ')[1]) !== attemptOf.get(l.split(' ')[0]!))).toEqual([]);
  }, TIMEOUT_MS);

  it('runs examples/vgpu.ts (a 20-TFLOPS vGPU, three tasks, wait, delete), and vgpu create/ls/rm through the CLI', async () => {
    world = new World();
    await world.up(['--gpus', '1xH100', '--quiet']);
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'examples', 'vgpu.ts')], {
      cwd: ROOT,
      env: world.env,
      timeout: 60_000,
    });
    expect(stdout).toMatch(/^reserved vGPU \S+/);
    expect(stdout.match(/: SUCCEEDED, exit 0: task \d: GPU 0, \d+ milli-GPU/g)).toHaveLength(3);
    expect(stdout).toMatch(/released vGPU \S+\n$/);
    const vgpus = JSON.parse((await world.cli(['vgpu', 'ls', '--output', 'json'])).stdout) as { state: string }[];
    expect(vgpus.every((v) => v.state === 'RELEASED')).toBe(true);

    // The same through the CLI: reserve half the GPU, run inside it, see the slice, release it.
    const created = await world.cli(['vgpu', 'create', '--gpu', '0.5', '--name', 'half']);
    expect(created.code).toBe(0);
    const vgpu = created.stdout.trim();
    const inside = await world.cli(['run', '--vgpu', vgpu, '--', 'sh', '-c', 'echo "inside $FASTGPU_GPU_MILLI"']);
    expect(inside).toMatchObject({ code: 0, stdout: 'inside 500\n' });
    expect((await world.cli(['vgpu', 'ls'])).stdout).toMatch(new RegExp(`${vgpu}\\s+half\\s+ACTIVE\\s+\\S+\\s+0\\s+0\\.5`));
    const gpus = JSON.parse((await world.cli(['gpus', '--output', 'json'])).stdout) as GpuView[];
    expect(gpus[0]!.slices).toEqual([expect.objectContaining({ vgpuId: vgpu, milli: 500 })]);
    expect((await world.cli(['vgpu', 'rm', vgpu])).stdout).toBe(`${vgpu} RELEASED\n`);
  }, TIMEOUT_MS);
});
