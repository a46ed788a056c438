// Against a real Slurm 22.05 cluster with fake GPUs that scripts/slurm-up.sh starts on this
// machine (loopback only): the slurm provider on its own, then `fastgpu up --autoscale slurm`
// end to end (a waiting task makes an sbatch, the agent job joins and runs it, the idle node's job
// is cancelled; a job killed from outside has its tasks requeued and run elsewhere).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { SlurmProvider } from '../../src/server/providers/slurm.js';
import { ProviderError, type ProvidedNode } from '../../src/server/providers/types.js';
import type { NodeView, TaskView } from '../../src/sdk/index.js';
import type { JoinTokenView } from '../../src/protocol/join.js';
import { ROOT, World, requireBuild, until } from './harness.js';

const SLURM_ROOT = join(tmpdir(), `fastgpu-slurm-e2e`);
const sh = promisify(execFile);

beforeAll(async () => {
  requireBuild();
  // Starts (and on a machine without Slurm installs) a one-node cluster; fails loudly if it cannot.
  // Asynchronously: a vitest worker blocked this long loses touch with vitest.
  await sh('bash', [join(ROOT, 'scripts', 'slurm-up.sh')], { env: { ...process.env, SLURM_ROOT }, timeout: 240_000 });
}, 300_000);

afterAll(async () => {
  await sh('bash', [join(ROOT, 'scripts', 'slurm-down.sh')], { env: { ...process.env, SLURM_ROOT }, timeout: 60_000 });
}, 60_000);

describe('on a real Slurm cluster', () => {
  let dir: string;
  let provider: SlurmProvider;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fastgpu-slurm-'));
    provider = new SlurmProvider({
      stateDir: join(dir, 'jobs'),
      poolId: `test-${process.pid}`,
      fastgpu: ['/bin/sh'],
      env: { ...process.env, SLURM_JOB_ID: '999999', SLURM_LEAK: 'from-the-server' },
      nodeHourPrice: '3.50',
    });
  });

  afterAll(async () => {
    for (const n of (await provider?.list()) ?? []) await provider.release(n.id);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** Polls squeue through the provider until `id` is in `state` (the cluster's own time; bounded). */
  async function until(id: string, state: ProvidedNode['state']): Promise<ProvidedNode> {
    for (let i = 0; i < 300; i++) {
      const n = (await provider.list()).find((x) => x.id === id);
      if (n?.state === state) return n;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`job ${id} never reached ${state}: ${JSON.stringify((await provider.list()).find((x) => x.id === id))}`);
  }

  it('offers the cluster’s node shape with its GPUs, CPUs, memory and price', async () => {
    const offers = await provider.offers();
    expect(offers).toEqual([
      {
        provider: 'slurm',
        shape: 'gpu:4xA100-80GB:8c:8000m',
        gpuModel: 'A100-80GB',
        gpuCount: 4,
        gpuMemoryMiB: 80 * 1024,
        gpuTflops: 312,
        cpuMilli: 8000,
        memoryMiB: 8000,
        hourlyMicros: 3_500_000n,
      },
    ]);
  });

  it('starts a node as a batch job, with its environment and without the server’s Slurm variables, and cancels it on release', async () => {
    const shape = (await provider.offers())[0]!.shape;
    const node = await provider.request(shape, {
      nodeName: 'n1',
      args: ['-c', 'echo "mark=$FASTGPU_MARK leak=${SLURM_LEAK:-none} gpus=$CUDA_VISIBLE_DEVICES"; exec sleep 300'],
      env: { FASTGPU_MARK: 'it works' },
    });
    expect(node).toEqual(expect.objectContaining({ provider: 'slurm', shape, nodeName: 'n1', state: 'pending' }));
    const running = await until(node.id, 'running');
    expect(running.detail).toBe('RUNNING');
    expect(statSync(join(dir, 'jobs')).mode & 0o777).toBe(0o700);

    const out = join(dir, 'jobs', `${node.id}.out`);
    const printed = (): string => (existsSync(out) ? readFileSync(out, 'utf8') : '');
    for (let i = 0; i < 200 && !printed().includes('mark='); i++) await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(out, 'utf8')).toMatch(/^mark=it works leak=none gpus=0,1,2,3$/m);

    await provider.release(node.id);
    const ended = await until(node.id, 'ended');
    expect(ended.nodeName).toBe('n1');
    await provider.release(node.id); // idempotent
  }, 60_000);

  it('sees a job killed from outside (scancel) as ended', async () => {
    const shape = (await provider.offers())[0]!.shape;
    const node = await provider.request(shape, { nodeName: 'n2', args: ['-c', 'exec sleep 300'], env: {} });
    await until(node.id, 'running');
    execFileSync('scancel', [node.id]);
    const ended = await until(node.id, 'ended');
    // squeue shows COMPLETING while slurmd cleans the cancelled job up, then CANCELLED, then nothing.
    expect(ended.detail).toMatch(/CANCELLED|COMPLETING|no longer in squeue/);
  }, 60_000);

  it('refuses an unknown shape and names the known ones; a missing tool is named', async () => {
    await provider.offers();
    await expect(provider.request('nope', { nodeName: 'x', args: [], env: {} })).rejects.toThrow(/unknown shape "nope" \(call offers\(\) first; known: gpu:4xA100-80GB:8c:8000m\)/);
    const broken = new SlurmProvider({ stateDir: dir, poolId: 'x', fastgpu: ['/bin/true'], binDir: '/nonexistent' });
    const err = await broken.offers().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(String(err)).toMatch(/\/nonexistent\/scontrol not found/);
    await expect(provider.release('12; rm -rf /')).rejects.toThrow(/not a Slurm job id/);
  });
});

