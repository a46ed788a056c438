import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAgent, type RunningAgent } from './main.js';
import { startHttpFake, type HttpFake } from './fixtures/http-fake-server.js';
import { alive, assignment, tempDir, waitFor, killTasks } from './fixtures/helpers.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

let state: ReturnType<typeof tempDir>;
let http: HttpFake;
const running: RunningAgent[] = [];
const children: ChildProcess[] = [];

beforeEach(async () => {
  state = tempDir();
  http = await startHttpFake();
});
afterEach(async () => {
  for (const a of running.splice(0)) await a.stop();
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await http.close();
  killTasks(state.dir);
  expect(http.fake.violations).toEqual([]);
  state.cleanup();
});

async function start(over: Partial<Parameters<typeof startAgent>[0]> = {}): Promise<RunningAgent> {
  const a = await startAgent({ serverUrl: http.url, token: http.token, stateDir: state.dir, name: 'box', ...over });
  running.push(a);
  return a;
}

describe('startAgent over HTTP', () => {
  it('registers real GPUs found by nvidia-smi and runs a task end to end', async () => {
    const agent = await start({ nvidiaSmi: fixture('nvidia-smi'), cpuMilli: 8000, memoryMiB: 16384 });
    expect(agent.simulated).toBe(false);
    expect(agent.gpus.map((g) => g.model)).toEqual(['H100-80GB', 'H100-80GB', 'NVIDIA GeForce GTX 1080 Ti']);
    expect(agent.nodeId).toBe(http.fake.nodeId);
    expect(http.fake.registers[0]).toMatchObject({ name: 'box', cpuMilli: 8000, memoryMiB: 16384, simulated: false, labels: { 'fastgpu.io/gpu-metrics': 'nvidia-smi' } });
    const a = assignment(['sh', '-c', 'echo "$CUDA_VISIBLE_DEVICES"'], {
      placement: { nodeId: agent.nodeId, node: 'box', gpus: [1], gpuUuids: ['GPU-9b8e7d6c-5a4b-3c2d-1e0f-a1b2c3d4e5f6'], gpuMilli: 1000, memoryMiB: 81559, cpuMilli: 0, hostMemoryMiB: 0, sharing: 'exclusive' },
    });
    http.fake.assign(a);
    expect(await waitFor(() => http.fake.exitOf(a.taskId))).toMatchObject({ exitCode: 0 });
    expect(http.fake.text(a.taskId, 'stdout')).toBe('GPU-9b8e7d6c-5a4b-3c2d-1e0f-a1b2c3d4e5f6\n');
  });

  it('uses the default simulated GPUs when there are none, and refuses a bad token', async () => {
    const agent = await start({ nvidiaSmi: fixture('nvidia-smi-failing') });
    expect(agent.simulated).toBe(true);
    expect(agent.gpus.map((g) => g.uuid)).toEqual(['GPU-sim-box-0', 'GPU-sim-box-1']);
    await expect(startAgent({ serverUrl: http.url, token: 'wrong', stateDir: state.dir, gpus: '1xT4' })).rejects.toThrow(/401 bad token/);
    await expect(startAgent({ serverUrl: 'nope', token: 't', stateDir: state.dir })).rejects.toThrow(/serverUrl/);
    await expect(startAgent({ serverUrl: http.url, token: 't', stateDir: state.dir, gpus: '2xNOPE' })).rejects.toThrow(/unknown GPU model/);
  });

  it('waits for a server that is not up yet', async () => {
    await http.close();
    const logs: string[] = [];
    const starting = start({ gpus: '1xH100', log: (l) => logs.push(l) });
    await waitFor(() => logs.some((l) => l.includes('register failed')), 5000);
    expect(logs.find((l) => l.includes('register failed'))).toMatch(/cannot reach/);
    await http.listen();
    const agent = await starting;
    expect(agent.nodeId).toBe(http.fake.nodeId);
  });

  it('a task outlives kill -9 of its agent and a new agent reports what happened', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture('agent-process.ts'), http.url, http.token, state.dir], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await waitFor(() => out.includes('ready'), 30_000, `agent process to start (stderr: ${err})`);

    const a = assignment(['sh', '-c', 'echo started; sleep 1; echo finished; exit 4']);
    http.fake.assign(a);
    await waitFor(() => http.fake.text(a.taskId, 'stdout') === 'started\n', 10_000, 'task output');
    const pidFile = join(state.dir, 'tasks', a.taskId, '1', 'pid');
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'));
    const [pgid, supervisor] = readFileSync(pidFile, 'utf8').split(' ').map(Number);

    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(alive(pgid!)).toBe(true);
    expect(alive(supervisor!)).toBe(true);

    const exitFile = join(state.dir, 'tasks', a.taskId, '1', 'exit');
    await waitFor(() => existsSync(exitFile), 10_000, 'the exit file');
    expect(readFileSync(exitFile, 'utf8')).toMatch(/^status=4\n/);
    expect(http.fake.exitOf(a.taskId)).toBeUndefined();

    // A new agent on the same state dir: re-attached, not relaunched; exit and last logs reported.
    await start({ gpus: '1xH100', name: 'crashy' });
    expect(await waitFor(() => http.fake.exitOf(a.taskId))).toMatchObject({ exitCode: 4, endReason: 'exit' });
    expect(http.fake.text(a.taskId, 'stdout')).toBe('started\nfinished\n');
    expect(http.fake.reports.filter((r) => r.taskId === a.taskId && r.status === 'running')).toHaveLength(1);
  });
});
