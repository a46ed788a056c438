// The JSON shapes of the REST API that both sides share (docs/CONTRACTS.md): the server builds
// them (server/views.ts), the SDK and CLI read them (sdk/types.ts). Times are ISO strings.
import type { Attempt, Placement, PoolEvent, Task, TaskSpec } from '../core/types.js';

export interface PlacementView {
  node: string;
  nodeId: string;
  gpus: number[];
  gpuUuids: string[];
  gpuMilli: number;
  memoryMiB: number;
  cpuMilli: number;
  hostMemoryMiB: number;
  sharing: Placement['sharing'];
  vgpuId?: string;
}

export interface TaskView {
  id: string;
  name: string;
  state: Task['state'];
  reason: Task['reason'];
  reasonMessage: string | null;
  priority: number;
  exitCode: number | null;
  attempts: number;
  tenant: string;
  createdAt: string | null;
  scheduledAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  spec: TaskSpec;
  placement: PlacementView | null;
  gangId: string | null;
  gangIndex: number;
  vgpuId: string | null;
}

export interface AttemptView {
  attempt: number;
  nodeId: string;
  node: string;
  placement: PlacementView;
  scheduledAt: string | null;
  startedAt: string | null;
  endedAt: string | null;
  outcome: Attempt['outcome'];
  exitCode: number | null;
}

/** `GET /v1/tasks/:id/events`: one page of a task's history, oldest first. */
export interface TaskEventPage {
  events: PoolEvent[];
  /** Present when more events follow: pass as `after` to read the next page. */
  next?: number;
}
