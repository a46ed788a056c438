import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import type { Gpu } from '../core/types.js';
import { attachContext, type CliContext } from './context.js';
import { serverOptions } from './commands/server.js';
import { compileServerFlags, daemonAction, gpuBanner, gpusFlag, listenError, summariseGpus } from './daemon.js';

const ctx = (env: Record<string, string>): CliContext =>
  ({ env, cwd: '/here', stdout: { write: () => true }, stderr: { write: () => true } }) as unknown as CliContext;

const gpu = (model: string): Gpu => ({ index: 0, uuid: 'u', model, memoryMiB: 1, tflops: 1, sharing: 'simulated' });

describe('daemon flags', () => {
  it('defaults the data dir under FASTGPU_HOME and the port to 7070', () => {
    expect(compileServerFlags({}, ctx({ FASTGPU_HOME: '/h' }))).toEqual({ dataDir: '/h/data', port: 7070, host: '127.0.0.1', quiet: false });
    expect(compileServerFlags({ dataDir: 'd', port: '0', nodeLostAfter: '2s' }, ctx({}))).toMatchObject({ dataDir: '/here/d', port: 0, nodeLostAfterMs: 2000 });
  });

  it('names the flag of a bad value', () => {
    expect(() => compileServerFlags({ port: '70000' }, ctx({}))).toThrow(/^--port: "70000" is not a whole number from 0 to 65535/);
    expect(() => compileServerFlags({ nodeLostAfter: 'never' }, ctx({}))).toThrow(/^--node-lost-after: cannot read duration/);
    expect(() => gpusFlag('3xZ900')).toThrow(/^--gpus: unknown GPU model "Z900"/);
    expect(() => gpusFlag('0xH100')).toThrow(/^--gpus: count 0/);
    expect(gpusFlag(' 2xH100 ')).toBe('2xH100');
  });

  it('compiles the warm headroom flags, which need --autoscale, and names a bad one', () => {
    const auto = { autoscale: 'local:max=4' };
    expect(compileServerFlags(auto, ctx({})).autoscale?.policy.headroom).toBeUndefined();
    expect(compileServerFlags({ ...auto, spareGpus: '8' }, ctx({})).autoscale?.policy.headroom).toEqual({ spareGpus: 8, forecastFactor: 0, forecastWindowMs: 120_000 });
    expect(compileServerFlags({ ...auto, forecastFactor: '1.5', forecastWindow: '90s' }, ctx({})).autoscale?.policy.headroom).toEqual({ spareGpus: 0, forecastFactor: 1.5, forecastWindowMs: 90_000 });
    expect(() => compileServerFlags({ spareGpus: '8' }, ctx({}))).toThrow(/^--spare-gpus needs --autoscale/);
    expect(compileServerFlags({ ...auto, spareNodes: '1' }, ctx({})).autoscale?.policy.headroom).toEqual({ spareGpus: 0, spareNodes: 1, forecastFactor: 0, forecastWindowMs: 120_000 });
    expect(() => compileServerFlags({ spareNodes: '1' }, ctx({}))).toThrow(/^--spare-nodes needs --autoscale/);
    expect(() => compileServerFlags({ ...auto, spareNodes: 'x' }, ctx({}))).toThrow(/^--spare-nodes: "x" is not a whole number from 0 to 1000/);
    expect(() => compileServerFlags({ ...auto, spareGpus: '-1' }, ctx({}))).toThrow(/^--spare-gpus: "-1" is not a whole number from 0 to 10000/);
    expect(() => compileServerFlags({ ...auto, forecastFactor: 'lots' }, ctx({}))).toThrow(/^--forecast-factor: expected a number 0–100, got "lots"/);
    expect(() => compileServerFlags({ ...auto, forecastWindow: '2m' }, ctx({}))).toThrow(/^--forecast-window needs --forecast-factor/);
  });

  it('takes --logs-retention as a duration of an hour or more; logs are kept forever without it', () => {
    expect(compileServerFlags({}, ctx({})).logsRetentionMs).toBeUndefined();
    expect(compileServerFlags({ logsRetention: '90d' }, ctx({})).logsRetentionMs).toBe(90 * 86_400_000);
    expect(() => compileServerFlags({ logsRetention: '10m' }, ctx({}))).toThrow(/^--logs-retention: 10m is under an hour/);
    expect(() => compileServerFlags({ logsRetention: 'never' }, ctx({}))).toThrow(/^--logs-retention: cannot read duration "never"/);
  });

  it('compiles sample retention from --samples-raw, --samples-minute and --samples-hour', () => {
    const D = 86_400_000;
    expect(compileServerFlags({}, ctx({})).sampleRetention).toBeUndefined();
    expect(compileServerFlags({ samplesRaw: '48h', samplesHour: '400d' }, ctx({})).sampleRetention).toEqual({ rawMs: 2 * D, minuteMs: 7 * D, hourMs: 400 * D });
    expect(compileServerFlags({ samplesRaw: '1h', samplesMinute: '1d', samplesHour: '3650d' }, ctx({})).sampleRetention).toEqual({ rawMs: 3_600_000, minuteMs: D, hourMs: 3650 * D });
    expect(() => compileServerFlags({ samplesRaw: 'forever' }, ctx({}))).toThrow(/^--samples-raw: cannot read duration "forever"/);
    expect(() => compileServerFlags({ samplesHour: '3651d' }, ctx({}))).toThrow(/^--samples-hour: duration "3651d" is longer than the 3650 days allowed/);
    expect(() => compileServerFlags({ samplesMinute: '12h' }, ctx({}))).toThrow(
      /^--samples-minute: 12h is shorter than raw samples are kept \(--samples-raw 1d\); minute rollups must be kept at least as long$/,
    );
    expect(() => compileServerFlags({ samplesMinute: '30d' }, ctx({}))).not.toThrow();
    // Handed to the server as compiled, and not at all when no flag was given (the server's defaults).
    expect(serverOptions(compileServerFlags({ samplesRaw: '2d' }, ctx({})), ctx({}), '').sampleRetention).toEqual({ rawMs: 2 * D, minuteMs: 7 * D, hourMs: 400 * D });
    expect(serverOptions(compileServerFlags({}, ctx({})), ctx({}), '')).not.toHaveProperty('sampleRetention');
    expect(() => compileServerFlags({ samplesMinute: '500d' }, ctx({}))).toThrow(/^--samples-hour: 400d is shorter than minute rollups are kept \(--samples-minute 500d\)/);
  });
});

