// gpu-packing and gpu-clustering as the published simulator scores them (hkust-adsl/
// kubernetes-scheduler-simulator, GpuPackingScore and GpuClusteringScore, integer arithmetic, no
// normalisation, ties to the smallest node name, then the best-fit GPU of the chosen node). Each case
// is one where that rule and the naive reading of the policy ("fullest first") disagree.
import { describe, expect, it } from 'vitest';
import { gpuClusteringScore, gpuPackingScore } from './baselines.js';
import { ClusterState, type NodeInit } from './cluster.js';
import { getPolicy } from './index.js';
import type { PodRequest } from './types.js';

function node(name: string, gpus: number): NodeInit {
  return {
    id: name,
    name,
    cpuMilli: 96_000,
    memoryMiB: 262_144,
    gpus: Array.from({ length: gpus }, (_, i) => ({ index: i, model: 'G2', memoryMiB: 16_384, tflops: 100, exclusive: false })),
  };
}
function pod(gpuMilli: number, gpuCount = 1): PodRequest {
  return { cpuMilli: 4000, memoryMiB: 1024, gpuCount: gpuMilli === 0 ? 0 : gpuCount, gpuMilli, gpuMemoryMiB: 0, models: [] };
}
/** Charges `milli` on each GPU of `gpuIdx` of node `pos` (one task). */
function run(c: ClusterState, pos: number, gpuIdx: number[], milli: number): void {
  c.allocate({ nodePos: pos, gpuIdx, gpuMilli: milli, gpuMemoryMiB: 0 }, pod(milli, gpuIdx.length));
}
const ctx = { rng: () => 0.5 };
const packing = getPolicy('gpu-packing');
const clustering = getPolicy('gpu-clustering');
const amount = (milli: number) => ({ gpuMilli: milli, gpuMemoryMiB: 0 });

describe('gpu-packing', () => {
  it('scores a shared GPU by its free share in whole percent, tenths dropped: 150 and 190 free tie', () => {
    const c = new ClusterState([node('a', 2), node('b', 2), node('c', 2)]);
    run(c, 0, [0], 810); // 190 left → ⌊19/10⌋ = 1 → 99
    run(c, 1, [0], 850); // 150 left → ⌊15/10⌋ = 1 → 99
    run(c, 2, [0], 800); // 200 left → 2 → 98
    expect([0, 1, 2].map((p) => gpuPackingScore(c.nodes[p]!, pod(100), amount(100), [0]))).toEqual([99, 99, 98]);
    // The tightest GPU is b's, but a and b tie and a has the smaller name.
    expect(packing.choose(c, pod(100), ctx)).toMatchObject({ nodePos: 0, gpuIdx: [0] });
  });

  it('prefers a free GPU on a used node (50 − GPUs taken) to an idle node that the task would fill', () => {
    const c = new ClusterState([node('a-idle', 1), node('b-used', 8)]);
    run(c, 1, [0], 500);
    expect(gpuPackingScore(c.nodes[0]!, pod(1000), amount(1000), [0])).toBe(32); // idle: 33 − 1 GPU
    expect(gpuPackingScore(c.nodes[1]!, pod(1000), amount(1000), [1])).toBe(49);
    expect(packing.choose(c, pod(1000), ctx)).toMatchObject({ nodePos: 1, gpuIdx: [1] });
  });

  it('among idle nodes takes the one with the fewest GPUs (33 − GPUs), not the first', () => {
    const c = new ClusterState([node('a', 8), node('b', 4), node('c', 8)]);
    expect(packing.choose(c, pod(1000, 2), ctx)).toMatchObject({ nodePos: 1, gpuIdx: [0, 1] });
    run(c, 2, [0], 500); // c is now in use: 2 free GPUs there score 50 − 2 = 48
    expect(packing.choose(c, pod(1000, 2), ctx)).toMatchObject({ nodePos: 2, gpuIdx: [1, 2] });
  });

  it('scores a CPU-only task 0 everywhere: the smallest name, however full the others are', () => {
    const c = new ClusterState([node('a', 2), node('b', 2)]);
    run(c, 1, [0, 1], 1000);
    expect(packing.choose(c, pod(0), ctx)).toMatchObject({ nodePos: 0, gpuIdx: [] });
  });
});

