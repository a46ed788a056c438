import { describe, expect, it } from 'vitest';
import { ashaRungs, decideStops, objectiveSeries, type TrialProgress } from './stopping.js';

/** A trial whose loss is `level` at every step up to `steps`. */
const flat = (id: string, level: number, steps: number, state: TrialProgress['state'] = 'RUNNING'): TrialProgress => ({
  id,
  state,
  points: Array.from({ length: steps }, (_, i) => ({ step: i + 1, value: level })),
});

describe('median rule', () => {
  const rule = { kind: 'median', minSteps: 2, minTrials: 3 } as const;
  it('stops a trial worse than the median of the others and keeps the rest', () => {
    const trials = [flat('a', 1, 3), flat('b', 2, 3), flat('c', 3, 3, 'SUCCEEDED'), flat('d', 9, 3)];
    expect(decideStops(rule, 'minimize', trials)).toEqual(['d']);
    expect(decideStops(rule, 'maximize', trials)).toEqual(['a', 'b']);
  });
  it('waits for min steps and min trials', () => {
    expect(decideStops(rule, 'minimize', [flat('a', 1, 1), flat('b', 1, 1), flat('c', 1, 1), flat('d', 9, 1)])).toEqual([]);
    expect(decideStops(rule, 'minimize', [flat('a', 1, 3), flat('b', 1, 3), flat('d', 9, 3)])).toEqual([]);
  });
});

describe('ASHA', () => {
  const rule = { kind: 'asha', minStep: 1, maxStep: 27, reductionFactor: 3 } as const;
  it('has rungs at minStep·η^k', () => {
    expect(ashaRungs(rule)).toEqual([1, 3, 9]);
  });
  it('keeps the top 1/η at the highest rung reached', () => {
    const trials = [flat('a', 1, 3), flat('b', 2, 3), flat('c', 3, 3), flat('d', 4, 3), flat('e', 5, 3), flat('f', 6, 3)];
    expect(decideStops(rule, 'minimize', trials)).toEqual(['c', 'd', 'e', 'f']);
  });
  it('does not judge with fewer than η at the rung', () => {
    expect(decideStops(rule, 'minimize', [flat('a', 1, 1), flat('b', 5, 1)])).toEqual([]);
  });
  it('judges running trials only, against finished ones too', () => {
    expect(decideStops(rule, 'minimize', [flat('a', 1, 3), flat('b', 2, 3), flat('c', 9, 3, 'SUCCEEDED')])).toEqual(['b']);
  });
});

describe('objectiveSeries', () => {
  it('keeps points with the metric, sorted by step', () => {
    expect(objectiveSeries([{ step: 2, values: { loss: 1 } }, { step: 1, values: { acc: 3 } }, { step: 0, values: { loss: 4 } }], 'loss')).toEqual([
      { step: 0, value: 4 },
      { step: 2, value: 1 },
    ]);
  });
});