describe('fastgpu up --autoscale slurm, end to end', () => {
  const TIMEOUT_MS = 120_000;
  let world: World | undefined;
  afterEach(async () => {
    await world?.cleanup();
    world = undefined;
    // Whatever a failed test left in Slurm's queue would hold the cluster's one node.
    const left = (await squeue()).map((j) => j.id);
    if (left.length > 0) await sh('scancel', left);
    await until('the pool’s jobs gone from squeue', async () => ((await squeue()).length === 0 ? true : undefined), 30_000);
  }, 60_000);

  /** The pool's jobs in Slurm's own queue (id, name, state). */
  async function squeue(): Promise<{ id: string; name: string; state: string }[]> {
    const { stdout } = await sh('squeue', ['-h', '-o', '%i|%j|%T']);
    return stdout
      .split('\n')
      .filter((l) => l.includes('|fastgpu-'))
      .map((l) => {
        const [id, name, state] = l.split('|');
        return { id: id!, name: name!, state: state! };
      });
  }

  async function startPool(): Promise<{ w: World; output: () => string }> {
    const w = new World();
    world = w;
    // The hand-started node has one H100; the tasks below ask for an A100, which only Slurm's node has.
    const { daemon } = await w.up([
      '--gpus', '1xH100',
      '--autoscale', 'slurm:max=2,simulated-gpus=yes,price=3.50,time=0:10:00',
      '--scale-after', '1s', '--idle-timeout', '4s', '--scale-cooldown', '1s',
    ]);
    return { w, output: () => daemon.output };
  }

  const taskIn = async (w: World, id: string, states: TaskView['state'][]): Promise<TaskView> =>
    until(`task ${id} in ${states.join('|')}`, async () => {
      const t = await w.client().tasks.get(id);
      return states.includes(t.state) ? t : undefined;
    }, TIMEOUT_MS);

  it('a task no node can take makes an sbatch; the agent job joins and runs it; the idle node’s job is cancelled', async () => {
    const { w, output } = await startPool();
    const r = await w.cli(['run', '--detach', '--gpu', 'A100-80GB:1', '--', 'sh', '-c', 'echo "ran on $FASTGPU_NODE"']);
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim();
    const done = await taskIn(w, id, ['SUCCEEDED', 'FAILED', 'CANCELLED']);
    expect(done.state).toBe('SUCCEEDED');
    const node = done.placement!.node;
    expect(node).toMatch(/^slurm-[0-9a-f]{6}$/);
    const logs = await w.cli(['logs', id]);
    expect(logs.stdout).toMatch(new RegExp(`^ran on ${node}$`, 'm'));
    expect(output()).toMatch(new RegExp(`autoscaler: asked slurm for a .*A100-80GB.* node \\((\\d+), ${node}\\)`));
    const jobId = new RegExp(`asked slurm for a .* node \\((\\d+), ${node}\\)`).exec(output())![1]!;

    // The node offered what its job holds: four (simulated) A100s, the job's CPUs and memory.
    const joined = await until('the node labelled with its provider', async () => {
      const n = (await w.client().nodes()).find((x: NodeView) => x.name === node);
      return n?.labels?.['fastgpu.io/provider'] === 'slurm' ? n : undefined;
    });
    expect(joined.gpus.map((g) => g.model)).toEqual(['A100-80GB', 'A100-80GB', 'A100-80GB', 'A100-80GB']);
    // It joined with a join token minted for it, now used up; no file the server wrote holds it.
    const tokens = async () => (await w.client().request<{ joinTokens: JoinTokenView[] }>('GET', '/v1/admin/join-tokens')).joinTokens;
    expect(await tokens()).toEqual([expect.objectContaining({ uses: 1, maxUses: 1, labels: { 'fastgpu.io/provider': 'slurm' }, revokedAt: null })]);
    expect(readdirSync(join(w.dataDir, 'slurm')).filter((f) => !f.endsWith('.out'))).toEqual([]);

    // Idle past the timeout: drained, then its job cancelled; Slurm's queue no longer has it.
    await until('the Slurm node released', async () => {
      const n = (await w.client().nodes()).find((x) => x.name === node);
      return n?.labels?.['fastgpu.io/lifecycle'] === 'released' ? n : undefined;
    }, TIMEOUT_MS);
    await until(`job ${jobId} gone from squeue`, async () => ((await squeue()).some((j) => j.id === jobId) ? undefined : true), 30_000);
    expect(output()).toMatch(new RegExp(`autoscaler: gave ${node} back to slurm`));
    expect((await tokens())[0]?.revokedAt).not.toBeNull();
    // `fastgpu usage` counts its node-hours under slurm, from join to release, at price=3.50.
    const usage = await w.cli(['usage']);
    expect(usage.code, usage.stderr).toBe(0);
    expect(usage.stdout).toMatch(/^lent nodes by provider \(from join to release\)/m);
    expect(usage.stdout).toMatch(/^slurm\s+1\s+1\s+0\.0\d\d\s+0\.\d\d$/m);
  }, TIMEOUT_MS * 3);

  it('a scancel of a busy node requeues its task, which then runs elsewhere (never twice at once)', async () => {
    const { w, output } = await startPool();
    onTestFailed(() => console.log(output()));
    const marks = join(w.home, 'runs');
    // Each attempt appends "start" and, unless killed, "end" with its node: overlap would show.
    // "end" only after a sleep that was not killed: Slurm signals a job's processes one by one,
    // and a shell that outlived its killed sleep by a moment must not count as a finished run.
    // The first would run a minute: only the ephemeral agent's stop (SIGTERM, SIGKILL 10 s later)
    // keeps its "end" out.
    const r = await w.cli(['run', '--detach', '--gpu', 'A100-80GB:1', '--', 'sh', '-c', `echo "start $FASTGPU_NODE" >> ${marks}; if [ "$FASTGPU_ATTEMPT" = 1 ]; then sleep 60; else sleep 2; fi && echo "end $FASTGPU_NODE" >> ${marks}`]);
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim();
    const running = await taskIn(w, id, ['RUNNING']);
    const first = running.placement!.node;
    await until('the task started on its node', async () => (existsSync(marks) && readFileSync(marks, 'utf8').includes(`start ${first}`) ? true : undefined), TIMEOUT_MS);
    const job = (await squeue()).find((j) => j.name === `fastgpu-${first}`);
    expect(job, 'the busy node’s Slurm job').toBeDefined();
    await sh('scancel', [job!.id]);

    const done = await taskIn(w, id, ['SUCCEEDED', 'FAILED', 'CANCELLED']);
    expect(done.state).toBe('SUCCEEDED');
    expect(done.placement!.node).not.toBe(first);
    // Nothing of the first attempt is left running anywhere.
    const { stdout: procs } = await sh('ps', ['-eo', 'args']);
    expect(procs.split('\n').filter((l) => l.includes(marks) && !l.startsWith('ps '))).toEqual([]);
    const lines = readFileSync(marks, 'utf8').trim().split('\n');
    // The first attempt was killed with its job (no "end" on the first node), the second ran whole.
    expect(lines).toEqual([`start ${first}`, `start ${done.placement!.node}`, `end ${done.placement!.node}`]);
    const events = [];
    for await (const e of w.client().tasks.eventHistory(id)) events.push(e);
    expect(events.map((e) => e.type)).toContain('task.requeued');
    const gone = (await w.client().nodes()).find((n) => n.name === first);
    expect(['LOST', 'RELEASED']).toContain(gone?.state);
  }, TIMEOUT_MS * 3);
});
