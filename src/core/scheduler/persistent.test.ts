import { describe, expect, it } from 'vitest';
import type { PolicyName } from '../placement/types.js';
import type { Tenant } from '../tenancy/types.js';
import type { NodeRecord, Task, VgpuReservation } from '../types.js';
import { PersistentScheduler } from './persistent.js';
import { schedule } from './schedule.js';
import { fairShareOrder } from './tenancy.js';
import { makeNode, makeTask, seededRng } from './testing.js';
import type { SchedulerPolicy, SchedulerSnapshot, TenancySnapshot } from './types.js';

const MIN = 60_000;
const T0 = 1_700_000_000_000;

interface Options {
  placement: PolicyName;
  backfill: boolean;
  tenancy: boolean;
  seed: number;
}

/**
 * Drives a small pool through arrivals, departures, gangs, preemptions, nodes that drain and come
 * back, heartbeats (new node records) and placements the caller drops, deciding every cycle twice:
 * `schedule` on the full snapshot and one `PersistentScheduler` kept across cycles. Both must decide
 * the same, decision for decision, every cycle.
 */
function compare(o: Options): { placed: number; preempted: number; ps: PersistentScheduler } {
  let nodes: NodeRecord[] = [
    makeNode('a', { gpus: 4, cpuMilli: 16_000 }),
    makeNode('b', { gpus: 2, cpuMilli: 8_000 }),
    makeNode('c', { gpus: 8, model: 'L4', gpuMemoryMiB: 24 * 1024, tflops: 121, cpuMilli: 32_000 }),
    makeNode('d', { gpus: 2, state: 'DRAINING' }),
    makeNode('e', { gpus: 4, cpuMilli: 24_000 }),
  ];
  const rnd = seededRng(o.seed);
  const shapes = [0.25, 0.5, 0.3, 1, 2, 4, null, 0.7];
  const tenants: Tenant[] = [
    { name: 'a', guaranteeMilli: 4000, limitMilli: null, weight: 1, budget: null },
    { name: 'b', guaranteeMilli: 2000, limitMilli: 10_000, weight: 2, budget: null },
  ];
  const pol = (): SchedulerPolicy => ({ placement: o.placement, backfill: o.backfill, defaultRuntimeMs: 30 * MIN, rng: seededRng(o.seed + 1), ...(o.tenancy ? { order: fairShareOrder() } : {}) });
  const p1 = pol();
  const p2 = pol();
  const ps = new PersistentScheduler();
  let active: Task[] = [];
  let pending: Task[] = [];
  const ends = new Map<string, number>();
  /** Preempted tasks → the step they stop at; waiting task → its victims. */
  const stopAt = new Map<string, number>();
  const claims = new Map<string, string[]>();
  let placed = 0;
  let preempted = 0;
  let gangs = 0;
  for (let step = 0; step < 60; step++) {
    const now = T0 + step * MIN;
    // Departures (ended or preempted), back to the queue when preempted.
    const leaving = active.filter((x) => ends.get(x.id)! <= now || stopAt.get(x.id) === step);
    active = active.filter((x) => !leaving.includes(x));
    for (const t of leaving) {
      if (stopAt.delete(t.id)) pending.push({ ...t, state: 'PENDING', placement: null, scheduledAt: null, startedAt: null });
      ends.delete(t.id);
    }
    for (const [w, vs] of claims) {
      const left = vs.filter((v) => active.some((t) => t.id === v));
      if (left.length === 0) claims.delete(w);
      else claims.set(w, left);
    }
    // The pool changes now and then: a node drains or comes back; heartbeats give new records.
    const r = rnd();
    if (r < 0.08) nodes = nodes.map((n) => (n.id === 'd' ? { ...n, state: n.state === 'READY' ? 'DRAINING' : 'READY' } : n));
    else if (r < 0.5) nodes = nodes.map((n) => ({ ...n, lastHeartbeatAt: now }));
    // SCHEDULED tasks start: a new object, the same placement.
    active = active.map((t) => (t.state === 'SCHEDULED' && rnd() < 0.7 ? { ...t, state: 'RUNNING', startedAt: now, placement: { ...t.placement!, gpus: [...t.placement!.gpus] } } : t));
    // Arrivals: single tasks and, now and then, a gang of two.
    const n = Math.floor(rnd() * 4);
    for (let i = 0; i < n; i++) {
      const g = shapes[Math.floor(rnd() * shapes.length)]!;
      const opts: Parameters<typeof makeTask>[1] = { gpu: g, cpuMilli: 1000 + Math.floor(rnd() * 4) * 1000, createdAt: now, priority: rnd() < 0.2 ? 80 : 50 };
      if (rnd() < 0.7) opts.timeLimitMs = (1 + Math.floor(rnd() * 20)) * MIN;
      const tenant = rnd() < 0.5 ? 'a' : 'b';
      const preemptible = rnd() < 0.4;
      const size = rnd() < 0.1 ? 2 : 1;
      const gangId = size > 1 ? `g${gangs++}` : undefined;
      for (let k = 0; k < size; k++) {
        const t = makeTask(`t${step}-${i}-${k}`, { ...opts, gang: size, ...(gangId ? { gangId, gangIndex: k } : {}) });
        pending.push({ ...t, spec: { ...t.spec, tenant, preemptible } });
      }
    }
    const tenancy: TenancySnapshot | undefined = o.tenancy ? { tenants, stopping: new Set(stopAt.keys()), claims: new Map(claims) } : undefined;
    const snapshot: SchedulerSnapshot = { nodes, active, pending, reservations: [], ...(tenancy ? { tenancy } : {}) };
    const full = schedule(snapshot, now, p1);
    const part = ps.schedule(snapshot, now, p2);
    expect(part.decisions, `step ${step}`).toEqual(full.decisions);
    expect(part.head).toEqual(full.head);
    for (const d of full.decisions) {
      if (d.kind === 'preempt') {
        stopAt.set(d.taskId, step + 1 + Math.floor(rnd() * 2));
        claims.set(d.forTaskId, [...(claims.get(d.forTaskId) ?? []), d.taskId]);
        preempted++;
      }
      if (d.kind !== 'place') continue;
      // The caller drops one placement in ten (the task was cancelled meanwhile): it stays pending.
      if (rnd() < 0.1) continue;
      const t = pending.find((x) => x.id === d.taskId)!;
      const run: Task = { ...t, state: 'SCHEDULED', placement: d.placement, scheduledAt: now, startedAt: null };
      active.push(run);
      ends.set(t.id, now + (t.spec.timeLimitMs ?? 45 * MIN) - (rnd() < 0.3 ? 5 * MIN : 0));
      placed++;
    }
    pending = pending.filter((x) => !active.some((a) => a.id === x.id));
  }
  return { placed, preempted, ps };
}

