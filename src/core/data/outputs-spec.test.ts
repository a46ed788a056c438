import { describe, expect, it } from 'vitest';
import { parseTaskSpec } from '../spec.js';
import { parseOutputs } from './outputs-spec.js';

describe('task data outputs', () => {
  it('reads folders and files with their dataset, trailing slashes dropped', () => {
    expect(parseOutputs([{ path: 'out/', dataset: 'ckpt' }, { path: 'logs/metrics.json', dataset: 'metrics' }])).toEqual([
      { path: 'out', dataset: 'ckpt' },
      { path: 'logs/metrics.json', dataset: 'metrics' },
    ]);
    const spec = parseTaskSpec({ command: 'train', inputs: [{ dataset: 'imgs', path: 'data' }], outputs: [{ path: 'out', dataset: 'ckpt' }] }, { tenant: 't' });
    expect(spec.outputs).toEqual([{ path: 'out', dataset: 'ckpt' }]);
  });

  it('refuses bad outputs at submit with the field named', () => {
    const bad: [unknown, RegExp][] = [
      [[], /^outputs: must be a non-empty list/],
      ['out/', /^outputs: must be a non-empty list/],
      [[{ path: '/tmp/out', dataset: 'x' }], /^outputs\.0\.path: "\/tmp\/out" must be relative/],
      [[{ path: 'a/../../etc', dataset: 'x' }], /^outputs\.0\.path: .*'\.\.' segment/],
      [[{ path: './', dataset: 'x' }], /^outputs\.0\.path: must name a folder or file/],
      [[{ path: 'out' }], /^outputs\.0\.dataset: is missing/],
      [[{ dataset: 'x' }], /^outputs\.0\.path: is missing/],
      [[{ path: 'out', dataset: 'Bad Name' }], /^outputs\.0\.dataset: "Bad Name" is not a dataset name/],
      [[{ path: 'out', dataset: 'x@2' }], /^outputs\.0\.dataset: "x@2" is not a dataset name/],
      [[{ path: 'a', dataset: 'x' }, { path: 'b', dataset: 'x' }], /^outputs\.1\.dataset: x is output 0's dataset too/],
      [[{ path: 'a', dataset: 'x' }, { path: 'a/b', dataset: 'y' }], /^outputs\.1\.path: "a\/b" overlaps output 0's path "a"/],
      [[{ path: 'out', dataset: 'x', mode: 'rw' }], /^outputs\.0\.mode: unknown field "mode"/],
      [[{ path: 7, dataset: 'x' }], /^outputs\.0\.path: must be a relative path/],
      [['out'], /^outputs\.0: must be an object/],
    ];
    for (const [raw, re] of bad) expect(() => parseOutputs(raw)).toThrow(re);
    expect(() => parseTaskSpec({ command: 'x', inputs: [{ dataset: 'imgs', path: 'data' }], outputs: [{ path: 'data/out', dataset: 'o' }] }, { tenant: 't' })).toThrow(
      /^outputs\.0\.path: "data\/out" overlaps input 0's path "data" \(inputs are read-only\)/,
    );
    expect(() => parseTaskSpec({ command: 'x', output: [] }, { tenant: 't' })).toThrow(/did you mean outputs/);
  });
});
