import { describe, expect, it } from 'vitest';
import { parseGpuRequest } from '../core/spec.js';
import { modelsOf, sliceNote } from './slice.js';

const H100 = { model: 'H100-80GB', memoryMiB: 80 * 1024, tflops: 989 };
const L4 = { model: 'L4', memoryMiB: 24 * 1024, tflops: 121 };

describe('sliceNote', () => {
  it('says the memory a TFLOPS or fraction share comes with on each model', () => {
    expect(sliceNote(parseGpuRequest({ tflops: 20 }, 'gpu'), [H100, L4], '--memory')).toBe(
      '20 TFLOPS is 0.021 of an H100-80GB (989 TFLOPS dense BF16) with 1.68 GiB of GPU memory, or is 0.166 of an L4 (121 TFLOPS dense BF16) with 3.98 GiB of GPU memory; set --memory for more',
    );
    expect(sliceNote(parseGpuRequest(0.25, 'gpu'), [H100], '--gpu-memory')).toBe('0.25 GPU comes with 20 GiB of GPU memory on an H100-80GB; set --gpu-memory for more');
  });

  it('says nothing where memory is named or implied whole', () => {
    expect(sliceNote(parseGpuRequest({ fraction: 0.5, memory: '10GiB' }, 'gpu'), [H100], '--m')).toBeUndefined();
    expect(sliceNote(parseGpuRequest({ memory: '10GiB' }, 'gpu'), [H100], '--m')).toBeUndefined();
    expect(sliceNote(parseGpuRequest(1, 'gpu'), [H100], '--m')).toBeUndefined();
    expect(sliceNote(null, [H100], '--m')).toBeUndefined();
  });

  it('lists each model once', () => {
    expect(modelsOf([{ ...H100 }, { ...H100 }, { ...L4 }])).toEqual([H100, L4]);
  });
});
