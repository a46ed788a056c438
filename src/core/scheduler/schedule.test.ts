import { describe, expect, it } from 'vitest';
import type { NodeRecord, Task, VgpuReservation } from '../types.js';
import { schedule } from './schedule.js';
import { makeNode, makePlacement, makeTask, seededRng } from './testing.js';
import type { Decision, ScheduleResult, SchedulerPolicy, SchedulerSnapshot } from './types.js';

const HOUR = 3_600_000;
const NOW = 1_700_000_000_000;

function policy(o: Partial<SchedulerPolicy> = {}): SchedulerPolicy {
  return { placement: 'first-fit', backfill: true, defaultRuntimeMs: HOUR, rng: seededRng(1), ...o };
}

function run(s: Partial<SchedulerSnapshot>, p: Partial<SchedulerPolicy> = {}): ScheduleResult {
  return schedule({ nodes: [], active: [], pending: [], reservations: [], ...s }, NOW, policy(p));
}

function byTask(r: ScheduleResult): Map<string, Decision> {
  const m = new Map<string, Decision>();
  for (const d of r.decisions) if (d.kind === 'place' || d.kind === 'pending') m.set(d.taskId, d);
  return m;
}

const placed = (r: ScheduleResult): string[] =>
  r.decisions.filter((d): d is Extract<Decision, { kind: 'place' }> => d.kind === 'place').map((d) => d.taskId);

function pending(r: ScheduleResult, id: string): Extract<Decision, { kind: 'pending' }> {
  const d = byTask(r).get(id);
  if (!d || d.kind !== 'pending') throw new Error(`${id} is not pending: ${JSON.stringify(d)}`);
  return d;
}

function placementOf(r: ScheduleResult, id: string) {
  const d = byTask(r).get(id);
  if (!d || d.kind !== 'place') throw new Error(`${id} is not placed: ${JSON.stringify(d)}`);
  return d.placement;
}

/** A task RUNNING on `node` since `startedAt`, holding `gpus` at `milli` each. */
function running(id: string, node: NodeRecord, gpus: number[], milli: number, o: { timeLimitMs?: number; startedAt?: number; priority?: number } = {}): Task {
  return makeTask(id, { gpu: gpus.length > 1 ? gpus.length : milli / 1000, placement: makePlacement(node, gpus, milli), startedAt: o.startedAt ?? NOW, ...o });
}

describe('queue order', () => {
  it('places higher priority first, then FIFO within a priority', () => {
    const nodes = [makeNode('n1', { gpus: 1 })];
    const r = run({
      nodes,
      pending: [
        makeTask('low', { gpu: 0.5, priority: 10, createdAt: 1 }),
        makeTask('late', { gpu: 0.5, priority: 90, createdAt: 3 }),
        makeTask('early', { gpu: 0.5, priority: 90, createdAt: 2 }),
      ],
    });
    expect(placed(r)).toEqual(['early', 'late']);
    expect(pending(r, 'low').reason).toBe('Resources');
  });

  it('uses the order hook when the policy has one', () => {
    const nodes = [makeNode('n1', { gpus: 1 })];
    const r = run(
      { nodes, pending: [makeTask('a', { priority: 90 }), makeTask('b', { priority: 10 })] },
      { order: (ts) => [...ts].sort((x, y) => x.spec.priority - y.spec.priority) },
    );
    expect(placed(r)).toEqual(['b']);
  });
});

