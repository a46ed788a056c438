import { describe, expect, it } from 'vitest';
import type { Tenant } from '../tenancy/types.js';
import type { NodeRecord, Task } from '../types.js';
import { schedule } from './schedule.js';
import { borrowedTasks, fairShareOrder, type TenancySnapshot } from './tenancy.js';
import { makeNode, makePlacement, makeTask, seededRng, type TaskOpts } from './testing.js';
import type { Decision, ScheduleResult, SchedulerPolicy, SchedulerSnapshot } from './types.js';

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;

function policy(o: Partial<SchedulerPolicy> = {}): SchedulerPolicy {
  return { placement: 'first-fit', backfill: true, defaultRuntimeMs: HOUR, rng: seededRng(1), order: fairShareOrder(), ...o };
}
const tenant = (name: string, guarantee = 0, limit: number | null = null, weight = 1): Tenant => ({ name, guaranteeMilli: guarantee, limitMilli: limit, weight, budget: null });

function task(id: string, tenantName: string, o: TaskOpts & { preemptible?: boolean } = {}): Task {
  const t = makeTask(id, o);
  return { ...t, spec: { ...t.spec, tenant: tenantName, preemptible: o.preemptible ?? false } };
}
function runningOn(id: string, tenantName: string, node: NodeRecord, gpus: number[], o: TaskOpts & { preemptible?: boolean } = {}): Task {
  return task(id, tenantName, { ...o, gpu: o.gpu ?? gpus.length, placement: makePlacement(node, gpus, 1000, 80 * 1024), startedAt: o.startedAt ?? NOW - HOUR });
}
function run(s: Partial<SchedulerSnapshot>, tenancy: TenancySnapshot, p: Partial<SchedulerPolicy> = {}): ScheduleResult {
  return schedule({ nodes: [], active: [], pending: [], reservations: [], ...s, tenancy }, NOW, policy(p));
}
const of = <K extends Decision['kind']>(r: ScheduleResult, kind: K): Extract<Decision, { kind: K }>[] =>
  r.decisions.filter((d): d is Extract<Decision, { kind: K }> => d.kind === kind);
const pendingOf = (r: ScheduleResult, id: string) => of(r, 'pending').find((d) => d.taskId === id);

describe('quotas and budgets in the cycle', () => {
  it('a tenant never exceeds its limit: the rest wait with reason Quota', () => {
    const node = makeNode('n1', { gpus: 4 });
    const r = run({ nodes: [node], pending: [task('a1', 'a', { createdAt: 1 }), task('a2', 'a', { createdAt: 2 }), task('b1', 'b', { createdAt: 3 })] }, { tenants: [tenant('a', 0, 1000)] });
    expect(of(r, 'place').map((d) => d.taskId).sort()).toEqual(['a1', 'b1']);
    expect(pendingOf(r, 'a2')).toMatchObject({ reason: 'Quota', message: 'tenant a uses 1 GPU of its 1 GPU limit; this task needs 1 GPU more' });
  });

  it('the limit counts what the tenant already runs', () => {
    const node = makeNode('n1', { gpus: 4 });
    const r = run({ nodes: [node], active: [runningOn('r', 'a', node, [0, 1])], pending: [task('a1', 'a')] }, { tenants: [tenant('a', 0, 2500)] });
    expect(pendingOf(r, 'a1')?.reason).toBe('Quota');
  });

  it('a blocked tenant (exhausted budget) starts nothing', () => {
    const node = makeNode('n1', { gpus: 4 });
    const blocked = new Map([['a', { reason: 'Budget' as const, message: 'tenant a has spent 10.00 of its 10.00 budget' }]]);
    const r = run({ nodes: [node], pending: [task('a1', 'a'), task('b1', 'b')] }, { tenants: [], blocked });
    expect(of(r, 'place').map((d) => d.taskId)).toEqual(['b1']);
    expect(pendingOf(r, 'a1')).toMatchObject({ reason: 'Budget', message: 'tenant a has spent 10.00 of its 10.00 budget' });
  });
});

