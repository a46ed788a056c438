import { describe, expect, it } from 'vitest';
import { ClusterState } from '../placement/cluster.js';
import type { NodeRecord, ResourceRequest } from '../types.js';
import { nodeInit, poolModels } from './capacity.js';
import { explainNoFit } from './explain.js';
import { describeRequest, resolveRequest } from './resolve.js';
import { gpuReq, makeNode } from './testing.js';

function why(nodes: NodeRecord[], use: (c: ClusterState) => void, resources: ResourceRequest) {
  const c = new ClusterState(nodes.map(nodeInit));
  use(c);
  const req = resolveRequest(resources, poolModels(nodes));
  return explainNoFit(c, req, resources, describeRequest(resources), { ready: nodes, all: nodes });
}
const res = (gpu: Parameters<typeof gpuReq>[0], cpuMilli = 1000, memoryMiB = 1024): ResourceRequest => ({ gpu: gpuReq(gpu), cpuMilli, memoryMiB });

describe('explainNoFit', () => {
  const two = [makeNode('a', { gpus: 1, cpuMilli: 8000 }), makeNode('b', { gpus: 1, cpuMilli: 8000 })];

  it('says Fragmentation when CPUs are spread over nodes', () => {
    const e = why(two, (c) => {
      c.charge(0, [], 0, 0, 5000, 0);
      c.charge(1, [], 0, 0, 5000, 0);
    }, res(0.5, 4000));
    expect(e).toEqual({ reason: 'Fragmentation', message: 'needs 0.5 GPU, 4 CPUs, 1 GiB RAM; 6 CPUs free in total across 2 nodes, but at most 3 CPUs on any one node' });
  });

  it('says Resources with the best free amount when the room is short', () => {
    const e = why(two, (c) => {
      c.charge(0, [], 0, 0, 7000, 0);
      c.charge(1, [], 0, 0, 7000, 0);
    }, res(0.5, 4000));
    expect(e).toEqual({ reason: 'Resources', message: 'needs 0.5 GPU, 4 CPUs, 1 GiB RAM; 1 CPU free on the best node that has the GPUs free' });
  });

  it('speaks of GPU memory when that is what is short', () => {
    const mem: ResourceRequest = { gpu: { count: 1, share: { kind: 'milli', milli: 100 }, memoryMiB: 60 * 1024 }, cpuMilli: 1000, memoryMiB: 1024 };
    const e = why(two, (c) => {
      c.charge(0, [0], 100, 40 * 1024, 0, 0);
      c.charge(1, [0], 100, 40 * 1024, 0, 0);
    }, mem);
    expect(e.reason).toBe('Fragmentation');
    expect(e.message).toContain('80 GiB of GPU memory free in total across 2 GPUs, but at most 40 GiB on any one GPU');
  });

  it('says so when a request can never run on the pool', () => {
    const e = why(two, () => {}, res(4));
    expect(e).toEqual({ reason: 'Resources', message: 'needs 4 GPUs on one node; the largest node has 1 (1xH100-80GB): it cannot run on this pool' });
  });
});
