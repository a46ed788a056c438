import { describe, expect, it } from 'vitest';
import { assertTransition, canTransition, isTerminal, MAX_UNSTARTED_ATTEMPTS, requeueAfter, requeueUnstarted, TRANSITIONS } from './state.js';
import { TERMINAL_STATES, type Task, type TaskState } from './types.js';

const ALL: TaskState[] = ['PENDING', 'SCHEDULED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'PREEMPTED', 'LOST'];

function task(over: Partial<Task> & { retries?: number } = {}): Task {
  const { retries = 0, ...rest } = over;
  return {
    id: 't1',
    spec: {
      name: 'job',
      command: ['true'],
      env: {},
      resources: { gpu: null, cpuMilli: 1000, memoryMiB: 1024 },
      priority: 50,
      retries,
      preemptible: true,
      gang: 1,
      tenant: 'default',
    },
    state: 'RUNNING',
    reason: null,
    reasonMessage: null,
    attempts: 1,
    exitCode: null,
    createdAt: 1000,
    scheduledAt: 2000,
    startedAt: 2100,
    finishedAt: null,
    placement: {
      nodeId: 'n1',
      node: 'node-1',
      gpus: [0],
      gpuUuids: ['GPU-0'],
      gpuMilli: 500,
      memoryMiB: 40960,
      cpuMilli: 1000,
      hostMemoryMiB: 1024,
      sharing: 'simulated',
    },
    gangId: null,
    gangIndex: 0,
    version: 7,
    ...rest,
  };
}

describe('transitions', () => {
  it('follows the documented life', () => {
    const path: TaskState[] = ['PENDING', 'SCHEDULED', 'RUNNING', 'SUCCEEDED'];
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1]!, path[i]!)).toBe(true);
    for (const end of ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT'] as const) expect(canTransition('RUNNING', end)).toBe(true);
    for (const back of ['PREEMPTED', 'LOST'] as const) {
      expect(canTransition('RUNNING', back)).toBe(true);
      expect(canTransition(back, 'PENDING')).toBe(true);
    }
  });

  it('lets nothing leave a terminal state', () => {
    for (const from of TERMINAL_STATES) for (const to of ALL) expect(canTransition(from, to)).toBe(false);
  });

  it('has no self-loops and reaches every state from PENDING', () => {
    for (const s of ALL) expect(canTransition(s, s)).toBe(false);
    const seen = new Set<TaskState>(['PENDING']);
    const queue: TaskState[] = ['PENDING'];
    while (queue.length > 0) for (const n of TRANSITIONS[queue.shift()!]) if (!seen.has(n)) (seen.add(n), queue.push(n));
    expect([...seen].sort()).toEqual([...ALL].sort());
  });

  it.each<[TaskState, TaskState]>([
    ['PENDING', 'RUNNING'],
    ['PENDING', 'SUCCEEDED'],
    ['PENDING', 'LOST'],
    ['PENDING', 'PREEMPTED'],
    ['RUNNING', 'PENDING'],
    ['RUNNING', 'SCHEDULED'],
    ['PREEMPTED', 'RUNNING'],
    ['SUCCEEDED', 'PENDING'],
  ])('refuses %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    expect(() => assertTransition(from, to)).toThrow(new RegExp(`illegal task transition ${from} → ${to}`));
  });

  it('throws a plain Error (a bug), not a FastGpuError', () => {
    try {
      assertTransition('FAILED', 'PENDING');
      expect.unreachable();
    } catch (e) {
      expect((e as Error).constructor).toBe(Error);
      expect((e as Error).message).toMatch(/nothing \(it is finished\)/);
    }
  });

  it('isTerminal: exactly the four end states of the design (PREEMPTED and LOST return to PENDING)', () => {
    // Written out by hand from DESIGN.md's task life, not read from TERMINAL_STATES, so a wrong
    // entry there (or in isTerminal) fails here.
    const terminal = new Set<TaskState>(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT']);
    for (const s of ALL) expect([s, isTerminal(s)]).toEqual([s, terminal.has(s)]);
    expect([...TERMINAL_STATES].sort()).toEqual([...terminal].sort());
    // A terminal state goes nowhere; every other state can still end.
    for (const s of ALL) expect([s, TRANSITIONS[s].length === 0]).toEqual([s, terminal.has(s)]);
  });
});

