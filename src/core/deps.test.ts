import { describe, expect, it } from 'vitest';
import { findCycle, judgeDependencies, judgeDependency, parseAfter, taskTarget, type DependencyTarget } from './deps.js';
import { FastGpuError } from './errors.js';

function errorOf(f: () => unknown): FastGpuError {
  try {
    f();
  } catch (e) {
    if (e instanceof FastGpuError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('parseAfter', () => {
  it('reads ids with kinds, Slurm spellings, lists and objects', () => {
    expect(parseAfter('t_abc,a_xyz:any')).toEqual([
      { id: 't_abc', on: 'ok' },
      { id: 'a_xyz', on: 'any' },
    ]);
    expect(parseAfter(['t_a:afterok', 't_b:afternotok', { id: 't_c', on: 'failed' }, 't_a'])).toEqual([
      { id: 't_a', on: 'ok' },
      { id: 't_b', on: 'failed' },
      { id: 't_c', on: 'failed' },
    ]);
  });

  it('refuses bad input, naming the entry', () => {
    expect(errorOf(() => parseAfter('t_a:sometimes')).message).toContain('"sometimes" in "t_a:sometimes" is not a dependency kind');
    expect(errorOf(() => parseAfter('t_a,,t_b')).message).toContain('empty entry');
    expect(errorOf(() => parseAfter(['t_a', 5])).field).toBe('after.1');
    expect(errorOf(() => parseAfter('a b')).message).toContain('is not a task or array id');
    expect(errorOf(() => parseAfter([{ id: 't_a', when: 'ok' }])).field).toBe('after.0.when');
    expect(errorOf(() => parseAfter(Array.from({ length: 101 }, (_, i) => `t_${i}`))).message).toContain('at most 100');
  });
});

describe('judgeDependency', () => {
  const running: DependencyTarget = { finished: false, anyFailed: false, label: 'task t_a is RUNNING' };
  it('ok: met on success, never once anything failed (even before the end)', () => {
    expect(judgeDependency({ id: 't_a', on: 'ok' }, running).kind).toBe('waiting');
    expect(judgeDependency({ id: 't_a', on: 'ok' }, taskTarget('t_a', 'SUCCEEDED')).kind).toBe('met');
    const v = judgeDependency({ id: 't_a', on: 'ok' }, taskTarget('t_a', 'FAILED'));
    expect(v).toEqual({ kind: 'never', message: expect.stringContaining('task t_a ended FAILED') });
    expect(judgeDependency({ id: 'a_1', on: 'ok' }, { finished: false, anyFailed: true, label: 'array a_1 has a FAILED element' }).kind).toBe('never');
  });
  it('any: met on any end', () => {
    expect(judgeDependency({ id: 't_a', on: 'any' }, taskTarget('t_a', 'CANCELLED')).kind).toBe('met');
    expect(judgeDependency({ id: 't_a', on: 'any' }, taskTarget('t_a', 'PENDING')).kind).toBe('waiting');
  });
  it('failed: met on failure, never on success', () => {
    expect(judgeDependency({ id: 't_a', on: 'failed' }, taskTarget('t_a', 'TIMEOUT')).kind).toBe('met');
    expect(judgeDependency({ id: 't_a', on: 'failed' }, taskTarget('t_a', 'SUCCEEDED')).kind).toBe('never');
  });
  it('an id that names nothing is never met', () => {
    expect(judgeDependency({ id: 't_gone', on: 'any' }, undefined).kind).toBe('never');
  });
  it('all together: never wins, then waiting, then met', () => {
    const targets: Record<string, DependencyTarget> = { a: taskTarget('a', 'SUCCEEDED'), b: taskTarget('b', 'RUNNING'), c: taskTarget('c', 'FAILED') };
    expect(judgeDependencies([{ id: 'a', on: 'ok' }, { id: 'b', on: 'ok' }], (id) => targets[id]).kind).toBe('waiting');
    expect(judgeDependencies([{ id: 'b', on: 'ok' }, { id: 'c', on: 'ok' }], (id) => targets[id]).kind).toBe('never');
    expect(judgeDependencies([{ id: 'a', on: 'ok' }, { id: 'c', on: 'any' }], (id) => targets[id]).kind).toBe('met');
  });
});

describe('findCycle', () => {
  it('finds a cycle and returns the path that closes it', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(findCycle(g)).toEqual(['a', 'b', 'c', 'a']);
    expect(findCycle(new Map([['x', ['x']]]))).toEqual(['x', 'x']);
  });
  it('returns null for a DAG, even a long chain', () => {
    const g = new Map<string, string[]>();
    for (let i = 0; i < 100_000; i++) g.set(`n${i}`, i > 0 ? [`n${i - 1}`] : []);
    g.set('top', ['n99999', 'n5']);
    expect(findCycle(g)).toBeNull();
  });
});
