// The JSON shapes of the REST API that both sides share (docs/CONTRACTS.md): the server builds
// them (server/views.ts), the SDK and CLI read them (sdk/types.ts). Times are ISO strings.
import type { PoolEvent } from '../core/types.js';

// Domain types that travel as they are (the dashboard and the SDK read them from here).
export type { PoolEvent, TaskState } from '../core/types.js';
export type { UsageReportJson } from '../core/pricing/report.js';

// The views are declared once, as zod schemas, in ./views.ts.
export type { AttemptView, PlacementView, TaskView } from './views.js';

/** `GET /v1/tasks/:id/events`: one page of a task's history, oldest first. */
export interface TaskEventPage {
  events: PoolEvent[];
  /** Present when more events follow: pass as `after` to read the next page. */
  next?: number;
}
