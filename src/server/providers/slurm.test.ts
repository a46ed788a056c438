// The slurm provider against recorded output. Against a real Slurm 22.05 cluster (with the
// autoscaler end to end): test/e2e/slurm.test.ts.
import { describe, expect, it } from 'vitest';
import { agentScript } from './slurm.js';
import { nodeUsable, parseGres, parseJobs, parseKeyValues, parseNodes } from './slurm-parse.js';
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
    const s = agentScript(['/usr/bin/node', '/opt/fastgpu/bin/fastgpu'], { nodeName: 'n1', args: ['agent', '--name', "it's"], env: { FASTGPU_JOIN_TOKEN: 'a b$c' } });
    expect(s).toBe(
      "#!/bin/sh\n# FastGPU agent for node n1, written by the slurm provider.\nexport PATH=/usr/local/bin:/usr/bin:/bin\nexport FASTGPU_JOIN_TOKEN='a b$c'\nexec '/usr/bin/node' '/opt/fastgpu/bin/fastgpu' 'agent' '--name' 'it'\\''s'\n",
    );
    expect(() => agentScript([], { nodeName: 'n', args: [], env: { 'A;rm': 'x' } })).toThrow(/not a shell name/);
  });
});

