// Every header form of the published pod lists (alibaba/clusterdata cluster-trace-gpu-v2023), on
// small fixtures: they load with the published simulator's meaning for absent columns, and run in
// both `published` and `replay` mode.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runPublishedSeed } from './published.js';
import { runReplay } from './replay.js';
import { loadNodes, loadPodList, parsePodList, TraceError } from './trace.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const nodes = loadNodes(join(dir, 'nodes-small.csv'));
const now = () => 0;

function runsInBothModes(file: string): void {
  const { pods } = loadPodList(join(dir, file));
  for (const estimate of ['causal', 'oracle'] as const) {
    for (const policy of ['default', 'fgd', 'best-fit'] as const) {
      const r = runPublishedSeed({ nodes, pods, policy, seed: 42, estimate });
      expect(r.placed, `${file} ${policy} ${estimate}`).toBeGreaterThan(0);
      expect(r.placed + r.failed).toBe(r.pods);
    }
    const rep = runReplay({ workload: file, nodes, pods, policy: 'default', estimate, now });
    expect(rep.placed + rep.neverPlaced, `${file} replay ${estimate}`).toBe(rep.pods);
    expect(rep.placed).toBeGreaterThan(0);
  }
}

describe('pod lists in every published header form', () => {
  it('full form (11 columns: gpu_spec, qos, pod_phase, times): A|B specs kept, qos and pod_phase ignored with a note', () => {
    const { pods, notes } = loadPodList(join(dir, 'pods-full.csv'));
    expect(pods).toHaveLength(6);
    expect(pods[1]!.req.models).toEqual(['P100', 'T4']);
    expect(pods[4]!.req.models).toEqual(['V100M32', 'G2', 'T4']);
    expect(pods[0]!.req.models).toEqual([]);
    expect(pods[4]!.deletionTime).toBeNull();
    expect(pods[5]!.scheduledTime).toBe(55);
    expect(notes).toEqual(['ignored column(s): qos, pod_phase']);
    runsInBothModes('pods-full.csv');
  });

  it('multigpu form (name,cpu_milli,memory_mib,num_gpu,gpu_milli): any model, no times; replay gets them all at 0', () => {
    const { pods, notes } = loadPodList(join(dir, 'pods-multigpu.csv'));
    expect(pods.map((p) => p.req.models)).toEqual([[], [], [], [], [], []]);
    expect(pods.every((p) => p.creationTime === null && p.deletionTime === null)).toBe(true);
    expect(notes).toEqual([
      'no gpu_spec column: every pod may use any GPU model',
      'no creation_time column: replay has no arrival times (every pod arrives at 0 and never leaves)',
    ]);
    const rep = runReplay({ workload: 'multigpu', nodes, pods, policy: 'default', now });
    expect(rep.pods).toBe(6);
    runsInBothModes('pods-multigpu.csv');
  });

  it('job_id and cpu in cores, no memory_mib or gpu_milli (the converter\'s other forms): whole GPUs, no RAM', () => {
    const { pods, notes } = loadPodList(join(dir, 'pods-jobs.csv'));
    expect(pods.map((p) => p.name)).toEqual(['job-0007', 'job-0008', 'job-0009', 'job-0010']);
    expect(pods.map((p) => p.req.cpuMilli)).toEqual([8000, 500, 16000, 4000]);
    expect(pods.map((p) => [p.req.gpuCount, p.req.gpuMilli, p.req.memoryMiB])).toEqual([
      [1, 1000, 0],
      [0, 0, 0],
      [2, 1000, 0],
      [1, 1000, 0],
    ]);
    expect(notes).toContain('no memory_mib column: pods request no host memory');
    expect(notes).toContain('no gpu_milli column: GPU pods take whole GPUs (1000 milli)');
    expect(notes).toContain('ignored column(s): user');
    runsInBothModes('pods-jobs.csv');
  });

  it('gpu_milli above 1000 is one whole GPU, as published, and said so', () => {
    const { pods, notes } = loadPodList(join(dir, 'pods-milli-over.csv'));
    expect(pods.map((p) => p.req.gpuMilli)).toEqual([1000, 500]);
    expect(notes).toContain('1 pod(s) with gpu_milli above 1000 take one whole GPU each (as published)');
  });

  it('refuses lists it cannot read, naming the problem', () => {
    expect(() => parsePodList('cpu_milli,num_gpu\n1,0\n', 'x.csv')).toThrow(/x.csv: missing column name \(or job_id\)/);
    expect(() => parsePodList('name,num_gpu\np,0\n', 'x.csv')).toThrow(/missing column cpu_milli \(or cpu, num_cpu\)/);
    expect(() => parsePodList('name,cpu_milli\np,1\n', 'x.csv')).toThrow(/missing column\(s\) num_gpu/);
    expect(() => parsePodList('name,cpu,num_gpu\np,-1,0\n', 'x.csv')).toThrow(/x.csv:2: column cpu: expected a number ≥ 0, got '-1'/);
    expect(() => parsePodList('name,cpu_milli,num_gpu,gpu_milli\np,1,1,0\n', 'x.csv')).toThrow(TraceError);
  });
});