describe('packing', () => {
  it('shares one GPU between two halves; the other two wait for Resources', () => {
    const nodes = [makeNode('n1', { gpus: 1 })];
    const r = run({ nodes, pending: ['t1', 't2', 't3', 't4'].map((id, i) => makeTask(id, { gpu: 0.5, createdAt: i })) });
    expect(placed(r)).toEqual(['t1', 't2']);
    expect(placementOf(r, 't1')).toMatchObject({ nodeId: 'n1', gpus: [0], gpuUuids: ['GPU-n1-0'], gpuMilli: 500, cpuMilli: 1000, hostMemoryMiB: 1024 });
    expect(placementOf(r, 't2').gpus).toEqual([0]);
    for (const id of ['t3', 't4']) {
      const d = pending(r, id);
      expect(d.reason).toBe('Resources');
      expect(d.message).toContain('every GPU it can use is fully taken');
    }
    expect(r.stats).toEqual({ pending: 2, placed: 2, backfilled: 0 });
  });

  it('counts what is already running', () => {
    const n1 = makeNode('n1', { gpus: 1 });
    const r = run({ nodes: [n1], active: [running('a', n1, [0], 700)], pending: [makeTask('t', { gpu: 0.5 })] });
    expect(pending(r, 't')).toMatchObject({ reason: 'Resources', message: expect.stringContaining('0.3 GPU free on the best GPU') });
  });

  it('places a multi-GPU task on one node', () => {
    const nodes = [makeNode('n1', { gpus: 2 }), makeNode('n2', { gpus: 4 })];
    const r = run({ nodes, pending: [makeTask('big', { gpu: 3 })] });
    expect(placementOf(r, 'big')).toMatchObject({ nodeId: 'n2', gpus: [0, 1, 2], gpuMilli: 1000 });
  });

  it('respects CPU and RAM', () => {
    const nodes = [makeNode('n1', { gpus: 4, cpuMilli: 4000, memoryMiB: 8192 })];
    const r = run({
      nodes,
      pending: [
        makeTask('a', { gpu: 1, cpuMilli: 3000, createdAt: 1 }),
        makeTask('b', { gpu: 1, cpuMilli: 2000, createdAt: 2 }),
        makeTask('c', { gpu: 1, cpuMilli: 1000, memoryMiB: 16384, createdAt: 3 }),
        makeTask('d', { gpu: 1, cpuMilli: 1000, memoryMiB: 4096, createdAt: 4 }),
      ],
    });
    expect(placed(r)).toEqual(['a', 'd']);
    expect(pending(r, 'b')).toMatchObject({ reason: 'Resources', message: expect.stringContaining('0 CPU free on the best node') });
  });

  it('gives exclusive GPUs to whole-GPU tasks only', () => {
    const nodes = [makeNode('n1', { gpus: 2, sharing: 'exclusive' })];
    const r = run({ nodes, pending: [makeTask('half', { gpu: 0.5, createdAt: 1 }), makeTask('whole', { gpu: 1, createdAt: 2 })] });
    expect(placed(r)).toEqual(['whole']);
    expect(placementOf(r, 'whole').sharing).toBe('exclusive');
    expect(pending(r, 'half').reason).toBe('Resources');
  });

  it('places CPU-only tasks on hosts without GPUs', () => {
    const nodes = [makeNode('cpu', { gpus: 0, cpuMilli: 8000 })];
    const r = run({ nodes, pending: [makeTask('c', { gpu: null, cpuMilli: 4000 })] });
    expect(placementOf(r, 'c')).toMatchObject({ nodeId: 'cpu', gpus: [], gpuMilli: 0, cpuMilli: 4000 });
  });

  it('gives no new work to DRAINING or LOST nodes', () => {
    const nodes = [makeNode('d', { gpus: 1, state: 'DRAINING' }), makeNode('l', { gpus: 1, state: 'LOST' }), makeNode('r', { gpus: 1 })];
    const r = run({ nodes, pending: [makeTask('a', { createdAt: 1 }), makeTask('b', { createdAt: 2 })] });
    expect(placementOf(r, 'a').nodeId).toBe('r');
    expect(pending(r, 'b').reason).toBe('Resources');
  });

  it('explains when only non-ready nodes could hold a task', () => {
    const nodes = [makeNode('big', { gpus: 8, state: 'DRAINING' }), makeNode('small', { gpus: 1 })];
    const r = run({ nodes, pending: [makeTask('t', { gpu: 4 })] });
    expect(pending(r, 't').message).toContain('no ready node can hold it');
    expect(pending(r, 't').message).toContain('draining or lost');
  });
});

