// The part of the store port for attempts that ended LOST with their node (issue 9): the wait
// before their tasks are placed again, and the record a late exit report is judged against
// (src/server/lost-attempts.ts). Durable so a restarted server, or a new leader, keeps both: a
// task held for its lost node's report is not placed at once after a restart, and an exit the
// node reports afterwards still wins over the LOST. Written by commitBatch in the transaction
// that declares the LOST (or acts on it), so the record and the task's state agree. Both
// adapters implement it, held to conformance-lost.ts.
import type { Task } from '../core/types.js';

/** One attempt LOST with its node, by task (a task has at most one: its latest). */
export interface LostAttemptRecord {
  taskId: string;
  attempt: number;
  nodeId: string;
  /** When the server declared it LOST (clock ms). */
  at: number;
  /** The task as the LOST left it (requeued or terminal), with the lost attempt's placement. */
  task: Task;
  /** The task is not placed again before this (clock ms). */
  holdUntil: number;
  /** Its node came back listing the attempt: the hold was extended once for its exit. */
  awaited: boolean;
}

/** commitBatch's part: records written whole (insert or replace, by task id), then deletions. */
export interface LostAttemptWrites {
  put?: readonly LostAttemptRecord[];
  /** Task ids whose record goes (no error when there is none). */
  delete?: readonly string[];
}
