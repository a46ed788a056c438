import { describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { discoverNvidiaGpus, hostResources, parseGpuCsv, resolveNodeGpus, sampleNvidiaGpus, simulatedGpus, simulatedSamples } from './discovery.js';
import { tempDir } from './fixtures/helpers.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('nvidia-smi discovery', () => {
  it('reads recorded output: catalogue figures for known models, the raw name for others', async () => {
    const r = await discoverNvidiaGpus({ nvidiaSmi: fixture('nvidia-smi'), sharing: 'exclusive' });
    expect(r.problem).toBeUndefined();
    expect(r.gpus).toEqual([
      { index: 0, uuid: 'GPU-5a1c9f0e-8e5b-3c7d-2f9a-1b2c3d4e5f60', model: 'H100-80GB', memoryMiB: 81559, tflops: 989, sharing: 'exclusive' },
      { index: 1, uuid: 'GPU-9b8e7d6c-5a4b-3c2d-1e0f-a1b2c3d4e5f6', model: 'H100-80GB', memoryMiB: 81559, tflops: 989, sharing: 'exclusive' },
      { index: 2, uuid: 'GPU-0f1e2d3c-4b5a-6978-8a9b-cdef01234567', model: 'NVIDIA GeForce GTX 1080 Ti', memoryMiB: 11264, tflops: 0, sharing: 'exclusive' },
    ]);
  });

  it('takes the configured sharing mode', async () => {
    const r = await discoverNvidiaGpus({ nvidiaSmi: fixture('nvidia-smi'), sharing: 'mps' });
    expect(r.gpus.map((g) => g.sharing)).toEqual(['mps', 'mps', 'mps']);
  });

  it('samples utilisation, N/A as 0', async () => {
    expect(await sampleNvidiaGpus({ nvidiaSmi: fixture('nvidia-smi') })).toEqual([
      { gpuIndex: 0, utilPercent: 37, memoryUsedMiB: 1234 },
      { gpuIndex: 1, utilPercent: 0, memoryUsedMiB: 3 },
      { gpuIndex: 2, utilPercent: 0, memoryUsedMiB: 512 },
    ]);
    expect(await sampleNvidiaGpus({ nvidiaSmi: '/nonexistent/nvidia-smi' })).toEqual([]);
  });

  it('says why there are no GPUs: missing, failing, no devices, garbage, hanging', async () => {
    expect(await discoverNvidiaGpus({ nvidiaSmi: '/nonexistent/nvidia-smi' })).toEqual({ gpus: [], problem: '/nonexistent/nvidia-smi not found' });
    const failing = await discoverNvidiaGpus({ nvidiaSmi: fixture('nvidia-smi-failing') });
    expect(failing.gpus).toEqual([]);
    expect(failing.problem).toMatch(/failed \(exit 9\): NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/);
    expect(await discoverNvidiaGpus({ nvidiaSmi: fixture('nvidia-smi-no-devices') })).toEqual({ gpus: [], problem: 'nvidia-smi found no GPUs' });
    const garbage = await discoverNvidiaGpus({ nvidiaSmi: fixture('nvidia-smi-garbage') });
    expect(garbage.gpus).toEqual([]);
    expect(garbage.problem).toMatch(/not the expected CSV \(line 1/);

    const tmp = tempDir();
    try {
      const hang = join(tmp.dir, 'nvidia-smi');
      const pidFile = join(tmp.dir, 'pid');
      // It would answer nothing (exit 0, no rows: "found no GPUs") after 600 s; only the timeout
      // can produce the message below, and it must leave no process behind.
      writeFileSync(hang, `#!/bin/sh\necho $$ > ${pidFile}\nexec sleep 600\n`);
      chmodSync(hang, 0o755);
      const r = await discoverNvidiaGpus({ nvidiaSmi: hang, timeoutMs: 200 });
      expect(r).toEqual({ gpus: [], problem: `${hang} did not answer within 200 ms` });
      const pid = Number(readFileSync(pidFile, 'utf8'));
      expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    } finally {
      tmp.cleanup();
    }
  });

  it('refuses rows with a bad index, uuid or memory', () => {
    expect(parseGpuCsv('x, GPU-1, NVIDIA H100 80GB HBM3, 81559', 'exclusive')).toHaveProperty('problem');
    expect(parseGpuCsv('0, 1234, NVIDIA H100 80GB HBM3, 81559', 'exclusive')).toHaveProperty('problem');
    expect(parseGpuCsv('0, GPU-1, NVIDIA H100 80GB HBM3, [N/A]', 'exclusive')).toHaveProperty('problem');
    expect(parseGpuCsv('', 'exclusive')).toEqual({ gpus: [] });
  });
});

describe('simulated GPUs', () => {
  it('builds devices from a spec with stable uuids', () => {
    const g = simulatedGpus('2xA100-40GB,1xT4', 'box');
    expect(g).toEqual([
      { index: 0, uuid: 'GPU-sim-box-0', model: 'A100-40GB', memoryMiB: 40960, tflops: 312, sharing: 'simulated' },
      { index: 1, uuid: 'GPU-sim-box-1', model: 'A100-40GB', memoryMiB: 40960, tflops: 312, sharing: 'simulated' },
      { index: 2, uuid: 'GPU-sim-box-2', model: 'T4', memoryMiB: 16384, tflops: 65, sharing: 'simulated' },
    ]);
    expect(simulatedGpus('2xA100-40GB,1xT4', 'box')).toEqual(g);
    expect(() => simulatedGpus('3xNOPE', 'box')).toThrow(/unknown GPU model "NOPE"/);
  });

  it('reports utilisation as the allocated share', () => {
    const g = simulatedGpus('2xH100', 'b');
    expect(simulatedSamples(g, [{ gpus: [0], gpuMilli: 500, memoryMiB: 1000 }, { gpus: [0, 1], gpuMilli: 250, memoryMiB: 10 }])).toEqual([
      { gpuIndex: 0, utilPercent: 75, memoryUsedMiB: 1010 },
      { gpuIndex: 1, utilPercent: 25, memoryUsedMiB: 10 },
    ]);
  });
});

describe('resolveNodeGpus', () => {
  it('declared beats discovered; discovered beats the default; the default says why', async () => {
    const declared = await resolveNodeGpus({ gpus: '1xT4', nvidiaSmi: fixture('nvidia-smi'), nodeName: 'n' });
    expect(declared).toMatchObject({ simulated: true, gpus: [{ model: 'T4' }] });
    const real = await resolveNodeGpus({ nvidiaSmi: fixture('nvidia-smi'), nodeName: 'n', sharing: 'timeslice' });
    expect(real.simulated).toBe(false);
    expect(real.gpus).toHaveLength(3);
    expect(real.note).toMatch(/3 real GPU\(s\).*sharing timeslice/);
    const none = await resolveNodeGpus({ nvidiaSmi: fixture('nvidia-smi-failing'), nodeName: 'n' });
    expect(none).toMatchObject({ simulated: true, gpus: [{ model: 'H100-80GB' }, { model: 'H100-80GB' }] });
    expect(none.note).toMatch(/no real GPUs \(.*NVIDIA driver.*\): using 2 simulated/);
  });

  it('reads host CPU and RAM', () => {
    const h = hostResources();
    expect(h.cpuMilli).toBeGreaterThanOrEqual(1000);
    expect(h.memoryMiB).toBeGreaterThan(100);
  });
});
