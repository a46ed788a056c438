import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FastGpuError } from './errors.js';
import { parseGpuRequest, parseTaskSpec, parseVgpuRequest } from './spec.js';
import type { GpuRequest } from './types.js';

const ctx = { tenant: 'team-a' };

function errorOf(fn: () => unknown): FastGpuError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof FastGpuError)) throw e;
    return e;
  }
  throw new Error('expected a FastGpuError');
}

/** The error's field, and check that the message starts with it, as every 400 must. */
function fieldOf(fn: () => unknown): string | undefined {
  const e = errorOf(fn);
  expect(e.code).toBe('INVALID_ARGUMENT');
  expect(e.message.startsWith(`${e.field}: `)).toBe(true);
  return e.field;
}

describe('parseGpuRequest', () => {
  const milli = (m: number, extra: Partial<GpuRequest> = {}): GpuRequest => ({ count: 1, share: { kind: 'milli', milli: m }, ...extra });
  const whole = (count: number, extra: Partial<GpuRequest> = {}): GpuRequest => ({ count, share: { kind: 'milli', milli: 1000 }, ...extra });

  it.each<[unknown, GpuRequest]>([
    [1, whole(1)],
    [2, whole(2)],
    [0.5, milli(500)],
    ['0.5', milli(500)],
    ['.25', milli(250)],
    [0.0001, milli(1)],
    [0.9999, whole(1)],
    ['2', whole(2)],
    ['A100:0.5', milli(500, { model: 'A100-80GB' })],
    ['a100-40gb:0.3', milli(300, { model: 'A100-40GB' })],
    ['H100:2', whole(2, { model: 'H100-80GB' })],
    ['2xH100', whole(2, { model: 'H100-80GB' })],
    ['1x4090', whole(1, { model: 'RTX-4090' })],
    ['H100', whole(1, { model: 'H100-80GB' })],
    [{ count: 2, model: 'H100' }, whole(2, { model: 'H100-80GB' })],
    [{ count: 1 }, whole(1)],
    [{ model: 'T4' }, whole(1, { model: 'T4' })],
    [{ memory: '20GiB' }, { count: 1, share: { kind: 'memory', memoryMiB: 20480 } }],
    [{ memory: '20GiB', model: 'A100' }, { count: 1, share: { kind: 'memory', memoryMiB: 20480 }, model: 'A100-80GB' }],
    [{ count: 1, memory: '20GiB' }, { count: 1, share: { kind: 'memory', memoryMiB: 20480 } }],
    [{ tflops: 20 }, { count: 1, share: { kind: 'tflops', tflops: 20 } }],
    [{ tflops: 20, memory: '8GiB' }, { count: 1, share: { kind: 'tflops', tflops: 20 }, memoryMiB: 8192 }],
    [{ fraction: 0.5, memory: '10GiB' }, milli(500, { memoryMiB: 10240 })],
    [{ fraction: 0.25 }, milli(250)],
    [{ fraction: 1 }, whole(1)],
  ])('%j', (input, expected) => {
    expect(parseGpuRequest(input, 'resources.gpu')).toEqual(expected);
  });

  it.each<[unknown, string, RegExp]>([
    [1.5, 'resources.gpu', /1\.5 GPUs: ask for whole GPUs or a fraction below 1/],
    ['1.5', 'resources.gpu', /whole GPUs/],
    [0, 'resources.gpu', /positive/],
    [-1, 'resources.gpu', /positive/],
    [Number.NaN, 'resources.gpu', /positive/],
    [Number.POSITIVE_INFINITY, 'resources.gpu', /positive/],
    [65, 'resources.gpu', /at most 64/],
    ['65xH100', 'resources.gpu', /at most 64/],
    ['H800', 'resources.gpu', /unknown GPU model "H800"/],
    ['H800:0.5', 'resources.gpu', /unknown GPU model "H800"/],
    ['A100:half', 'resources.gpu', /cannot read the amount "half"/],
    ['', 'resources.gpu', /is empty/],
    [null, 'resources.gpu', /cannot read/],
    [true, 'resources.gpu', /cannot read/],
    [[1], 'resources.gpu', /a list/],
    [{}, 'resources.gpu', /no amount/],
    [{ count: 0 }, 'resources.gpu.count', /from 1 to 64/],
    [{ count: 1.5 }, 'resources.gpu.count', /whole number/],
    [{ count: 2, memory: '1GiB' }, 'resources.gpu.count', /of one GPU/],
    [{ count: 2, fraction: 0.5 }, 'resources.gpu.fraction', /not both/],
    [{ fraction: 0 }, 'resources.gpu.fraction', /above 0/],
    [{ fraction: 1.5 }, 'resources.gpu.fraction', /at most 1/],
    [{ fraction: 0.5, tflops: 3 }, 'resources.gpu.tflops', /not both/],
    [{ fraction: 1, memory: '1GiB' }, 'resources.gpu.memory', /whole GPU has all its memory/],
    [{ memory: '-1GiB' }, 'resources.gpu.memory', /positive/],
    [{ memory: 'lots' }, 'resources.gpu.memory', /cannot read size/],
    [{ memory: '100GiB', model: 'A100-40GB' }, 'resources.gpu.memory', /more than the 40960 MiB of a A100-40GB/],
    [{ tflops: 0 }, 'resources.gpu.tflops', /positive/],
    [{ tflops: 400, model: 'A100' }, 'resources.gpu.tflops', /more than the 312/],
    [{ tflops: '20' }, 'resources.gpu.tflops', /positive number/],
    [{ memroy: '20GiB' }, 'resources.gpu.memroy', /unknown field "memroy"/],
    [{ model: 'banana' }, 'resources.gpu.model', /unknown GPU model/],
  ])('rejects %j at %s', (input, field, msg) => {
    const e = errorOf(() => parseGpuRequest(input, 'resources.gpu'));
    expect(e.field).toBe(field);
    expect(e.message).toMatch(msg);
    expect(e.message.startsWith(`${field}: `)).toBe(true);
  });
});

