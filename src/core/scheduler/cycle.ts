// The state of one scheduling cycle, shared by its steps (reservations, vGPU tasks, the queue).
import type { PlacementContext, PlacementPolicy } from '../placement/types.js';
import type { NodeRecord, PendingReason, Placement, Task } from '../types.js';
import type { Capacity } from './capacity.js';
import type { Requests } from './requests.js';
import type { Decision, ScheduleResult, SchedulerPolicy } from './types.js';

export interface Cycle {
  now: number;
  policy: SchedulerPolicy;
  cap: Capacity;
  /** Every node of the snapshot, whatever its state (the READY ones are in `cap.records`). */
  allNodes: readonly NodeRecord[];
  placer: PlacementPolicy;
  pctx: PlacementContext;
  requests: Requests;
  decisions: Decision[];
  stats: ScheduleResult['stats'];
}

/** When a task placed now is expected to end, for later reserved starts in this cycle. */
export function endIfPlacedNow(cy: Cycle, t: Task): number {
  return cy.now + (t.spec.timeLimitMs ?? cy.policy.defaultRuntimeMs);
}

export function placeTask(cy: Cycle, t: Task, placement: Placement, borrowed = false): void {
  cy.decisions.push(borrowed ? { kind: 'place', taskId: t.id, placement, borrowed } : { kind: 'place', taskId: t.id, placement });
  cy.stats.placed++;
}

export function pendTask(cy: Cycle, t: Task, reason: PendingReason, message: string): void {
  cy.decisions.push({ kind: 'pending', taskId: t.id, reason, message });
  cy.stats.pending++;
}
