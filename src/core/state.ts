// The task state machine. Every write of `Task.state` goes through `assertTransition`, so a
// transition missing from the table is a bug caught where it happens, not a corrupt queue.
import { TERMINAL_STATES, type Task, type TaskState } from './types.js';

const FINISHED: readonly TaskState[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT'];

/**
 * Allowed transitions. Beyond the happy path:
 * - SCHEDULED may jump to an outcome: the agent's report of the start can be lost or overtaken
 *   by the report of a quick exit, and the server reconciles from what the agent says.
 * - SCHEDULED → PENDING: the agent declined the assignment (e.g. the node went DRAINING).
 * - PREEMPTED and LOST wait there until requeued (→ PENDING) or failed; a late exit report
 *   (the process finished during the grace period, or the node came back) may still settle them.
 * - LOST → RUNNING: the node came back before the task was requeued, still running it.
 */
export const TRANSITIONS: Readonly<Record<TaskState, readonly TaskState[]>> = {
  PENDING: ['SCHEDULED', 'CANCELLED', 'FAILED'],
  SCHEDULED: ['RUNNING', 'PENDING', 'PREEMPTED', 'LOST', ...FINISHED],
  RUNNING: ['PREEMPTED', 'LOST', ...FINISHED],
  PREEMPTED: ['PENDING', ...FINISHED],
  LOST: ['PENDING', 'RUNNING', ...FINISHED],
  SUCCEEDED: [],
  FAILED: [],
  CANCELLED: [],
  TIMEOUT: [],
};

/** Whether a task may go from `from` to `to` (a state to itself is not a transition). */
/**
 * A task just submitted: PENDING, never tried. `gang` places it in a gang (its id and index).
 * @example newPendingTask('t_1', spec, now)
 */
export function newPendingTask(id: string, spec: Task['spec'], now: number, gang: { id: string | null; index: number } = { id: null, index: 0 }): Task {
  return {
    id,
    spec,
    state: 'PENDING',
    reason: null,
    reasonMessage: null,
    attempts: 0,
    exitCode: null,
    createdAt: now,
    scheduledAt: null,
    startedAt: null,
    finishedAt: null,
    placement: null,
    gangId: gang.id,
    gangIndex: gang.index,
    version: 1,
  };
}

export function canTransition(from: TaskState, to: TaskState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Throw a plain Error (a bug, not bad input) when `from → to` is not allowed. */
export function assertTransition(from: TaskState, to: TaskState): void {
  if (!canTransition(from, to)) {
    const allowed = TRANSITIONS[from].length > 0 ? TRANSITIONS[from].join(', ') : 'nothing (it is finished)';
    throw new Error(`illegal task transition ${from} → ${to}; from ${from} it may go to ${allowed}`);
  }
}

/** Whether the task is finished for good. */
export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.includes(state);
}

/**
 * The task after its node was lost or it was preempted, as of `now`.
 *
 * - PREEMPTED: always back to PENDING. Being preempted is not the task's fault, so it is never
 *   failed for it.
 * - LOST: back to PENDING while `attempts <= spec.retries` (attempts counts starts: a task with
 *   `retries: 2` may start 3 times; attempts that never started do not count, see
 *   `requeueUnstarted`), otherwise FAILED with "node lost; no retries left".
 *   Starts that ended in preemption count among the attempts too; that keeps the rule to one
 *   counter, at the price of a task preempted many times having fewer retries for node loss.
 *
 * A requeued task loses its placement and per-attempt times; its reason is left null for the
 * scheduler to set on its next cycle. The version is bumped. Works from the state the task is
 * in (SCHEDULED, RUNNING, or already LOST/PREEMPTED); throws a plain Error from any other.
 * @example requeueAfter(runningTask, 'LOST', now).state // 'PENDING' or 'FAILED'
 */
export function requeueAfter(task: Task, cause: 'LOST' | 'PREEMPTED', now: number): Task {
  if (task.state !== cause) assertTransition(task.state, cause);
  const retry = cause === 'PREEMPTED' || task.attempts - (task.unstartedAttempts ?? 0) <= task.spec.retries;
  if (!retry) {
    return {
      ...task,
      state: 'FAILED',
      reason: null,
      reasonMessage: 'node lost; no retries left',
      finishedAt: now,
      version: task.version + 1,
    };
  }
  return backToPending(task, cause === 'PREEMPTED' ? `requeued after preemption of attempt ${task.attempts}` : `requeued: node lost during attempt ${task.attempts}`);
}

/** The task back in the queue: no placement, no per-attempt times, the reason left to the scheduler. */
function backToPending(task: Task, reasonMessage: string): Task {
  return {
    ...task,
    state: 'PENDING',
    reason: null,
    reasonMessage,
    exitCode: null,
    scheduledAt: null,
    startedAt: null,
    finishedAt: null,
    placement: null,
    version: task.version + 1,
  };
}

/** How many attempts of one task may end without starting before it is failed for it. */
export const MAX_UNSTARTED_ATTEMPTS = 3;

/**
 * The task after an attempt that never started: the agent stopped between claiming the attempt
 * and starting its process (or its node could not start processes at all), and made sure it
 * never will. Back to PENDING for a new attempt, whatever its retries (nothing ran, so nothing
 * failed); the attempt itself ended LOST. Works from SCHEDULED, or RUNNING when the agent said
 * "running" before its process was up.
 *
 * Such attempts are capped at `maxUnstarted`: a node that can never start anything (its state
 * dir unusable, no /bin/sh) must not bounce a task forever. Past the cap the task is FAILED,
 * with the last reason in its message.
 * @example requeueUnstarted(scheduledTask, 'the agent stopped before the task was started').state // 'PENDING'
 */
export function requeueUnstarted(task: Task, why: string, now: number, maxUnstarted = MAX_UNSTARTED_ATTEMPTS): Task {
  if (task.state !== 'SCHEDULED') assertTransition(task.state, 'LOST');
  const unstarted = (task.unstartedAttempts ?? 0) + 1;
  if (unstarted > maxUnstarted) {
    return {
      ...task,
      state: 'FAILED',
      unstartedAttempts: unstarted,
      reason: null,
      reasonMessage: `never started: ${unstarted} attempts ended before their process started; the last: ${why}`,
      finishedAt: now,
      version: task.version + 1,
    };
  }
  return { ...backToPending(task, `requeued: attempt ${task.attempts} never started (${why})`), unstartedAttempts: unstarted };
}
