import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { amountOn, ClusterState, nodeFits } from './placement/cluster.js';
import { describeRequest, resolveRequest, type ModelCapacity } from './resolve.js';
import { Requests } from './scheduler/requests.js';
import { parseGpuRequest } from './spec.js';
import type { GpuRequest, ResourceRequest } from './types.js';

const H100: ModelCapacity = { model: 'H100-80GB', memoryMiB: 81920, tflops: 989 };
const A100_40: ModelCapacity = { model: 'A100-40GB', memoryMiB: 40960, tflops: 312 };
const T4: ModelCapacity = { model: 'T4', memoryMiB: 16384, tflops: 65 };
const POOL = [H100, A100_40, T4];

const res = (gpu: GpuRequest | null): ResourceRequest => ({ gpu, cpuMilli: 1000, memoryMiB: 1024 });
const per = (gpu: GpuRequest, models: readonly ModelCapacity[] = POOL) =>
  Object.fromEntries(resolveRequest(res(gpu), models).perModel ?? new Map());

describe('resolveRequest', () => {
  it('gives CPU-only requests no GPUs', () => {
    expect(resolveRequest({ gpu: null, cpuMilli: 500, memoryMiB: 2048 }, POOL)).toEqual({
      cpuMilli: 500,
      memoryMiB: 2048,
      gpuCount: 0,
      gpuMilli: 0,
      gpuMemoryMiB: 0,
      models: [],
    });
  });

  it('charges whole GPUs all their compute and memory', () => {
    const r = resolveRequest(res(parseGpuRequest(2, 'gpu')), POOL);
    expect(r.gpuCount).toBe(2);
    expect(r.models).toEqual([]);
    expect(Object.fromEntries(r.perModel!)).toEqual({
      'H100-80GB': { gpuMilli: 1000, gpuMemoryMiB: 81920 },
      'A100-40GB': { gpuMilli: 1000, gpuMemoryMiB: 40960 },
      T4: { gpuMilli: 1000, gpuMemoryMiB: 16384 },
    });
  });

  it('gives a fixed share its milli and memory in proportion to the model', () => {
    expect(per(parseGpuRequest(0.5, 'gpu'))).toEqual({
      'H100-80GB': { gpuMilli: 500, gpuMemoryMiB: 40960 },
      'A100-40GB': { gpuMilli: 500, gpuMemoryMiB: 20480 },
      T4: { gpuMilli: 500, gpuMemoryMiB: 8192 },
    });
    // floor: 333 milli of 16384 MiB is 5455.872 MiB
    expect(per(parseGpuRequest(0.333, 'gpu'), [T4])).toEqual({ T4: { gpuMilli: 333, gpuMemoryMiB: 5455 } });
  });

  it('uses explicit memory and excludes models too small for it', () => {
    expect(per(parseGpuRequest({ fraction: 0.5, memory: '20GiB' }, 'gpu'))).toEqual({
      'H100-80GB': { gpuMilli: 500, gpuMemoryMiB: 20480 },
      'A100-40GB': { gpuMilli: 500, gpuMemoryMiB: 20480 },
    });
  });

  it('turns a memory share into the fraction of each model it needs', () => {
    expect(per(parseGpuRequest({ memory: '20GiB' }, 'gpu'))).toEqual({
      'H100-80GB': { gpuMilli: 250, gpuMemoryMiB: 20480 },
      'A100-40GB': { gpuMilli: 500, gpuMemoryMiB: 20480 },
    });
    // 10000 / 81920 × 1000 = 122.07 → 123
    expect(per(parseGpuRequest({ memory: 10000 }, 'gpu'), [H100])).toEqual({ 'H100-80GB': { gpuMilli: 123, gpuMemoryMiB: 10000 } });
    // exactly a whole T4
    expect(per(parseGpuRequest({ memory: '16GiB' }, 'gpu'), [T4])).toEqual({ T4: { gpuMilli: 1000, gpuMemoryMiB: 16384 } });
  });

  it('turns a TFLOPS share into the fraction of each model it needs', () => {
    expect(per(parseGpuRequest({ tflops: 20 }, 'gpu'))).toEqual({
      // 20 / 989 = 20.22 milli → 21; memory follows: floor(21 × 81920 / 1000)
      'H100-80GB': { gpuMilli: 21, gpuMemoryMiB: 1720 },
      'A100-40GB': { gpuMilli: 65, gpuMemoryMiB: 2662 },
      T4: { gpuMilli: 308, gpuMemoryMiB: 5046 },
    });
    expect(per(parseGpuRequest({ tflops: 100 }, 'gpu'))).toEqual({
      'H100-80GB': { gpuMilli: 102, gpuMemoryMiB: 8355 },
      'A100-40GB': { gpuMilli: 321, gpuMemoryMiB: 13148 },
      // a T4 has 65 TFLOPS: excluded
    });
    expect(per(parseGpuRequest({ tflops: 156, memory: '30GiB' }, 'gpu'))).toEqual({
      'H100-80GB': { gpuMilli: 158, gpuMemoryMiB: 30720 },
      'A100-40GB': { gpuMilli: 500, gpuMemoryMiB: 30720 },
    });
  });

  it('does not round an exact ratio up', () => {
    expect(per({ count: 1, share: { kind: 'tflops', tflops: 31.2 } }, [A100_40])).toEqual({ 'A100-40GB': { gpuMilli: 100, gpuMemoryMiB: 4096 } });
  });

  it('restricts to the requested model', () => {
    const r = resolveRequest(res(parseGpuRequest('A100-40GB:0.5', 'gpu')), POOL);
    expect(r.models).toEqual(['A100-40GB']);
    expect(Object.fromEntries(r.perModel!)).toEqual({ 'A100-40GB': { gpuMilli: 500, gpuMemoryMiB: 20480 } });
  });

  it('excludes models with unknown TFLOPS or memory from shares that need them', () => {
    const odd: ModelCapacity = { model: 'Mystery', memoryMiB: 0, tflops: 0 };
    expect(per(parseGpuRequest({ tflops: 1 }, 'gpu'), [odd])).toEqual({});
    expect(per(parseGpuRequest({ memory: '1GiB' }, 'gpu'), [odd])).toEqual({});
    expect(per(parseGpuRequest(1, 'gpu'), [odd])).toEqual({ Mystery: { gpuMilli: 1000, gpuMemoryMiB: 0 } });
  });

  it('sets the flat amounts to the smallest over the models', () => {
    const r = resolveRequest(res(parseGpuRequest({ memory: '20GiB' }, 'gpu')), POOL);
    expect(r.gpuMilli).toBe(250);
    expect(r.gpuMemoryMiB).toBe(20480);
    const none = resolveRequest(res(parseGpuRequest(0.5, 'gpu')), []);
    expect(none.gpuMilli).toBe(500);
    expect(none.perModel?.size).toBe(0);
  });

  it('drives placement: a TFLOPS request lands where its share fits', () => {
    const cluster = new ClusterState([
      { id: 't', name: 't4-node', cpuMilli: 8000, memoryMiB: 65536, gpus: [{ index: 0, ...T4, exclusive: false }] },
      { id: 'h', name: 'h100-node', cpuMilli: 8000, memoryMiB: 65536, gpus: [{ index: 0, ...H100, exclusive: false }] },
    ]);
    const r = resolveRequest(res(parseGpuRequest({ tflops: 100 }, 'gpu')), POOL);
    const [t4Node, h100Node] = cluster.nodes;
    expect(nodeFits(t4Node!, r)).toBe(false);
    expect(nodeFits(h100Node!, r)).toBe(true);
    expect(amountOn(h100Node!, r)).toEqual({ gpuMilli: 102, gpuMemoryMiB: 8355 });
  });

  it('never charges more than a GPU holds', () => {
    const share = fc.oneof(
      fc.integer({ min: 1, max: 1000 }).map((milli): GpuRequest => ({ count: 1, share: { kind: 'milli', milli } })),
      fc.integer({ min: 1, max: 200_000 }).map((memoryMiB): GpuRequest => ({ count: 1, share: { kind: 'memory', memoryMiB } })),
      fc.double({ min: 0.01, max: 2000, noNaN: true }).map((tflops): GpuRequest => ({ count: 1, share: { kind: 'tflops', tflops } })),
    );
    fc.assert(
      fc.property(share, (gpu) => {
        for (const [model, a] of resolveRequest(res(gpu), POOL).perModel!) {
          const m = POOL.find((p) => p.model === model)!;
          expect(a.gpuMilli).toBeGreaterThanOrEqual(1);
          expect(a.gpuMilli).toBeLessThanOrEqual(1000);
          expect(a.gpuMemoryMiB).toBeLessThanOrEqual(m.memoryMiB);
          if (gpu.share.kind === 'memory') expect((a.gpuMilli * m.memoryMiB) / 1000).toBeGreaterThanOrEqual(gpu.share.memoryMiB - 1e-6);
          if (gpu.share.kind === 'tflops') expect((a.gpuMilli * m.tflops) / 1000).toBeGreaterThanOrEqual(gpu.share.tflops - 1e-6);
        }
      }),
    );
  });
});

