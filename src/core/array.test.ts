import { describe, expect, it } from 'vitest';
import { arrayStatus, capArrays, formatArrayRange, MAX_ARRAY_SIZE, parseArrayRange } from './array.js';
import { FastGpuError } from './errors.js';
import { makeTask } from './scheduler/testing.js';
import type { Task, TaskState } from './types.js';

function element(i: number, state: TaskState = 'PENDING', max?: number, size = 10, id = 'a_1'): Task {
  const t = makeTask(`t${id}-${i}`, { state });
  t.array = { id, index: i, size, ...(max !== undefined ? { max } : {}) };
  return t;
}

function errorOf(f: () => unknown): FastGpuError {
  try {
    f();
  } catch (e) {
    if (e instanceof FastGpuError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('parseArrayRange', () => {
  it('reads ranges, steps, lists and the %N cap', () => {
    expect(parseArrayRange('0-99%8')).toEqual({ indices: Array.from({ length: 100 }, (_, i) => i), max: 8 });
    expect(parseArrayRange('1,5-9:2')).toEqual({ indices: [1, 5, 7, 9] });
    expect(parseArrayRange(' 3, 1 ,2,3 ')).toEqual({ indices: [1, 2, 3] });
    expect(parseArrayRange(4)).toEqual({ indices: [0, 1, 2, 3] });
    expect(parseArrayRange('7')).toEqual({ indices: [7] });
  });

  it('takes 10,000 elements and refuses one more', () => {
    expect(parseArrayRange(`0-${MAX_ARRAY_SIZE - 1}`).indices).toHaveLength(MAX_ARRAY_SIZE);
    expect(errorOf(() => parseArrayRange(`0-${MAX_ARRAY_SIZE}`)).message).toContain(`more than ${MAX_ARRAY_SIZE} elements`);
    expect(errorOf(() => parseArrayRange(`0-5000,6000-11000`)).message).toContain('more than');
  });

  it('refuses malformed input with a message naming the problem', () => {
    const cases: [unknown, string][] = [
      ['0-99%0', '"%0" would let no element run'],
      ['0-99%x', '"%x" is not a number'],
      ['0-99%8%2', 'more than one "%"'],
      ['9-1', 'runs backwards'],
      ['1-', 'cannot read "1-"'],
      ['a-b', 'cannot read "a-b"'],
      ['1,,2', 'cannot read ""'],
      ['', 'is empty'],
      ['%4', 'names no indices'],
      ['0-10:0', 'the step must be 1 or more'],
      ['0-2000000', 'above the highest allowed'],
      [0, 'from 1 to'],
      [2.5, 'from 1 to'],
      [true, 'must be a string'],
    ];
    for (const [input, want] of cases) {
      const e = errorOf(() => parseArrayRange(input));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.field).toBe('array');
      expect(e.message).toContain(want);
    }
  });

  it('formats a range back', () => {
    expect(formatArrayRange(parseArrayRange('0-99%8'))).toBe('0-99%8');
    expect(formatArrayRange(parseArrayRange('1,3,5-7'))).toBe('1,3,5-7');
  });
});

describe('arrayStatus', () => {
  it('counts elements by state and says when all are done', () => {
    const s = arrayStatus([element(0, 'SUCCEEDED'), element(1, 'RUNNING'), element(2, 'PENDING')].map((t) => ({ ...t, array: { ...t.array!, size: 3 } })));
    expect(s.counts).toEqual({ SUCCEEDED: 1, RUNNING: 1, PENDING: 1 });
    expect(s.done).toBe(false);
    const all = [element(0, 'SUCCEEDED', undefined, 2), element(1, 'FAILED', undefined, 2)];
    expect(arrayStatus(all)).toMatchObject({ done: true, ok: false, size: 2 });
  });
});

describe('capArrays', () => {
  it('lets at most max minus active elements through, lowest indices first', () => {
    const pending = [5, 3, 4, 2, 9].map((i) => element(i, 'PENDING', 3));
    const active = [element(0, 'RUNNING', 3)];
    const { eligible, held } = capArrays(pending, active);
    expect(eligible.map((t) => t.array!.index)).toEqual([2, 3]);
    expect(held.map((t) => t.array!.index)).toEqual([4, 5, 9]);
  });

  it('leaves plain tasks and uncapped arrays alone, and each array its own cap', () => {
    const plain = makeTask('plain');
    const free = element(0, 'PENDING', undefined, 10, 'a_free');
    const other = [0, 1, 2].map((i) => element(i, 'PENDING', 1, 10, 'a_other'));
    const { eligible, held } = capArrays([plain, free, ...other], [element(0, 'RUNNING', 3)]);
    expect(eligible.map((t) => t.id).sort()).toEqual([plain.id, free.id, other[0]!.id].sort());
    expect(held).toHaveLength(2);
  });

  it('holds every element when the cap is used up', () => {
    const { eligible } = capArrays([element(4, 'PENDING', 2)], [element(0, 'RUNNING', 2), element(1, 'SCHEDULED', 2)]);
    expect(eligible).toEqual([]);
  });
});