describe('gpu banner', () => {
  it('says which GPUs and why', () => {
    expect(summariseGpus([gpu('H100-80GB'), gpu('T4'), gpu('H100-80GB')])).toBe('2xH100-80GB,1xT4');
    const two = { gpus: [gpu('H100-80GB'), gpu('H100-80GB')], simulated: true };
    expect(gpuBanner(two, undefined, { PATH: '' })).toBe('using 2 simulated GPUs (2xH100-80GB): no nvidia-smi found; pass --gpus to declare others');
    expect(gpuBanner({ gpus: [gpu('T4')], simulated: true }, '1xT4', {})).toBe('using 1 simulated GPU (1xT4) from --gpus 1xT4');
    expect(gpuBanner({ gpus: [gpu('A100-80GB')], simulated: false }, undefined, {})).toBe('using 1 GPU (1xA100-80GB) found by nvidia-smi');
    const dir = mkdtempSync(join(tmpdir(), 'fastgpu-path-'));
    try {
      writeFileSync(join(dir, 'nvidia-smi'), '#!/bin/sh\n');
      chmodSync(join(dir, 'nvidia-smi'), 0o755);
      expect(gpuBanner(two, undefined, { PATH: dir })).toMatch(/: nvidia-smi found no GPUs/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('explains a port in use', () => {
    const e = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' });
    expect(listenError(e, '127.0.0.1', 7070).message).toBe(
      'port 7070 on 127.0.0.1 is already in use (another `fastgpu up`?); pass --port N, or --port 0 for any free port',
    );
  });
});

describe('daemonAction', () => {
  it('ends a process it owns soon after a failed start, and never a process it was only run in (tests)', async () => {
    vi.useFakeTimers();
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    try {
      for (const ownsProcess of [false, true]) {
        const program = new Command('fastgpu');
        attachContext(program, { ...ctx({}), ownsProcess });
        const failing = daemonAction(async (_cmd: Command) => {
          throw new Error('port in use');
        });
        await expect(failing(program)).rejects.toThrow('port in use');
        vi.advanceTimersByTime(2_000);
        expect(exit.mock.calls.length, `ownsProcess ${ownsProcess}`).toBe(ownsProcess ? 1 : 0);
      }
    } finally {
      exit.mockRestore();
      vi.useRealTimers();
    }
  });
});