describe('describeRequest', () => {
  it.each<[ResourceRequest, string]>([
    [res(parseGpuRequest(0.5, 'gpu')), '0.5 GPU, 1 CPU, 1 GiB RAM'],
    [res(parseGpuRequest(1, 'gpu')), '1 GPU, 1 CPU, 1 GiB RAM'],
    [{ gpu: parseGpuRequest('2xH100', 'gpu'), cpuMilli: 8000, memoryMiB: 65536 }, '2 GPUs (H100-80GB), 8 CPUs, 64 GiB RAM'],
    [{ gpu: null, cpuMilli: 500, memoryMiB: 512 }, '0.5 CPU, 512 MiB RAM'],
    [res(parseGpuRequest({ memory: '20GiB' }, 'gpu')), 'a GPU share with 20 GiB, 1 CPU, 1 GiB RAM'],
    [res(parseGpuRequest({ tflops: 20, model: 'L4' }, 'gpu')), '20 TFLOPS of a GPU (L4), 1 CPU, 1 GiB RAM'],
    [res(parseGpuRequest({ fraction: 0.25, memory: '10GiB' }, 'gpu')), '0.25 GPU with 10 GiB, 1 CPU, 1 GiB RAM'],
  ])('%j → %s', (r, text) => {
    expect(describeRequest(r)).toBe(text);
  });
});