describe('gpu-clustering', () => {
  it('measures fullness against the largest node (8 GPUs): an idle 2-GPU node beats an idle 8-GPU one', () => {
    const c = new ClusterState([node('a8', 8), node('b2', 2)]);
    // Idle band 25 + ⌊25·(8000 − free)/8000⌋: 25 + 0 and 25 + 18.
    expect(c.nodes.map((n) => gpuClusteringScore(n, pod(500), amount(500)))).toEqual([25, 43]);
    expect(clustering.choose(c, pod(500), ctx)).toMatchObject({ nodePos: 1 });
  });

  it('truncates the fullness term: 100 m and 300 m used both add 0, 400 m adds 1', () => {
    const c = new ClusterState([node('a', 8), node('b', 8), node('c', 8)]);
    run(c, 0, [0], 100);
    run(c, 1, [0], 300);
    expect(c.nodes.slice(0, 2).map((n) => gpuClusteringScore(n, pod(200), amount(200)))).toEqual([75, 75]);
    expect(clustering.choose(c, pod(200), ctx)).toMatchObject({ nodePos: 0, gpuIdx: [0] }); // b is fuller; a has the smaller name
    run(c, 2, [0], 400);
    expect(gpuClusteringScore(c.nodes[2]!, pod(200), amount(200))).toBe(76);
    expect(clustering.choose(c, pod(200), ctx)).toMatchObject({ nodePos: 2, gpuIdx: [0] });
  });

  it('ranks by band before fullness: own kind only > own kind among others > idle > other kinds only', () => {
    const c = new ClusterState([node('a-own', 8), node('b-mixed', 8), node('c-other', 8), node('d-idle', 8)]);
    run(c, 0, [0], 300);
    run(c, 1, [0], 300);
    for (let i = 1; i < 7; i++) run(c, 1, [i], 1000); // 6300 m used
    for (let i = 0; i < 7; i++) run(c, 2, [i], 1000); // 7000 m used, whole GPUs only
    expect(c.nodes.map((n) => gpuClusteringScore(n, pod(500), amount(500)))).toEqual([75, 69, 21, 25]);
    expect(clustering.choose(c, pod(500), ctx)).toMatchObject({ nodePos: 0 });
    // A 1-GPU task: b has its kind among others (50 + 19), c only its kind (75 + 21).
    expect(clustering.choose(c, pod(1000), ctx)).toMatchObject({ nodePos: 2, gpuIdx: [7] });
  });

  it('scores a CPU-only task 0 everywhere', () => {
    const c = new ClusterState([node('a', 2), node('b', 2)]);
    run(c, 1, [0], 300);
    expect(c.nodes.map((n) => gpuClusteringScore(n, pod(0), amount(0)))).toEqual([0, 0]);
    expect(clustering.choose(c, pod(0), ctx)).toMatchObject({ nodePos: 0 });
  });
});

describe('GPUs inside the chosen node (published best-fit GPU selection)', () => {
  it('a share goes to the fullest GPU it fits, lowest index on ties; whole GPUs are the lowest-index free ones', () => {
    for (const policy of [packing, clustering]) {
      const c = new ClusterState([node('a', 4)]);
      run(c, 0, [1], 400); // free: 1000, 600, 300, 600
      run(c, 0, [2], 700);
      run(c, 0, [3], 400);
      expect(policy.choose(c, pod(250), ctx), policy.name).toMatchObject({ gpuIdx: [2] });
      expect(policy.choose(c, pod(400), ctx), policy.name).toMatchObject({ gpuIdx: [1] });
      expect(policy.choose(c, pod(1000), ctx), policy.name).toMatchObject({ gpuIdx: [0] });
      expect(policy.choose(c, pod(1000, 2), ctx), policy.name).toBeNull();
    }
  });
});