describe('parseTaskSpec', () => {
  it('fills defaults', () => {
    expect(parseTaskSpec({ command: ['python', 'train.py'] }, ctx)).toEqual({
      name: 'python',
      command: ['python', 'train.py'],
      env: {},
      resources: { gpu: null, cpuMilli: 250, memoryMiB: 1024 },
      priority: 50,
      retries: 0,
      preemptible: false,
      gang: 1,
      tenant: 'team-a',
    });
  });

  it('reads every field of the documented example', () => {
    const spec = parseTaskSpec(
      {
        name: 'train',
        command: ['python', 'train.py'],
        env: { KEY: 'value', CUDA_LAUNCH_BLOCKING: '1' },
        workdir: '/srv/job',
        resources: { gpu: 'A100:0.5', cpu: '500m', memory: '4GiB' },
        priority: 80,
        timeLimit: '2h',
        retries: 3,
        preemptible: true,
        gang: 4,
        vgpu: 'vg_abc123',
      },
      ctx,
    );
    expect(spec).toEqual({
      name: 'train',
      command: ['python', 'train.py'],
      env: { KEY: 'value', CUDA_LAUNCH_BLOCKING: '1' },
      workdir: '/srv/job',
      resources: { gpu: { count: 1, share: { kind: 'milli', milli: 500 }, model: 'A100-80GB' }, cpuMilli: 500, memoryMiB: 4096 },
      priority: 80,
      timeLimitMs: 7_200_000,
      retries: 3,
      preemptible: true,
      gang: 4,
      vgpuId: 'vg_abc123',
      tenant: 'team-a',
    });
  });

  it('runs a string command with sh -c and names it after its first word', () => {
    const spec = parseTaskSpec({ command: 'python train.py --epochs 3' }, ctx);
    expect(spec.command).toEqual(['sh', '-c', 'python train.py --epochs 3']);
    expect(spec.name).toBe('python');
  });

  it.each([
    [['/usr/bin/python3', 'x.py'], 'python3'],
    [['./run me.sh'], 'run-me.sh'],
    [['%%%'], 'task'],
    [['a'.repeat(300)], 'a'.repeat(128)],
  ])('derives the name %j → %s', (command, name) => {
    expect(parseTaskSpec({ command }, ctx).name).toBe(name);
  });

  it('gives a task with no time limit the pool default, and keeps one that has its own', () => {
    expect(parseTaskSpec({ command: 'x' }, { ...ctx, defaultTimeLimitMs: 7_200_000 }).timeLimitMs).toBe(7_200_000);
    expect(parseTaskSpec({ command: 'x', timeLimit: '5m' }, { ...ctx, defaultTimeLimitMs: 7_200_000 }).timeLimitMs).toBe(300_000);
    expect(parseTaskSpec({ command: 'x' }, ctx).timeLimitMs).toBeUndefined();
  });

  it('treats null optional fields (empty YAML values) as absent and gpu 0 as CPU-only', () => {
    const spec = parseTaskSpec({ command: 'true', name: null, env: null, resources: { gpu: 0, cpu: null }, priority: null }, ctx);
    expect(spec.name).toBe('true');
    expect(spec.resources).toEqual({ gpu: null, cpuMilli: 250, memoryMiB: 1024 });
    expect(spec.priority).toBe(50);
  });

  it.each<[unknown, string, RegExp]>([
    [{}, 'command', /is missing; give the command/],
    [{ command: '' }, 'command', /is empty/],
    [{ command: '   ' }, 'command', /is empty/],
    [{ command: [] }, 'command', /is empty/],
    [{ command: [''] }, 'command.0', /program to run is empty/],
    [{ command: ['a', 1] }, 'command', /list of strings/],
    [{ command: 'a\0b' }, 'command', /NUL/],
    [{ command: 'x', colour: 'red' }, 'colour', /unknown field "colour"/],
    [{ command: 'x', resources: { gpus: 1 } }, 'resources.gpus', /unknown field "gpus"/],
    [{ command: 'x', resources: { gpu: { count: 2, modle: 'H100' } } }, 'resources.gpu.modle', /unknown field/],
    [{ command: 'x', resources: { gpu: 1.5 } }, 'resources.gpu', /whole GPUs/],
    [{ command: 'x', resources: { gpu: 'Z9000' } }, 'resources.gpu', /unknown GPU model "Z9000"/],
    [{ command: 'x', resources: { cpu: 0 } }, 'resources.cpu', /positive/],
    [{ command: 'x', resources: { cpu: true } }, 'resources.cpu', /cores/],
    [{ command: 'x', resources: { memory: '-4GiB' } }, 'resources.memory', /positive/],
    [{ command: 'x', resources: { memory: '1PB' } }, 'resources.memory', /cannot read/],
    [{ command: 'x', resources: 'big' }, 'resources', /object/],
    [{ command: 'x', priority: 101 }, 'priority', /0 to 100/],
    [{ command: 'x', priority: -1 }, 'priority', /0 to 100/],
    [{ command: 'x', priority: 1.5 }, 'priority', /whole number/],
    [{ command: 'x', priority: '50' }, 'priority', /whole number/],
    [{ command: 'x', priority: Number.NaN }, 'priority', /whole number/],
    [{ command: 'x', retries: 101 }, 'retries', /0 to 100/],
    [{ command: 'x', gang: 0 }, 'gang', /1 to 1024/],
    [{ command: 'x', gang: 2000 }, 'gang', /1 to 1024/],
    [{ command: 'x', preemptible: 'yes' }, 'preemptible', /true or false/],
    [{ command: 'x', timeLimit: '0s' }, 'timeLimit', /positive/],
    [{ command: 'x', timeLimit: '400d' }, 'timeLimit', /365 days/],
    [{ command: 'x', timeLimit: 'soon' }, 'timeLimit', /cannot read duration/],
    [{ command: 'x', env: { PORT: 80 } }, 'env.PORT', /must be a string/],
    [{ command: 'x', env: { DEBUG: true } }, 'env.DEBUG', /must be a string/],
    [{ command: 'x', env: ['A=1'] }, 'env', /object/],
    [{ command: 'x', env: { '1BAD': 'v' } }, 'env.1BAD', /not a valid variable name/],
    [{ command: 'x', env: { 'A-B': 'v' } }, 'env.A-B', /not a valid variable name/],
    [{ command: 'x', env: { FASTGPU_TASK_ID: 'v' } }, 'env.FASTGPU_TASK_ID', /set by FastGPU/],
    [{ command: 'x', env: { CUDA_VISIBLE_DEVICES: '0' } }, 'env.CUDA_VISIBLE_DEVICES', /set by FastGPU/],
    [{ command: 'x', env: { CUDA_MPS_PIPE_DIRECTORY: '/tmp' } }, 'env.CUDA_MPS_PIPE_DIRECTORY', /set by FastGPU/],
    [JSON.parse('{"command":"x","env":{"__proto__":"v"}}'), 'env.__proto__', /not an allowed/],
    [{ command: 'x', workdir: 'relative/dir' }, 'workdir', /absolute path/],
    [{ command: 'x', workdir: 5 }, 'workdir', /absolute path/],
    [{ command: 'x', name: 'my job' }, 'name', /not a valid name/],
    [{ command: 'x', name: '' }, 'name', /not a valid name/],
    [{ command: 'x', name: 'a'.repeat(129) }, 'name', /1 to 128/],
    [{ command: 'x', vgpu: ' ' }, 'vgpu', /is empty/],
    [{ command: 'x', vgpu: 7 }, 'vgpu', /vGPU id/],
    [null, 'spec', /must be an object/],
    [[], 'spec', /must be an object/],
    ['command: x', 'spec', /must be an object/],
  ])('rejects %j at %s', (input, field, msg) => {
    const e = errorOf(() => parseTaskSpec(input, ctx));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.field).toBe(field);
    expect(e.message).toMatch(msg);
    expect(e.message.startsWith(`${field}: `)).toBe(true);
  });

  it('never throws anything but a FastGpuError on junk', () => {
    const junkSpec = fc.record(
      {
        name: fc.anything(),
        command: fc.oneof(fc.string(), fc.array(fc.string()), fc.anything()),
        env: fc.oneof(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())), fc.anything()),
        workdir: fc.anything(),
        resources: fc.oneof(
          fc.record({ gpu: fc.anything(), cpu: fc.anything(), memory: fc.anything() }, { requiredKeys: [] }),
          fc.record({ gpu: fc.oneof(fc.double(), fc.string(), fc.record({ count: fc.double(), fraction: fc.double(), memory: fc.string(), tflops: fc.double(), model: fc.string() }, { requiredKeys: [] })) }),
          fc.anything(),
        ),
        priority: fc.oneof(fc.double(), fc.anything()),
        timeLimit: fc.oneof(fc.string(), fc.double()),
        retries: fc.integer(),
        preemptible: fc.anything(),
        gang: fc.integer(),
        vgpu: fc.anything(),
        extra: fc.anything(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.anything(), junkSpec), (input) => {
        try {
          parseTaskSpec(input, ctx);
        } catch (e) {
          expect(e).toBeInstanceOf(FastGpuError);
          expect((e as FastGpuError).field).toBeTruthy();
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps valid specs: command, priority, GPU amount and env survive parsing', () => {
    const envKey = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,10}$/).filter((k) => !k.startsWith('FASTGPU_') && !k.startsWith('CUDA_') && k !== 'NVIDIA_VISIBLE_DEVICES');
    const valid = fc.record({
      command: fc.array(fc.string({ minLength: 1 }).filter((s) => s.trim() !== '' && !s.includes('\0')), { minLength: 1, maxLength: 5 }),
      env: fc.dictionary(envKey, fc.string().filter((s) => !s.includes('\0'))),
      priority: fc.integer({ min: 0, max: 100 }),
      retries: fc.integer({ min: 0, max: 100 }),
      gang: fc.integer({ min: 1, max: 1024 }),
      resources: fc.record({
        gpu: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 999 }).map((m) => m / 1000)),
        cpu: fc.integer({ min: 1, max: 1000 }),
        memory: fc.integer({ min: 1, max: 1 << 20 }).map((m) => `${m}MiB`),
      }),
    });
    fc.assert(
      fc.property(valid, (input) => {
        const spec = parseTaskSpec(input, ctx);
        expect(spec.command).toEqual(input.command);
        expect(spec.env).toEqual(input.env);
        expect(spec.priority).toBe(input.priority);
        expect(spec.retries).toBe(input.retries);
        expect(spec.gang).toBe(input.gang);
        expect(spec.resources.cpuMilli).toBe(input.resources.cpu * 1000);
        expect(`${spec.resources.memoryMiB}MiB`).toBe(input.resources.memory);
        const gpu = spec.resources.gpu!;
        const g = input.resources.gpu;
        if (g >= 1) expect(gpu).toEqual({ count: g, share: { kind: 'milli', milli: 1000 } });
        else expect(gpu).toEqual({ count: 1, share: { kind: 'milli', milli: Math.round(g * 1000) } });
        expect(spec.name).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseVgpuRequest', () => {
  it.each<[unknown, { name: string | undefined; request: GpuRequest }]>([
    [{ gpu: 0.5 }, { name: undefined, request: { count: 1, share: { kind: 'milli', milli: 500 } } }],
    [{ gpu: 1, name: 'dev-box' }, { name: 'dev-box', request: { count: 1, share: { kind: 'milli', milli: 1000 } } }],
    [{ gpu: 'A100:0.5' }, { name: undefined, request: { count: 1, share: { kind: 'milli', milli: 500 }, model: 'A100-80GB' } }],
    [{ gpu: 0.5, memory: '20GiB' }, { name: undefined, request: { count: 1, share: { kind: 'milli', milli: 500 }, memoryMiB: 20480 } }],
    [{ memory: '20GiB' }, { name: undefined, request: { count: 1, share: { kind: 'memory', memoryMiB: 20480 } } }],
    [{ tflops: 20 }, { name: undefined, request: { count: 1, share: { kind: 'tflops', tflops: 20 } } }],
    [{ tflops: 20, model: 'l4' }, { name: undefined, request: { count: 1, share: { kind: 'tflops', tflops: 20 }, model: 'L4' } }],
    [{ gpu: 'A100:0.5', model: 'A100-80GB' }, { name: undefined, request: { count: 1, share: { kind: 'milli', milli: 500 }, model: 'A100-80GB' } }],
    [{ model: 'H100' }, { name: undefined, request: { count: 1, share: { kind: 'milli', milli: 1000 }, model: 'H100-80GB' } }],
  ])('%j', (input, expected) => {
    expect(parseVgpuRequest(input)).toEqual(expected);
  });

  it.each<[unknown, string, RegExp]>([
    [{}, 'gpu', /needs an amount/],
    [{ gpu: 2 }, 'gpu', /one GPU or a share of one/],
    [{ gpu: '2xH100' }, 'gpu', /one GPU or a share of one/],
    [{ gpu: 0 }, 'gpu', /positive/],
    [{ gpu: 0.5, tflops: 10 }, 'tflops', /not both/],
    [{ gpu: 'A100:0.5', model: 'H100' }, 'model', /differs/],
    [{ gpu: 0.5, colour: 'red' }, 'colour', /unknown field "colour"/],
    [{ memory: 'much' }, 'memory', /cannot read size/],
    [{ tflops: -3 }, 'tflops', /positive/],
    [{ model: 'H800' }, 'model', /unknown GPU model/],
    [{ gpu: 0.5, name: 'has space' }, 'name', /not a valid name/],
    [{ gpu: true }, 'gpu', /fraction/],
    ['0.5', 'body', /must be an object/],
  ])('rejects %j at %s', (input, field, msg) => {
    expect(fieldOf(() => parseVgpuRequest(input))).toBe(field);
    expect(errorOf(() => parseVgpuRequest(input)).message).toMatch(msg);
  });
});