describe('fragmentation', () => {
  it('says Fragmentation when the pool has the room in total but no GPU does', () => {
    const n1 = makeNode('n1', { gpus: 2 });
    const n2 = makeNode('n2', { gpus: 2 });
    const active = [running('a', n1, [0], 700), running('b', n1, [1], 700), running('c', n2, [0], 800), running('d', n2, [1], 800)];
    const r = run({ nodes: [n1, n2], active, pending: [makeTask('t', { gpu: 0.5 })] });
    const d = pending(r, 't');
    expect(d.reason).toBe('Fragmentation');
    expect(d.message).toMatch(/^needs 0\.5 GPU.*; 1 GPU free in total across 4 GPUs, but at most 0\.3 GPU on any one GPU; first in line/);
  });

  it('says Fragmentation for multi-GPU tasks whose GPUs are spread over nodes', () => {
    const n1 = makeNode('n1', { gpus: 2 });
    const n2 = makeNode('n2', { gpus: 2 });
    const r = run({ nodes: [n1, n2], active: [running('a', n1, [0], 1000), running('b', n2, [0], 1000)], pending: [makeTask('t', { gpu: 2 })] });
    expect(pending(r, 't')).toMatchObject({ reason: 'Fragmentation', message: expect.stringContaining('at most 1 with room on any one node') });
  });

  it('says Resources when the room is not there at all', () => {
    const n1 = makeNode('n1', { gpus: 2 });
    const r = run({ nodes: [n1], active: [running('a', n1, [0], 1000), running('b', n1, [1], 600)], pending: [makeTask('t', { gpu: 0.5 })] });
    expect(pending(r, 't')).toMatchObject({ reason: 'Resources', message: expect.stringContaining('0.4 GPU free on the best GPU') });
  });
});

describe('gangs', () => {
  const gang = (id: string, size: number, o: { priority?: number; createdAt?: number; gpu?: number } = {}): Task[] =>
    Array.from({ length: size }, (_, i) => makeTask(`${id}-${i}`, { gpu: o.gpu ?? 1, gang: size, gangId: id, gangIndex: i, priority: o.priority ?? 50, createdAt: o.createdAt ?? 0 }));

  it('places a gang across nodes when all members fit', () => {
    const nodes = [makeNode('n1', { gpus: 2 }), makeNode('n2', { gpus: 2 })];
    const r = run({ nodes, pending: gang('g', 3, { gpu: 1 }) });
    expect(placed(r).sort()).toEqual(['g-0', 'g-1', 'g-2']);
  });

  it('places nothing of a gang that does not fit whole, and lets others use the room', () => {
    const nodes = [makeNode('n1', { gpus: 2 })];
    const r = run({ nodes, pending: [...gang('g', 3, { createdAt: 1 }), makeTask('solo', { createdAt: 2 })] }, { backfill: true });
    expect(placed(r)).toEqual(['solo']);
    for (const id of ['g-0', 'g-1', 'g-2']) expect(pending(r, id)).toMatchObject({ reason: 'Resources', message: expect.stringContaining('gang of 3') });
  });

  it('holds an incomplete gang until all members are pending again', () => {
    const n1 = makeNode('n1', { gpus: 4 });
    const alive = makeTask('g-0', { gang: 2, gangId: 'g', gangIndex: 0, placement: makePlacement(n1, [0], 1000) });
    const back = makeTask('g-1', { gang: 2, gangId: 'g', gangIndex: 1 });
    const r = run({ nodes: [n1], active: [alive], pending: [back] });
    expect(pending(r, 'g-1')).toMatchObject({ reason: 'Dependency', message: expect.stringContaining('still active: g-0') });
  });

  it('keeps gang members at the position of the first in queue order', () => {
    const nodes = [makeNode('n1', { gpus: 2 })];
    const tasks = [...gang('g', 2, { priority: 80 }), makeTask('mid', { priority: 60 })];
    const r = run({ nodes, pending: tasks });
    expect(placed(r).sort()).toEqual(['g-0', 'g-1']);
    expect(pending(r, 'mid').reason).toBe('Resources');
  });
});

