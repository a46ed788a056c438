import { describe, expect, it } from 'vitest';
import type { PolicyName } from '../placement/types.js';
import type { Task } from '../types.js';
import { IncrementalScheduler } from './incremental.js';
import { schedule } from './schedule.js';
import { makeNode, makeTask, seededRng } from './testing.js';
import type { SchedulerPolicy } from './types.js';

const MIN = 60_000;

/**
 * Drives a small pool through arrivals and departures twice, with `schedule` on full snapshots and
 * with `IncrementalScheduler`, and checks that every cycle decides the same.
 */
function compare(placement: PolicyName, backfill: boolean, seed: number): number {
  const nodes = [
    makeNode('a', { gpus: 4, cpuMilli: 16_000 }),
    makeNode('b', { gpus: 2, cpuMilli: 8_000 }),
    makeNode('c', { gpus: 8, model: 'L4', gpuMemoryMiB: 24 * 1024, tflops: 121, cpuMilli: 32_000 }),
    makeNode('d', { gpus: 2, state: 'DRAINING' }),
  ];
  const rnd = seededRng(seed);
  const shapes = [0.25, 0.5, 0.3, 1, 2, 4, null, 0.7];
  const pol = (): SchedulerPolicy => ({ placement, backfill, defaultRuntimeMs: 30 * MIN, rng: seededRng(seed + 1) });
  const p1 = pol();
  const p2 = pol();
  const inc = new IncrementalScheduler(nodes);
  let active: Task[] = [];
  let pending: Task[] = [];
  const ends = new Map<string, number>();
  let placedCount = 0;
  for (let step = 0; step < 40; step++) {
    const now = 1_700_000_000_000 + step * MIN;
    // Departures, then a few arrivals.
    for (const t of active.filter((x) => ends.get(x.id)! <= now)) inc.remove(t.id);
    active = active.filter((x) => ends.get(x.id)! > now);
    const n = Math.floor(rnd() * 4);
    for (let i = 0; i < n; i++) {
      const g = shapes[Math.floor(rnd() * shapes.length)]!;
      const o: Parameters<typeof makeTask>[1] = { gpu: g, cpuMilli: 1000 + Math.floor(rnd() * 4) * 1000, createdAt: now, priority: rnd() < 0.2 ? 80 : 50 };
      if (rnd() < 0.7) o.timeLimitMs = (1 + Math.floor(rnd() * 20)) * MIN;
      pending.push(makeTask(`t${step}-${i}`, o));
    }
    const full = schedule({ nodes, active, pending, reservations: [] }, now, p1);
    const part = inc.cycle(pending, now, p2);
    expect(part.decisions).toEqual(full.decisions);
    expect(part.head).toEqual(full.head);
    for (const d of full.decisions) {
      if (d.kind !== 'place') continue;
      const t = pending.find((x) => x.id === d.taskId)!;
      const run: Task = { ...t, state: 'RUNNING', placement: d.placement, scheduledAt: now, startedAt: now };
      active.push(run);
      inc.add(run);
      ends.set(t.id, now + (t.spec.timeLimitMs ?? 45 * MIN) - (rnd() < 0.3 ? 5 * MIN : 0));
      placedCount++;
    }
    pending = pending.filter((x) => !ends.has(x.id));
  }
  expect(inc.active.length).toBe(active.length);
  return placedCount;
}

describe('IncrementalScheduler', () => {
  it.each([
    ['first-fit', false],
    ['first-fit', true],
    ['default', true],
    ['best-fit', true],
  ] as const)('decides like schedule() on full snapshots (%s, backfill %s)', (placement, backfill) => {
    for (const seed of [1, 2, 3]) expect(compare(placement, backfill, seed)).toBeGreaterThan(10);
  });

  it('rejects unknown and duplicate tasks', () => {
    const n = makeNode('a', { gpus: 1 });
    const inc = new IncrementalScheduler([n]);
    expect(() => inc.remove('x')).toThrow(/not active/);
    const t = makeTask('x');
    inc.add(t);
    expect(() => inc.add(t)).toThrow(/already active/);
  });
});