describe('PersistentScheduler', () => {
  it.each([
    ['first-fit', false, false],
    ['first-fit', true, true],
    ['default', true, false],
    ['default', true, true],
    ['best-fit', true, true],
    ['fgd', false, true],
  ] as const)('decides like schedule() on every snapshot (%s, backfill %s, tenancy %s)', (placement, backfill, tenancy) => {
    let preempted = 0;
    for (const seed of [1, 2, 3]) {
      const r = compare({ placement, backfill, tenancy, seed });
      expect(r.placed).toBeGreaterThan(20);
      // The kept pool served most cycles: rebuilt only when node d drained or came back.
      expect(r.ps.counts.calls - r.ps.counts.full).toBeGreaterThan(20);
      expect(r.ps.counts.rebuilds).toBeLessThan(r.ps.counts.calls / 2);
      preempted += r.preempted;
    }
    if (tenancy) expect(preempted).toBeGreaterThan(0);
  });

  it('hands snapshots with vGPU reservations to schedule() and keeps its own pool right', () => {
    const nodes = [makeNode('a', { gpus: 2 })];
    const ps = new PersistentScheduler();
    const policy: SchedulerPolicy = { placement: 'first-fit', backfill: true, defaultRuntimeMs: MIN, rng: seededRng(1) };
    const first = ps.schedule({ nodes, active: [], pending: [makeTask('x', { gpu: 1 })], reservations: [] }, T0, policy);
    const place = first.decisions.find((d) => d.kind === 'place')!;
    expect(place).toMatchObject({ taskId: 'x', placement: { gpus: [0] } });
    const x: Task = { ...makeTask('x', { gpu: 1 }), state: 'RUNNING', placement: place.kind === 'place' ? place.placement : null, startedAt: T0, scheduledAt: T0 };
    const r: VgpuReservation = { id: 'v1', name: 'v1', tenant: 'default', request: { count: 1, share: { kind: 'milli', milli: 500 } }, state: 'PENDING', reason: null, placement: null, createdAt: T0, releasedAt: null, version: 1 };
    ps.schedule({ nodes, active: [x], pending: [], reservations: [r] }, T0, policy);
    expect(ps.counts.full).toBe(1);
    // x went away meanwhile: the next kept cycle releases it and places y on GPU 0.
    const next = ps.schedule({ nodes, active: [], pending: [makeTask('y', { gpu: 1 })], reservations: [] }, T0, policy);
    expect(next.decisions).toEqual(schedule({ nodes, active: [], pending: [makeTask('y', { gpu: 1 })], reservations: [] }, T0, policy).decisions);
    expect(next.decisions[0]).toMatchObject({ kind: 'place', placement: { gpus: [0] } });
  });
});