describe('backfill', () => {
  // One node of 4 GPUs; 3 busy until NOW+1h. The head needs 2 GPUs, so it starts at NOW+1h
  // on GPUs that free up then; one GPU (3) is free now.
  const n1 = makeNode('n1', { gpus: 4 });
  const active = [
    running('r0', n1, [0], 1000, { timeLimitMs: HOUR }),
    running('r1', n1, [1], 1000, { timeLimitMs: 2 * HOUR }),
    running('r2', n1, [2], 1000, { timeLimitMs: 3 * HOUR }),
  ];
  const head = makeTask('head', { gpu: 2, priority: 80, createdAt: 1 });

  it('lets a short task run around the blocked head', () => {
    const short = makeTask('short', { gpu: 1, priority: 10, createdAt: 2, timeLimitMs: HOUR / 2 });
    const r = run({ nodes: [n1], active, pending: [head, short] });
    expect(placed(r)).toEqual(['short']);
    expect(r.stats.backfilled).toBe(1);
    expect(r.head).toEqual({ taskId: 'head', startAt: NOW + HOUR, nodeId: 'n1' });
    expect(pending(r, 'head')).toMatchObject({ reason: 'Resources', message: expect.stringContaining('first in line, expected to start at') });
  });

  it('refuses a task that would delay the head, with reason Priority', () => {
    const long = makeTask('long', { gpu: 1, priority: 10, createdAt: 2, timeLimitMs: 3 * HOUR });
    const nolimit = makeTask('nolimit', { gpu: 1, priority: 10, createdAt: 3 });
    const r = run({ nodes: [n1], active, pending: [head, long, nolimit] });
    expect(placed(r)).toEqual([]);
    expect(pending(r, 'long').reason).toBe('Priority');
    expect(pending(r, 'long').message).toBe(
      `held back so that head (priority 80) can start at ${new Date(NOW + HOUR).toISOString().replace('.000Z', 'Z')} (in 1h); a time limit of 1h or less would let it start now`,
    );
    expect(pending(r, 'nolimit').reason).toBe('Priority');
  });

  it('the time limit the Priority reason names does let the task start now', () => {
    const long = makeTask('long', { gpu: 1, priority: 10, createdAt: 2, timeLimitMs: 3 * HOUR });
    const hinted = makeTask('long', { gpu: 1, priority: 10, createdAt: 2, timeLimitMs: HOUR });
    expect(run({ nodes: [n1], active, pending: [head, long] }).decisions.filter((d) => d.kind === 'place')).toEqual([]);
    expect(placed(run({ nodes: [n1], active, pending: [head, hinted] }))).toEqual(['long']);
  });

  it('says when a reserved start rests on the default run time of a task with no time limit', () => {
    const untimed = [running('r0', n1, [0], 1000), running('r1', n1, [1], 1000, { timeLimitMs: 2 * HOUR }), running('r2', n1, [2], 1000, { timeLimitMs: 3 * HOUR })];
    const r = run({ nodes: [n1], active: untimed, pending: [head] });
    expect(pending(r, 'head').message).toMatch(/expected to start at \S+ \(in 1h\) on n1 \(an estimate: running tasks with no time limit are assumed to take 1h\)$/);
    // With every running task timed, nothing is assumed.
    expect(pending(run({ nodes: [n1], active, pending: [head] }), 'head').message).not.toMatch(/assumed/);
  });

  it('lets a long task run where it leaves the head’s reserved GPUs alone', () => {
    const n2 = makeNode('n2', { gpus: 1 });
    const long = makeTask('long', { gpu: 1, priority: 10, createdAt: 2 });
    const r = run({ nodes: [n1, n2], active, pending: [head, long] });
    expect(placementOf(r, 'long').nodeId).toBe('n2');
    expect(r.stats.backfilled).toBe(1);
  });

  it('lets a long fraction share the head’s node when the head still fits there', () => {
    // The head needs one whole GPU: GPU 0 frees up at NOW+1h; GPU 1 stays 0.6 busy for 5h.
    const one = makeTask('one', { gpu: 1, priority: 80, createdAt: 1 });
    const n = makeNode('n', { gpus: 2 });
    const busy = [running('r0', n, [0], 1000, { timeLimitMs: HOUR }), running('r1', n, [1], 600, { timeLimitMs: 5 * HOUR })];
    const small = makeTask('small', { gpu: 0.3, priority: 10, createdAt: 2 });
    const tooBig = makeTask('tooBig', { gpu: 0.4, priority: 10, createdAt: 3 });
    const r1 = run({ nodes: [n], active: busy, pending: [one, small] });
    expect(placementOf(r1, 'small').gpus).toEqual([1]);
    // The head is reserved GPU 0 at NOW+1h, so GPU 1 can be filled to the brim.
    const r2 = run({ nodes: [n], active: busy, pending: [one, tooBig] });
    expect(placed(r2)).toEqual(['tooBig']);
  });

  it('does not let a fraction take a GPU the head is reserved', () => {
    const n = makeNode('n', { gpus: 2 });
    // GPU 0 frees at NOW+1h (the head's), GPU 1 is busy for long; a fraction fits only on GPU 0.
    const busy = [running('r0', n, [0], 500, { timeLimitMs: HOUR }), running('r1', n, [1], 1000, { timeLimitMs: 9 * HOUR })];
    const headTask = makeTask('h', { gpu: 1, priority: 80, createdAt: 1 });
    const frac = makeTask('f', { gpu: 0.5, priority: 10, createdAt: 2 });
    const r = run({ nodes: [n], active: busy, pending: [headTask, frac] });
    expect(pending(r, 'f').reason).toBe('Priority');
    const quick = makeTask('q', { gpu: 0.5, priority: 10, createdAt: 2, timeLimitMs: HOUR / 2 });
    expect(placed(run({ nodes: [n], active: busy, pending: [headTask, quick] }))).toEqual(['q']);
  });

  it('reserves a start for a gang at the head, and backfills around it', () => {
    const g = [0, 1].map((i) => makeTask(`g-${i}`, { gpu: 1, gang: 2, gangId: 'g', gangIndex: i, priority: 80, createdAt: 1 }));
    const long = makeTask('long', { gpu: 1, priority: 10, createdAt: 2 });
    const short = makeTask('short', { gpu: 1, priority: 10, createdAt: 3, timeLimitMs: HOUR / 4 });
    const r = run({ nodes: [n1], active, pending: [...g, long, short] });
    expect(r.head).toEqual({ taskId: 'g-0', startAt: NOW + HOUR, nodeId: 'n1' });
    expect(placed(r)).toEqual(['short']);
    // GPU 3 is taken now, by `short`: `long` has no room at all.
    expect(pending(r, 'long').reason).toBe('Resources');
    const r2 = run({ nodes: [n1], active, pending: [...g, long] });
    expect(pending(r2, 'long')).toMatchObject({ reason: 'Priority', message: expect.stringContaining('gang g (priority 80)') });
    expect(pending(r2, 'g-1')).toMatchObject({ reason: 'Resources', message: expect.stringContaining('only 1 member would fit now') });
  });

  it('holds everything behind the head when backfill is off, but says Resources for what does not fit', () => {
    const short = makeTask('short', { gpu: 1, priority: 10, createdAt: 2, timeLimitMs: HOUR / 2 });
    const huge = makeTask('huge', { gpu: 2, priority: 5, createdAt: 3 });
    const r = run({ nodes: [n1], active, pending: [head, short, huge] }, { backfill: false });
    expect(placed(r)).toEqual([]);
    expect(pending(r, 'short')).toMatchObject({ reason: 'Priority', message: expect.stringContaining('backfill is off') });
    expect(pending(r, 'huge').reason).toBe('Resources');
  });

  it('does not let a task that cannot fit the ready nodes block the queue', () => {
    const nodes = [makeNode('big', { gpus: 8, state: 'DRAINING' }), makeNode('small', { gpus: 2 })];
    const r = run({ nodes, pending: [makeTask('eight', { gpu: 8, priority: 90 }), makeTask('one', { gpu: 1, priority: 10 })] }, { backfill: false });
    expect(placed(r)).toEqual(['one']);
    expect(r.head).toBeUndefined();
    expect(pending(r, 'eight').reason).toBe('Resources');
  });

  it('counts a running task past its time limit as ending now', () => {
    const n = makeNode('n', { gpus: 1 });
    const old = running('old', n, [0], 1000, { timeLimitMs: HOUR, startedAt: NOW - 5 * HOUR });
    const r = run({ nodes: [n], active: [old], pending: [makeTask('h', { priority: 90 })] });
    expect(r.head?.startAt).toBe(NOW);
  });

  it('uses the default runtime for running tasks without a time limit', () => {
    const n = makeNode('n', { gpus: 1 });
    const r = run({ nodes: [n], active: [running('x', n, [0], 1000, { startedAt: NOW - HOUR / 2 })], pending: [makeTask('h')] }, { defaultRuntimeMs: HOUR });
    expect(r.head?.startAt).toBe(NOW + HOUR / 2);
  });
});