describe('fair share and borrowing', () => {
  it('the tenant holding less goes first, whatever the submit order', () => {
    const node = makeNode('n1', { gpus: 4 });
    const active = [0, 1, 2].map((i) => runningOn(`r${i}`, 'a', node, [i]));
    const r = run({ nodes: [node], active, pending: [task('a1', 'a', { createdAt: 1, priority: 90 }), task('b1', 'b', { createdAt: 2, priority: 10 })] }, { tenants: [] });
    expect(of(r, 'place').map((d) => d.taskId)).toEqual(['b1']);
  });

  it('capacity above the guarantee is borrowed, and marked so', () => {
    const node = makeNode('n1', { gpus: 2 });
    const r = run({ nodes: [node], pending: [task('a1', 'a', { createdAt: 1 }), task('a2', 'a', { createdAt: 2 })] }, { tenants: [tenant('a', 1000), tenant('b', 1000)] });
    const places = of(r, 'place');
    expect(places.map((d) => [d.taskId, d.borrowed ?? false])).toEqual([
      ['a1', false],
      ['a2', true],
    ]);
  });

  it('nothing is borrowed where no tenant has a guarantee', () => {
    const node = makeNode('n1', { gpus: 2 });
    const r = run({ nodes: [node], pending: [task('a1', 'a'), task('a2', 'a')] }, { tenants: [tenant('a')] });
    expect(of(r, 'place').every((d) => d.borrowed === undefined)).toBe(true);
  });

  it('borrowedTasks: per tenant, the newest starts past the guarantee', () => {
    const node = makeNode('n1', { gpus: 4 });
    const active = [runningOn('old', 'a', node, [0], { startedAt: 1 }), runningOn('new', 'a', node, [1], { startedAt: 5 }), runningOn('b', 'b', node, [2], { startedAt: 3 })];
    expect([...borrowedTasks(active, [tenant('a', 1000), tenant('b', 1000)])]).toEqual(['new']);
    expect([...borrowedTasks(active, [tenant('a', 0), tenant('b', 1000)])].sort()).toEqual(['new', 'old']);
    expect(borrowedTasks(active, [tenant('a'), tenant('b')]).size).toBe(0);
  });
});

