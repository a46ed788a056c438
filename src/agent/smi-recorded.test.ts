// Discovery against nvidia-smi answers recorded for an H100 and an H200 machine
// (fixtures/smi-README.md says where each value comes from).
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { discoverNvidiaGpus, sampleNvidiaGpus } from './discovery.js';

const smi = (kind: string): string => fileURLToPath(new URL(`./fixtures/smi-${kind}/nvidia-smi`, import.meta.url));

describe('recorded nvidia-smi of real H100 and H200 machines', () => {
  it('registers an H100 80GB HBM3 as H100-80GB with its own memory and uuid', async () => {
    expect(await discoverNvidiaGpus({ nvidiaSmi: smi('h100'), sharing: 'mps' })).toEqual({
      gpus: [{ index: 0, uuid: 'GPU-3f2b6c1e-9d84-5a27-b1c0-7e4d2a96f851', model: 'H100-80GB', memoryMiB: 81559, tflops: 989, sharing: 'mps' }],
    });
  });

  it('registers an H200 (nvidia-smi says plainly "NVIDIA H200") as H200 with 143771 MiB', async () => {
    expect(await discoverNvidiaGpus({ nvidiaSmi: smi('h200'), sharing: 'exclusive' })).toEqual({
      gpus: [{ index: 0, uuid: 'GPU-8a91d4f7-2c6e-4b38-95d1-0f7a3e2c6b19', model: 'H200', memoryMiB: 143771, tflops: 989, sharing: 'exclusive' }],
    });
  });

  it('samples an idle card', async () => {
    expect(await sampleNvidiaGpus({ nvidiaSmi: smi('h200') })).toEqual([{ gpuIndex: 0, utilPercent: 0, memoryUsedMiB: 0 }]);
  });
});