describe('vGPU reservations', () => {
  const n1 = makeNode('n1', { gpus: 1 });
  const resv = (id: string, state: VgpuReservation['state'], o: Partial<VgpuReservation> = {}): VgpuReservation => ({
    id,
    name: id,
    tenant: 'default',
    request: { count: 1, share: { kind: 'milli', milli: 500 } },
    state,
    reason: null,
    placement: null,
    createdAt: 0,
    releasedAt: null,
    version: 1,
    ...o,
  });

  it('places pending reservations oldest first, before tasks', () => {
    const r = run({
      nodes: [n1],
      reservations: [resv('vg_b', 'PENDING', { createdAt: 2 }), resv('vg_a', 'PENDING', { createdAt: 1 }), resv('vg_c', 'PENDING', { createdAt: 3 })],
      pending: [makeTask('t', { gpu: 0.5, priority: 100 })],
    });
    const kinds = r.decisions.map((d) => ('reservationId' in d ? `${d.kind}:${d.reservationId}` : `${d.kind}:${d.taskId}`));
    expect(kinds).toEqual(['placeReservation:vg_a', 'placeReservation:vg_b', 'reservationPending:vg_c', 'pending:t']);
    const first = r.decisions[0];
    expect(first).toMatchObject({ placement: { nodeId: 'n1', gpus: [0], gpuMilli: 500, cpuMilli: 0, hostMemoryMiB: 0 } });
  });

  it('runs the tasks of a reservation one at a time in submit order', () => {
    const placement = makePlacement(n1, [0], 500, 40 * 1024, 0, 0);
    const active = resv('vg_x', 'ACTIVE', { placement });
    const tasks = [makeTask('t2', { gpu: 0.5, vgpuId: 'vg_x', createdAt: 2 }), makeTask('t1', { gpu: 0.5, vgpuId: 'vg_x', createdAt: 1 })];
    const r = run({ nodes: [n1], reservations: [active], pending: tasks });
    expect(placementOf(r, 't1')).toEqual({ ...placement, cpuMilli: 1000, hostMemoryMiB: 1024, vgpuId: 'vg_x' });
    expect(pending(r, 't2')).toMatchObject({ reason: 'Reservation', message: 'waiting for vGPU vg_x: task t1 is running in it' });
    // The slice is held by the reservation: another half fits beside it, a whole GPU does not.
    const r2 = run({ nodes: [n1], reservations: [active], pending: [makeTask('half', { gpu: 0.5 }), makeTask('whole', { gpu: 1 })] });
    expect(placed(r2)).toEqual(['half']);
  });

  it('keeps tasks waiting while the reservation is busy or not placed', () => {
    const placement = makePlacement(n1, [0], 500, 0, 0, 0);
    const inSlice = makeTask('run', { gpu: 0.5, vgpuId: 'vg_x', placement: { ...placement, cpuMilli: 1000, hostMemoryMiB: 1024, vgpuId: 'vg_x' } });
    const r = run({
      nodes: [n1],
      active: [inSlice],
      reservations: [resv('vg_x', 'ACTIVE', { placement }), resv('vg_p', 'PENDING', { request: { count: 1, share: { kind: 'milli', milli: 900 } } })],
      pending: [makeTask('next', { vgpuId: 'vg_x' }), makeTask('p', { vgpuId: 'vg_p' })],
    });
    expect(pending(r, 'next').message).toBe('waiting for vGPU vg_x: task run is running in it');
    expect(pending(r, 'p')).toMatchObject({ reason: 'Reservation', message: 'vGPU vg_p is not placed yet' });
    expect(r.decisions.find((d) => d.kind === 'reservationPending')).toMatchObject({ reservationId: 'vg_p', reason: 'Resources' });
  });

  it('checks the node’s CPU and RAM for a task in a slice', () => {
    const small = makeNode('s', { gpus: 1, cpuMilli: 2000 });
    const placement = makePlacement(small, [0], 500, 0, 0, 0);
    const r = run({ nodes: [small], reservations: [resv('vg_x', 'ACTIVE', { placement })], pending: [makeTask('t', { vgpuId: 'vg_x', cpuMilli: 4000 })] });
    expect(pending(r, 't')).toMatchObject({ reason: 'Resources', message: expect.stringContaining('on node s, where vGPU vg_x is') });
  });
});