describe('preemption', () => {
  const node = makeNode('n1', { gpus: 1 });

  it('a tenant under its guarantee takes back borrowed capacity: the borrower is preempted, the claimant waits', () => {
    const active = [runningOn('a1', 'a', node, [0])];
    const r = run({ nodes: [node], active, pending: [task('b1', 'b', { priority: 10 })] }, { tenants: [tenant('a', 0), tenant('b', 1000)] });
    expect(of(r, 'preempt')).toEqual([{ kind: 'preempt', taskId: 'a1', forTaskId: 'b1', message: 'preempted: tenant b reclaims its guarantee (1 GPU)' }]);
    expect(of(r, 'place')).toEqual([]);
    expect(pendingOf(r, 'b1')).toMatchObject({ reason: 'Resources', message: 'preempting a1 to make room; starts once it stops' });
    expect(r.stats.preempted).toBe(1);
  });

  it('a task within its own tenant’s guarantee is not taken', () => {
    const active = [runningOn('a1', 'a', node, [0])];
    const r = run({ nodes: [node], active, pending: [task('b1', 'b')] }, { tenants: [tenant('a', 1000), tenant('b', 1000)] });
    expect(of(r, 'preempt')).toEqual([]);
    expect(pendingOf(r, 'b1')?.reason).toBe('Resources');
  });

  it('higher priority preempts a preemptible task; never a non-preemptible one', () => {
    const low = runningOn('low', 'x', node, [0], { priority: 10, preemptible: true });
    const r = run({ nodes: [node], active: [low], pending: [task('hi', 'x', { priority: 90 })] }, { tenants: [] });
    expect(of(r, 'preempt').map((d) => [d.taskId, d.forTaskId, d.message])).toEqual([['low', 'hi', 'preempted: task hi has priority 90 > 10']]);
    const fixed = runningOn('fixed', 'x', node, [0], { priority: 10 });
    expect(of(run({ nodes: [node], active: [fixed], pending: [task('hi', 'x', { priority: 90 })] }, { tenants: [] }), 'preempt')).toEqual([]);
  });

  it('never preempts when the waiting task would still not fit', () => {
    const two = makeNode('n2', { gpus: 2 });
    const active = [runningOn('low', 'x', two, [0], { priority: 10, preemptible: true }), runningOn('keep', 'x', two, [1], { priority: 95 })];
    const r = run({ nodes: [two], active, pending: [task('hi', 'x', { gpu: 2, priority: 90 })] }, { tenants: [] });
    expect(of(r, 'preempt')).toEqual([]);
  });

  it('victims: lowest priority first, then the most recent start; only as many as needed', () => {
    const four = makeNode('n4', { gpus: 4 });
    const active = [
      runningOn('p20', 'x', four, [0], { priority: 20, preemptible: true, startedAt: 1 }),
      runningOn('p10old', 'x', four, [1], { priority: 10, preemptible: true, startedAt: 1 }),
      runningOn('p10new', 'x', four, [2], { priority: 10, preemptible: true, startedAt: 9 }),
      runningOn('p30', 'x', four, [3], { priority: 30, preemptible: true, startedAt: 1 }),
    ];
    const r = run({ nodes: [four], active, pending: [task('hi', 'x', { gpu: 2, priority: 90 })] }, { tenants: [] });
    expect(of(r, 'preempt').map((d) => d.taskId)).toEqual(['p10new', 'p10old']);
  });

  it('tasks already stopping are not chosen again, and their claimant waits for them', () => {
    const low = runningOn('low', 'x', node, [0], { priority: 10, preemptible: true });
    const r = run(
      { nodes: [node], active: [low], pending: [task('hi', 'x', { priority: 90 }), task('hi2', 'x', { priority: 80 })] },
      { tenants: [], stopping: new Set(['low']), claims: new Map([['hi', ['low']]]) },
    );
    expect(of(r, 'preempt')).toEqual([]);
    expect(pendingOf(r, 'hi')).toMatchObject({ reason: 'Resources', message: 'waiting for 1 preempted task to stop (low)' });
  });

  it('the room its stopped victims already freed is kept for the claimant while the others stop', () => {
    const two = makeNode('n2', { gpus: 2 });
    const still = runningOn('v2', 'a', two, [1], { preemptible: true });
    const r = run(
      { nodes: [two], active: [still], pending: [task('other', 'a', { priority: 99, createdAt: 1 }), task('claim', 'b', { gpu: 2, createdAt: 2 })] },
      { tenants: [], stopping: new Set(['v2']), claims: new Map([['claim', ['v2']]]) },
    );
    expect(of(r, 'place')).toEqual([]);
    expect(pendingOf(r, 'claim')?.message).toBe('waiting for 1 preempted task to stop (v2)');
  });

  it('a claimant that fits elsewhere now starts at once', () => {
    const two = makeNode('n2', { gpus: 2 });
    const still = runningOn('v2', 'a', two, [1], { preemptible: true });
    const r = run({ nodes: [two], active: [still], pending: [task('claim', 'b', { gpu: 1 })] }, { tenants: [], stopping: new Set(['v2']), claims: new Map([['claim', ['v2']]]) });
    expect(of(r, 'place').map((d) => [d.taskId, d.placement.gpus])).toEqual([['claim', [0]]]);
  });

  it('once its victims stopped, the claimant goes first in the queue', () => {
    const r = run({ nodes: [node], pending: [task('other', 'a', { priority: 99, createdAt: 1 }), task('claim', 'b', { priority: 1, createdAt: 2 })] }, { tenants: [], claims: new Map([['claim', []]]) });
    expect(of(r, 'place').map((d) => d.taskId)).toEqual(['claim']);
  });

  it('preemption can be turned off', () => {
    const low = runningOn('low', 'x', node, [0], { priority: 10, preemptible: true });
    const r = run({ nodes: [node], active: [low], pending: [task('hi', 'x', { priority: 90 })] }, { tenants: [], preemption: false });
    expect(of(r, 'preempt')).toEqual([]);
  });

  it('without tenancy in the snapshot, nothing changes: no quotas, no preemption', () => {
    const low = runningOn('low', 'x', node, [0], { priority: 10, preemptible: true });
    const r = schedule({ nodes: [node], active: [low], pending: [task('hi', 'x', { priority: 90 })], reservations: [] }, NOW, policy({ order: undefined }));
    expect(of(r, 'preempt')).toEqual([]);
  });
});
