// The scheduler: schedule(snapshot, now, policy) → decisions, the queue order, and the
// submit-time feasibility checks.
export * from './types.js';
export { schedule } from './schedule.js';
export { orderQueue, compareTasks } from './order.js';
export { neverFits, whyNeverFits, whyReservationNeverFits, type NeverFits } from './feasibility.js';
export { IncrementalScheduler } from './incremental.js';
export { PersistentScheduler } from './persistent.js';
export { FeasibilityMemo } from './feasibility-memo.js';