describe('requeueAfter', () => {
  it('returns a preempted task to PENDING whatever its retries', () => {
    const t = requeueAfter(task({ attempts: 5, retries: 0 }), 'PREEMPTED', 9000);
    expect(t).toMatchObject({
      state: 'PENDING',
      reason: null,
      placement: null,
      scheduledAt: null,
      startedAt: null,
      finishedAt: null,
      exitCode: null,
      attempts: 5,
      version: 8,
    });
    expect(t.reasonMessage).toMatch(/preemption/);
  });

  it('returns a lost task to PENDING while attempts <= retries', () => {
    expect(requeueAfter(task({ attempts: 1, retries: 1 }), 'LOST', 9000).state).toBe('PENDING');
    expect(requeueAfter(task({ attempts: 2, retries: 2 }), 'LOST', 9000).state).toBe('PENDING');
  });

  it('fails a lost task with no retries left', () => {
    const before = task({ attempts: 1, retries: 0 });
    const t = requeueAfter(before, 'LOST', 9000);
    expect(t).toMatchObject({ state: 'FAILED', reasonMessage: 'node lost; no retries left', finishedAt: 9000, version: 8 });
    // where it ran stays on record
    expect(t.placement).toEqual(before.placement);
    // retries: 2 allows three starts: the third loss is final
    expect(requeueAfter(task({ attempts: 2, retries: 2 }), 'LOST', 9000).state).toBe('PENDING');
    expect(requeueAfter(task({ attempts: 3, retries: 2 }), 'LOST', 9000).state).toBe('FAILED');
  });

  it('works from SCHEDULED, RUNNING and the cause state itself', () => {
    for (const state of ['SCHEDULED', 'RUNNING', 'LOST'] as const) expect(requeueAfter(task({ state, retries: 1 }), 'LOST', 1).state).toBe('PENDING');
    for (const state of ['SCHEDULED', 'RUNNING', 'PREEMPTED'] as const) expect(requeueAfter(task({ state }), 'PREEMPTED', 1).state).toBe('PENDING');
  });

  it('refuses finished or pending tasks', () => {
    for (const state of ['PENDING', 'SUCCEEDED', 'CANCELLED'] as const) {
      expect(() => requeueAfter(task({ state }), 'LOST', 1)).toThrow(/illegal task transition/);
    }
    expect(() => requeueAfter(task({ state: 'LOST' }), 'PREEMPTED', 1)).toThrow(/illegal task transition LOST → PREEMPTED/);
  });

  it('does not change the task it was given', () => {
    const before = task({ retries: 1 });
    const copy = structuredClone(before);
    requeueAfter(before, 'LOST', 1);
    expect(before).toEqual(copy);
  });
});

describe('requeueUnstarted', () => {
  it('returns a task whose attempt never started to PENDING, with no retries, and counts the attempt apart', () => {
    for (const state of ['SCHEDULED', 'RUNNING'] as const) {
      const t = requeueUnstarted(task({ state, attempts: 3, retries: 0 }), 'the agent stopped', 9000);
      expect(t).toMatchObject({ state: 'PENDING', attempts: 3, unstartedAttempts: 1, placement: null, scheduledAt: null, startedAt: null, version: 8 });
      expect(t.reasonMessage).toBe('requeued: attempt 3 never started (the agent stopped)');
    }
    for (const state of ['PENDING', 'SUCCEEDED', 'PREEMPTED'] as const) {
      expect(() => requeueUnstarted(task({ state }), 'x', 9000)).toThrow(/illegal task transition/);
    }
  });

  it('attempts that never started do not use up retries for a lost node', () => {
    // Attempt 1 never started, attempt 2 started and its node was lost: one start so far.
    const once = requeueUnstarted(task({ state: 'SCHEDULED', attempts: 1, retries: 1 }), 'x', 1);
    const second = { ...once, state: 'RUNNING' as const, attempts: 2 };
    expect(requeueAfter(second, 'LOST', 1).state).toBe('PENDING');
    expect(requeueAfter({ ...second, spec: { ...second.spec, retries: 0 } }, 'LOST', 1).state).toBe('FAILED');
  });

  it(`fails the task once more than MAX_UNSTARTED_ATTEMPTS (${MAX_UNSTARTED_ATTEMPTS}) attempts never started, naming the last cause`, () => {
    let t = task({ state: 'SCHEDULED', attempts: 1, retries: 5 });
    for (let i = 1; i <= MAX_UNSTARTED_ATTEMPTS; i++) {
      t = requeueUnstarted(t, `cause ${i}`, 1000 * i);
      expect(t).toMatchObject({ state: 'PENDING', unstartedAttempts: i });
      t = { ...t, state: 'SCHEDULED', attempts: t.attempts + 1 };
    }
    const failed = requeueUnstarted(t, 'the node cannot start processes', 9000);
    expect(failed).toMatchObject({ state: 'FAILED', finishedAt: 9000, placement: t.placement, unstartedAttempts: MAX_UNSTARTED_ATTEMPTS + 1 });
    expect(failed.reasonMessage).toBe(`never started: ${MAX_UNSTARTED_ATTEMPTS + 1} attempts ended before their process started; the last: the node cannot start processes`);
    // The cap is a parameter too.
    expect(requeueUnstarted(task({ state: 'SCHEDULED' }), 'x', 5, 0).state).toBe('FAILED');
  });
});
