// The slurm provider against recorded output, then against a real Slurm 22.05 cluster with fake
// GPUs that scripts/slurm-up.sh starts on this machine (loopback only).
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentScript, SlurmProvider } from './slurm.js';
import { nodeUsable, parseGres, parseJobs, parseKeyValues, parseNodes } from './slurm-parse.js';
import { ProviderError, type ProvidedNode } from './types.js';
import { providerEnv } from './exec.js';

// Recorded from `scontrol show -o node` on Debian's slurm-wlm 22.05.8 (scripts/slurm-up.sh).
const RECORDED =
  'NodeName=vm Arch=x86_64 CoresPerSocket=8  CPUAlloc=0 CPUEfctv=8 CPUTot=8 CPULoad=12.33 AvailableFeatures=(null) ActiveFeatures=(null) Gres=gpu:a100:4 NodeAddr=127.0.0.1 NodeHostName=vm Version=22.05.8 OS=Linux 6.18.44-fc-v1272 #1 SMP PREEMPT_DYNAMIC @0  RealMemory=8000 AllocMem=0 FreeMem=21499 Sockets=1 Boards=1 State=IDLE ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A Partitions=gpu  BootTime=2026-12-07T01:53:26 SlurmdStartTime=2026-12-07T02:11:04 LastBusyTime=2026-12-07T02:11:04 CfgTRES=cpu=8,mem=8000M,billing=8 AllocTRES= CapWatts=n/a CurrentWatts=0 AveWatts=0 ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s';

describe('reading Slurm output', () => {
  it('splits Key=Value pairs whose values hold spaces', () => {
    const kv = parseKeyValues(RECORDED);
    expect(kv.get('OS')).toBe('Linux 6.18.44-fc-v1272 #1 SMP PREEMPT_DYNAMIC @0');
    expect(kv.get('Partitions')).toBe('gpu');
    expect(kv.get('CfgTRES')).toBe('cpu=8,mem=8000M,billing=8');
    expect(kv.get('RealMemory')).toBe('8000');
    expect(kv.get('AllocTRES')).toBe('');
  });

  it('reads GRES in every form Slurm prints', () => {
    expect(parseGres('gpu:4,shard:8')).toEqual([
      { name: 'gpu', type: null, count: 4 },
      { name: 'shard', type: null, count: 8 },
    ]);
    expect(parseGres('gpu:a100:4(S:0-1)')).toEqual([{ name: 'gpu', type: 'a100', count: 4 }]);
    expect(parseGres('gpu:tesla:2,gpu:k80:2')).toEqual([
      { name: 'gpu', type: 'tesla', count: 2 },
      { name: 'gpu', type: 'k80', count: 2 },
    ]);
    expect(parseGres('(null)')).toEqual([]);
  });

  it('reads a node’s capacity from scontrol, with the GPU model from the GRES type', () => {
    const [n] = parseNodes(`${RECORDED}\n`);
    expect(n).toEqual({ name: 'vm', partitions: ['gpu'], cpus: 8, memoryMiB: 8000, gpus: 4, gpuType: 'a100', gpuModel: 'A100-80GB', shards: 0, state: ['IDLE'] });
    expect(nodeUsable(n!)).toBe(true);
    const drained = parseNodes(RECORDED.replace('State=IDLE', 'State=IDLE+DRAIN'))[0]!;
    expect(drained.state).toEqual(['IDLE', 'DRAIN']);
    expect(nodeUsable(drained)).toBe(false);
    expect(nodeUsable(parseNodes(RECORDED.replace('State=IDLE', 'State=DOWN*'))[0]!)).toBe(false);
  });

  it('reads squeue lines, comments with bars included', () => {
    expect(parseJobs('12|fastgpu-a|RUNNING|None|fastgpu-pool:p1\n13|x|PENDING|Resources|a|b\n')).toEqual([
      { id: '12', name: 'fastgpu-a', state: 'RUNNING', reason: 'None', comment: 'fastgpu-pool:p1' },
      { id: '13', name: 'x', state: 'PENDING', reason: 'Resources', comment: 'a|b' },
    ]);
  });

  it('keeps the server’s own Slurm variables out of what it submits', () => {
    expect(providerEnv({ PATH: '/bin', SLURM_JOB_ID: '7', SBATCH_ACCOUNT: 'x', SALLOC_PARTITION: 'p', HOME: '/root' }, { A: 'b' })).toEqual({ PATH: '/bin', HOME: '/root', A: 'b' });
  });

  it('writes a job script that exports the agent’s environment and execs it, quoting everything', () => {
    const s = agentScript(['/usr/bin/node', '/opt/fastgpu/bin/fastgpu'], { nodeName: 'n1', args: ['agent', '--name', "it's"], env: { FASTGPU_TOKEN: 'a b$c' } });
    expect(s).toBe(
      "#!/bin/sh\n# FastGPU agent for node n1, written by the slurm provider.\nexport PATH=/usr/local/bin:/usr/bin:/bin\nexport FASTGPU_TOKEN='a b$c'\nexec '/usr/bin/node' '/opt/fastgpu/bin/fastgpu' 'agent' '--name' 'it'\\''s'\n",
    );
    expect(() => agentScript([], { nodeName: 'n', args: [], env: { 'A;rm': 'x' } })).toThrow(/not a shell name/);
  });
});

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const SLURM_ROOT = join(tmpdir(), 'fastgpu-slurm-provider-test');

describe('on a real Slurm cluster', () => {
  let dir: string;
  let provider: SlurmProvider;

  beforeAll(async () => {
    // Starts (and on a machine without Slurm installs) a one-node cluster; fails loudly if it cannot.
    // Asynchronously: a vitest worker blocked this long loses touch with vitest.
    await promisify(execFile)('bash', [join(REPO, 'scripts', 'slurm-up.sh')], { env: { ...process.env, SLURM_ROOT }, timeout: 240_000 });
    dir = mkdtempSync(join(tmpdir(), 'fastgpu-slurm-'));
    provider = new SlurmProvider({
      stateDir: join(dir, 'jobs'),
      poolId: `test-${process.pid}`,
      fastgpu: ['/bin/sh'],
      env: { ...process.env, SLURM_JOB_ID: '999999', SLURM_LEAK: 'from-the-server' },
      nodeHourPrice: '3.50',
    });
  }, 300_000);

  afterAll(async () => {
    for (const n of (await provider?.list()) ?? []) await provider.release(n.id);
    await promisify(execFile)('bash', [join(REPO, 'scripts', 'slurm-down.sh')], { env: { ...process.env, SLURM_ROOT }, timeout: 60_000 });
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
    expect(ended.detail).toMatch(/CANCELLED|no longer in squeue/);
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