describe('determinism', () => {
  it('decides the same for the same rng seed', () => {
    const nodes = Array.from({ length: 6 }, (_, i) => makeNode(`n${i}`, { gpus: 4 }));
    const pendingTasks = Array.from({ length: 40 }, (_, i) => makeTask(`t${i}`, { gpu: [0.25, 0.5, 1, 2][i % 4]!, priority: (i * 7) % 3, createdAt: i }));
    const a = schedule({ nodes, active: [], pending: pendingTasks, reservations: [] }, NOW, policy({ placement: 'best-fit', rng: seededRng(7) }));
    const b = schedule({ nodes, active: [], pending: [...pendingTasks].reverse(), reservations: [] }, NOW, policy({ placement: 'best-fit', rng: seededRng(7) }));
    expect(b).toEqual(a);
  });

  it('does not depend on earlier cycles, whatever the placement policy', () => {
    const nodes = Array.from({ length: 4 }, (_, i) => makeNode(`n${i}`, { gpus: 4 }));
    const mk = (shapes: number[]) => shapes.map((g, i) => makeTask(`t${i}`, { gpu: g, createdAt: i }));
    const snap = { nodes, active: [], pending: mk([0.3, 0.5, 1, 0.25, 2, 0.5, 0.3, 1]), reservations: [] };
    for (const placement of ['default', 'fgd', 'best-fit'] as const) {
      const first = schedule(snap, NOW, policy({ placement, rng: seededRng(3) }));
      schedule({ ...snap, pending: mk([4, 4, 2, 0.1, 0.1, 0.1, 0.9]) }, NOW, policy({ placement, rng: seededRng(9) }));
      expect(schedule(snap, NOW, policy({ placement, rng: seededRng(3) }))).toEqual(first);
    }
  });

  it('decides for every pending task exactly once', () => {
    const nodes = [makeNode('n', { gpus: 2 })];
    const ts = Array.from({ length: 10 }, (_, i) => makeTask(`t${i}`, { gpu: 0.5, createdAt: i }));
    const r = run({ nodes, pending: ts });
    expect(r.decisions.map((d) => ('taskId' in d ? d.taskId : '')).sort()).toEqual(ts.map((t) => t.id).sort());
  });
});
