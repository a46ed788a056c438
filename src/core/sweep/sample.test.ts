import { describe, expect, it } from 'vitest';
import { gridPoints, gridSize, sampleTrial } from './sample.js';
import type { ParamSpec } from './types.js';

const space: Record<string, ParamSpec> = {
  layers: { kind: 'grid', values: [2, 4] },
  act: { kind: 'grid', values: ['relu', 'gelu'] },
  lr: { kind: 'loguniform', low: 1e-5, high: 1e-1, integer: false },
  drop: { kind: 'uniform', low: 0, high: 0.5, integer: false },
  bs: { kind: 'uniform', low: 16, high: 20, integer: true },
  opt: { kind: 'choice', values: ['adam', 'sgd', 'lion'] },
};

describe('sampler', () => {
  it('enumerates the grid as a Cartesian product', () => {
    expect(gridSize(space)).toBe(4);
    expect(gridPoints(space)).toEqual([
      { layers: 2, act: 'relu' },
      { layers: 2, act: 'gelu' },
      { layers: 4, act: 'relu' },
      { layers: 4, act: 'gelu' },
    ]);
  });

  it('covers every grid point once per round and keeps draws in range', () => {
    const seen = new Set<string>();
    const opts = new Set<unknown>();
    const bss = new Set<unknown>();
    for (let i = 0; i < 400; i++) {
      const p = sampleTrial(space, 42, i);
      if (i < 4) seen.add(`${String(p.layers)}/${String(p.act)}`);
      expect(p.lr).toBeGreaterThanOrEqual(1e-5);
      expect(p.lr).toBeLessThanOrEqual(1e-1);
      expect(p.drop).toBeGreaterThanOrEqual(0);
      expect(p.drop).toBeLessThan(0.5);
      expect(Number.isInteger(p.bs)).toBe(true);
      opts.add(p.opt);
      bss.add(p.bs);
    }
    expect(seen.size).toBe(4);
    expect([...opts].sort()).toEqual(['adam', 'lion', 'sgd']);
    expect([...bss].sort((a, b) => Number(a) - Number(b))).toEqual([16, 17, 18, 19, 20]);
  });

  it('spreads log-uniform draws over the decades', () => {
    const decades = new Set<number>();
    for (let i = 0; i < 200; i++) decades.add(Math.floor(Math.log10(sampleTrial(space, 1, i).lr as number)));
    expect([...decades].sort((a, b) => a - b)).toEqual([-5, -4, -3, -2]);
  });

  it('is a function of (seed, index)', () => {
    expect(sampleTrial(space, 9, 17)).toEqual(sampleTrial(space, 9, 17));
    expect(sampleTrial(space, 9, 17)).not.toEqual(sampleTrial(space, 10, 17));
  });
});
