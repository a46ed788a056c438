import { describe, expect, it } from 'vitest';
import { compareTasks, orderQueue } from './order.js';
import { makeTask, seededRng } from './testing.js';
import type { Task } from '../types.js';

function tasks(rng: () => number, n: number, priorities: number, sorted: boolean): Task[] {
  const out = Array.from({ length: n }, (_, i) =>
    makeTask(`t-${Math.floor(rng() * n)}-${i}`, { priority: Math.floor(rng() * priorities) * 10 - 20, createdAt: sorted ? i >> 2 : Math.floor(rng() * (n / 4)) }),
  );
  return out;
}

describe('orderQueue', () => {
  it('gives the very order of one sort by priority, submit time and id', () => {
    const rng = seededRng(7);
    for (const priorities of [1, 3, 70]) {
      for (const sorted of [true, false]) {
        const input = tasks(rng, 2000, priorities, sorted);
        const copy = [...input];
        const got = orderQueue(input);
        expect(got.map((t) => t.id)).toEqual([...input].sort(compareTasks).map((t) => t.id));
        expect(input).toEqual(copy); // a new array: the input is left as it was
        expect(got).not.toBe(input);
      }
    }
  });

  it('a queue already in submit order within each priority (no sort needed) and one out of order', () => {
    const rng = seededRng(9);
    const inOrder = Array.from({ length: 500 }, (_, i) => makeTask(`a-${i}`, { priority: [10, 50, 90][Math.floor(rng() * 3)]!, createdAt: i }));
    expect(orderQueue(inOrder).map((t) => t.id)).toEqual([...inOrder].sort(compareTasks).map((t) => t.id));
    const reversed = [...inOrder].reverse();
    expect(orderQueue(reversed).map((t) => t.id)).toEqual([...reversed].sort(compareTasks).map((t) => t.id));
  });

  it('an empty queue', () => {
    expect(orderQueue([])).toEqual([]);
  });
});
