// The API's shapes as the page uses them: the wire views declared once in src/protocol (type-only
// imports, so a contract change breaks the web build too; lint allows the web nothing else from src).
import type { GpuView, LogChunkView, NodeView, TaskDetailView, TaskView, VgpuView } from '../../src/protocol/views.js';
import type { PoolEvent, TaskEventPage, TaskState, UsageReportJson } from '../../src/protocol/api.js';

export type { GpuView, LogChunkView, NodeView, TaskDetailView, TaskEventPage, TaskView, VgpuView, PoolEvent, TaskState, UsageReportJson };
