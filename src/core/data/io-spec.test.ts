import { describe, expect, it } from 'vitest';
import { parseTaskSpec } from '../spec.js';
import { isDataInputList, parseInputs } from './io-spec.js';

describe('task data inputs', () => {
  it('reads dataset references with their path and variable, defaulting both to the name', () => {
    expect(parseInputs([{ dataset: 'imgs@2', path: 'data/imgs/' }, { dataset: 'tok-v1' }])).toEqual([
      { dataset: 'imgs', version: 2, path: 'data/imgs', env: 'FASTGPU_INPUT_IMGS' },
      { dataset: 'tok-v1', path: 'tok-v1', env: 'FASTGPU_INPUT_TOK_V1' },
    ]);
    const spec = parseTaskSpec({ command: 'ls', inputs: [{ dataset: 'imgs', name: 'train' }] }, { tenant: 't' });
    expect(spec.inputs).toEqual([{ dataset: 'imgs', path: 'imgs', env: 'FASTGPU_INPUT_TRAIN' }]);
  });

  it('refuses bad inputs with the field named', () => {
    const bad: [unknown, RegExp][] = [
      [[], /^inputs: must be a non-empty list/],
      [[{ dataset: 'imgs', path: '/etc' }], /^inputs\.0\.path: "\/etc" must be relative/],
      [[{ dataset: 'imgs', path: 'a/../../b' }], /^inputs\.0\.path: .*'\.\.' segment/],
      [[{ dataset: 'Imgs' }], /^inputs\.0\.dataset: "Imgs" is not a dataset name/],
      [[{ dataset: 'imgs@x' }], /^inputs\.0\.dataset: version "x"/],
      [[{ path: 'x' }], /^inputs\.0\.dataset: is missing/],
      [[{ dataset: 'a' }, { dataset: 'a@2' }], /^inputs\.1\.name: FASTGPU_INPUT_A is input 0's variable too/],
      [[{ dataset: 'a', path: 'd' }, { dataset: 'b', path: 'd/b' }], /^inputs\.1\.path: "d\/b" overlaps input 0's path "d"/],
      [[{ dataset: 'a', mode: 'rw' }], /^inputs\.0\.mode: unknown field "mode"/],
      [[{ url: 'https://example.com/x.tar' }], /^inputs\.0\.url: URL inputs are not supported/],
      [[{ hostPath: '/data' }], /^inputs\.0\.hostPath: host path inputs are not supported/],
    ];
    for (const [raw, re] of bad) expect(() => parseInputs(raw)).toThrow(re);
  });

  it("tells data inputs from a map's inputs", () => {
    expect(isDataInputList([{ dataset: 'a' }, { dataset: 'b', path: 'x' }])).toBe(true);
    expect(isDataInputList([1, 2, 3])).toBe(false);
    expect(isDataInputList([{ lr: 0.1 }, { dataset: 'b' }])).toBe(false);
    expect(isDataInputList([])).toBe(false);
  });
});
