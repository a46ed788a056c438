// The API's shapes as the page uses them, from the server's own view types (type-only imports,
// so a contract change breaks the web build too).
import type { GpuView, NodeView, TaskDetailView, TaskView, VgpuView } from '../../src/server/views.js';
import type { PoolEvent, TaskState } from '../../src/core/types.js';
import type { TaskEventPage } from '../../src/protocol/api.js';
import type { UsageReportJson } from '../../src/core/pricing/report.js';

export type { GpuView, NodeView, TaskDetailView, TaskEventPage, TaskView, VgpuView, PoolEvent, TaskState, UsageReportJson };

/** One entry of GET /v1/tasks/:id/logs (`chunks`) and of its SSE `log` events. */
export interface LogChunkView {
  pos: number;
  attempt: number;
  stream: 'stdout' | 'stderr';
  seq: number;
  at: string;
  data: string;
}