describe('anyOf: a trace request that allows several models', () => {
  const models: ModelCapacity[] = [
    { model: 'T4', memoryMiB: 16_384, tflops: 65 },
    { model: 'P100', memoryMiB: 16_384, tflops: 19 },
    { model: 'G2', memoryMiB: 24_576, tflops: 100 },
  ];
  it('resolves on the listed models only, and is a different request shape from the unrestricted one', () => {
    const gpu: GpuRequest = { count: 1, share: { kind: 'milli', milli: 500 }, anyOf: ['T4', 'P100'] };
    const r = resolveRequest({ gpu, cpuMilli: 1000, memoryMiB: 0 }, models);
    expect(r.models).toEqual(['T4', 'P100']);
    expect([...r.perModel!.keys()]).toEqual(['T4', 'P100']);
    const reqs = new Requests(models);
    const plain = reqs.shape({ gpu: { count: 1, share: { kind: 'milli', milli: 500 } }, cpuMilli: 1000, memoryMiB: 0 });
    const limited = reqs.shape({ gpu, cpuMilli: 1000, memoryMiB: 0 });
    expect(limited).not.toBe(plain);
    expect(Number.isNaN(limited.milli[2]!)).toBe(true);
    expect(plain.milli[2]).toBe(500);
  });
});
