import { describe, expect, it } from 'vitest';
import { findGpuModel, GPU_CATALOGUE, parseSimulatedGpus, requireGpuModel } from './catalogue.js';
import { FastGpuError } from './errors.js';

describe('GPU_CATALOGUE', () => {
  it('has unique names and aliases that resolve to their own entry', () => {
    const seen = new Set<string>();
    for (const m of GPU_CATALOGUE) {
      for (const n of [m.name, ...m.aliases]) {
        expect(seen.has(n.toLowerCase()), n).toBe(false);
        seen.add(n.toLowerCase());
        expect(findGpuModel(n)).toBe(m);
      }
      expect(Number.isInteger(m.memoryMiB) && m.memoryMiB > 0).toBe(true);
      expect(m.tflops).toBeGreaterThan(0);
    }
  });

  it.each([
    ['H200', 141 * 1024, 989],
    ['H100-80GB', 80 * 1024, 989],
    ['A100-40GB', 40 * 1024, 312],
    ['A100-80GB', 80 * 1024, 312],
    ['T4', 16 * 1024, 65],
    ['L4', 24 * 1024, 121],
  ])('%s has %d MiB and %d TFLOPS', (name, mib, tflops) => {
    const m = findGpuModel(name);
    expect(m?.memoryMiB).toBe(mib);
    expect(m?.tflops).toBe(tflops);
  });

  it('covers every model in the requested list', () => {
    const wanted = ['H200', 'H100-80GB', 'H100-PCIE', 'A100-80GB', 'A100-40GB', 'L40S', 'L40', 'L4', 'A10', 'A10G', 'T4', 'V100-16GB', 'V100-32GB', 'P100', 'RTX-4090', 'RTX-3090', 'RTX-A6000', 'A40', 'B200', 'MI300X'];
    for (const w of wanted) expect(findGpuModel(w)?.name, w).toBe(w);
  });

  it('knows every model of the Alibaba trace', () => {
    // `cut -d, -f5 openb_node_list_gpu_node.csv | sort -u` (core tests read no files).
    const models = ['A10', 'G2', 'G3', 'P100', 'T4', 'V100M16', 'V100M32'];
    for (const m of models) expect(findGpuModel(m), m).toBeDefined();
    expect(findGpuModel('V100M16')?.name).toBe('V100-16GB');
    expect(findGpuModel('V100M32')?.name).toBe('V100-32GB');
  });
});

describe('findGpuModel', () => {
  it.each([
    ['H100', 'H100-80GB'],
    ['h100', 'H100-80GB'],
    ['A100', 'A100-80GB'],
    ['a100-40gb', 'A100-40GB'],
    ['A100 40GB', 'A100-40GB'],
    ['a100_40gb', 'A100-40GB'],
    ['4090', 'RTX-4090'],
    ['rtx4090', 'RTX-4090'],
    ['NVIDIA H100 80GB HBM3', 'H100-80GB'],
    ['NVIDIA H100 PCIe', 'H100-PCIE'],
    ['NVIDIA H100 NVL', 'H100-NVL'],
    ['NVIDIA H200', 'H200'],
    ['NVIDIA A100-SXM4-40GB', 'A100-40GB'],
    ['NVIDIA A100-SXM4-80GB', 'A100-80GB'],
    ['NVIDIA A100 80GB PCIe', 'A100-80GB'],
    ['NVIDIA A100-PCIE-40GB', 'A100-40GB'],
    ['Tesla T4', 'T4'],
    ['Tesla V100-SXM2-32GB', 'V100-32GB'],
    ['Tesla V100-PCIE-16GB', 'V100-16GB'],
    ['Tesla V100S-PCIE-32GB', 'V100-32GB'],
    ['Tesla P100-PCIE-16GB', 'P100'],
    ['NVIDIA GeForce RTX 4090', 'RTX-4090'],
    ['NVIDIA GeForce RTX 3090', 'RTX-3090'],
    ['NVIDIA RTX A6000', 'RTX-A6000'],
    ['NVIDIA L40S', 'L40S'],
    ['NVIDIA A10G', 'A10G'],
    ['NVIDIA A10', 'A10'],
    ['AMD Instinct MI300X', 'MI300X'],
    ['  t4  ', 'T4'],
  ])('%j → %s', (input, name) => {
    expect(findGpuModel(input)?.name).toBe(name);
  });

  it.each(['', 'NVIDIA', 'H800', 'A100-64GB', 'NVIDIA A100-SXM4-64GB', 'GTX 1080', 'banana', '80GB'])('%j is unknown', (input) => {
    expect(findGpuModel(input)).toBeUndefined();
  });
});

describe('requireGpuModel', () => {
  it('returns the model', () => {
    expect(requireGpuModel('h100', 'resources.gpu.model').name).toBe('H100-80GB');
  });

  it('names the field, the model and the known models', () => {
    try {
      requireGpuModel('H800', 'resources.gpu.model');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FastGpuError);
      const err = e as FastGpuError;
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.field).toBe('resources.gpu.model');
      expect(err.message).toMatch(/^resources\.gpu\.model: unknown GPU model "H800"; known: .*H100-80GB/);
    }
  });
});

describe('parseSimulatedGpus', () => {
  it('reads groups', () => {
    const g = parseSimulatedGpus('2xA100-40GB,1xT4');
    expect(g.map((x) => [x.model.name, x.count])).toEqual([
      ['A100-40GB', 2],
      ['T4', 1],
    ]);
  });

  it.each([
    ['4xH100', 'H100-80GB', 4],
    ['H100', 'H100-80GB', 1],
    ['8X h200', 'H200', 8],
    ['2*L4', 'L4', 2],
    ['2xMI300X', 'MI300X', 2],
    ['1x4090', 'RTX-4090', 1],
    ['64xT4', 'T4', 64],
  ])('%j → %s × %d', (spec, name, count) => {
    const [g, ...rest] = parseSimulatedGpus(spec);
    expect(rest).toEqual([]);
    expect(g?.model.name).toBe(name);
    expect(g?.count).toBe(count);
  });

  it.each([
    ['', /empty/],
    ['  ', /empty/],
    ['4xH100,', /empty group/],
    ['0xH100', /count 0/],
    ['-1xH100', /count -1/],
    ['1.5xH100', /count 1.5/],
    ['65xH100', /from 1 to 64/],
    ['4xH800', /unknown GPU model "H800"/],
    ['4x', /unknown GPU model/],
  ])('rejects %j', (spec, msg) => {
    try {
      parseSimulatedGpus(spec, '--gpus');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FastGpuError);
      expect((e as FastGpuError).field).toBe('--gpus');
      expect((e as FastGpuError).message).toMatch(msg);
    }
  });
});
