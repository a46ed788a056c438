import { describe, expect, it } from 'vitest';
import { FastGpuError } from '../errors.js';
import { parseSweepSpec } from './spec.js';

const ctx = { tenant: 'default' };
const base = { command: 'python train.py --lr {lr}', metric: 'loss', trials: 4 };

function errorOf(input: unknown): FastGpuError {
  try {
    parseSweepSpec(input, ctx);
  } catch (e) {
    if (e instanceof FastGpuError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

describe('parseSweepSpec', () => {
  it('compiles a full sweep file', () => {
    const s = parseSweepSpec(
      {
        name: 'lr-search',
        command: 'python train.py --lr {lr} --layers {layers}',
        space: { lr: { loguniform: [1e-5, 1e-1] }, layers: [2, 4], opt: { choice: ['adam', 'sgd'] }, drop: { uniform: [0, 0.5] }, bs: { uniform: [16, 64], int: true } },
        trials: 32,
        max_concurrent: 8,
        gpu: 0.25,
        memory: '10GiB',
        metric: { name: 'acc', goal: 'maximize' },
        early_stopping: { rule: 'asha', min_step: 1, max_step: 27, reduction_factor: 3 },
        cost_cap: '5.00',
        seed: 7,
      },
      ctx,
    );
    expect(s.trials).toBe(32);
    expect(s.maxConcurrent).toBe(8);
    expect(s.template.resources.gpu).toEqual({ count: 1, share: { kind: 'milli', milli: 250 }, memoryMiB: 10 * 1024 });
    expect(s.objective).toEqual({ metric: 'acc', goal: 'maximize' });
    expect(s.earlyStopping).toEqual({ kind: 'asha', minStep: 1, maxStep: 27, reductionFactor: 3 });
    expect(s.costCap).toBe(5_000_000n);
    expect(s.space.layers).toEqual({ kind: 'grid', values: [2, 4] });
    expect(s.space.bs).toEqual({ kind: 'uniform', low: 16, high: 64, integer: true });
    expect(s.template.command).toEqual(['sh', '-c', 'python train.py --lr {lr} --layers {layers}']);
  });

  it('defaults trials to the grid size and concurrency to the trials', () => {
    const s = parseSweepSpec({ command: 'x', metric: 'loss', space: { a: [1, 2, 3], b: { grid: ['x', 'y'] } } }, ctx);
    expect(s.trials).toBe(6);
    expect(s.maxConcurrent).toBe(6);
    expect(s.earlyStopping).toEqual({ kind: 'none' });
    expect(s.backend).toBe('native');
  });

  it.each([
    [{ ...base, space: { lr: { choice: [] } } }, 'space.lr.choice', 'has no values'],
    [{ ...base, space: { lr: [] } }, 'space.lr.grid', 'has no values'],
    [{ ...base, space: { lr: { uniform: [1, 1] } } }, 'space.lr.uniform', 'low must be below high'],
    [{ ...base, space: { lr: { loguniform: [0, 1] } } }, 'space.lr.loguniform', 'must be above 0'],
    [{ ...base, space: { lr: { uniform: [0.1, 0.9], int: true } } }, 'space.lr.uniform', 'holds no integer'],
    [{ ...base, space: { 'bad-name': [1] } }, 'space.bad-name', 'parameter name'],
    [{ ...base, trials: 2, space: { a: [1, 2, 3] } }, 'trials', 'fewer than the grid'],
    [{ command: 'x', metric: 'loss', space: { lr: { uniform: [0, 1] } } }, 'trials', 'is required'],
    [{ ...base, trials: 0 }, 'trials', 'must be from 1'],
    [{ ...base, max_concurrent: 0 }, 'max_concurrent', 'at least 1'],
    [{ ...base, gpu: 1.5 }, 'gpu', ''],
    [{ ...base, gpu: 0.25, memory: 'lots' }, 'memory', ''],
    [{ ...base, cost_cap: '-3' }, 'cost_cap', 'cannot read amount'],
    [{ ...base, early_stopping: { rule: 'asha', min_step: 5, max_step: 5 } }, 'early_stopping.max_step', 'above min_step'],
    [{ ...base, early_stopping: { rule: 'hyperband' } }, 'early_stopping.rule', ''],
    [{ ...base, surprise: 1 }, 'sweep', ''],
    [{ trials: 1, metric: 'loss' }, 'command', ''],
  ])('refuses bad input %#: %s', (input, field, message) => {
    const e = errorOf(input);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.field).toBe(field);
    expect(e.message).toContain(message);
  });
});
