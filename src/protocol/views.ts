// The JSON views of the REST API (docs/CONTRACTS.md), each declared once as a zod schema with its
// TypeScript type derived from it (z.infer). The server builds them (server/views.ts) and documents
// them in /v1/openapi.json (server/schemas.ts); the SDK and the dashboard import the types from here
// (the SDK re-exports them). Times are ISO strings, ids are strings made by the server.
import { z } from 'zod';
import { GpuSchema, PlacementSchema } from './agent.js';

export const TASK_STATES = ['PENDING', 'SCHEDULED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'PREEMPTED', 'LOST'] as const;
export const PENDING_REASONS = ['Priority', 'Resources', 'Fragmentation', 'Reservation', 'Quota', 'Budget', 'Dependency', 'ArrayTaskLimit', 'ScalingUp', 'NodeLost', 'Staging', 'Uploading'] as const;
const NODE_STATES = ['READY', 'DRAINING', 'LOST'] as const;

export const TaskStateSchema = z.enum(TASK_STATES);
const ReasonSchema = z.enum(PENDING_REASONS);
const isoTime = z.string().nullable();

/** Where a task (or a vGPU) runs: the agent protocol's placement, as the API shows it. */
export const PlacementViewSchema = PlacementSchema.omit({ vgpuId: true }).extend({ vgpuId: z.string().optional() });
export type PlacementView = z.infer<typeof PlacementViewSchema>;

export const GpuRequestSchema = z.object({
  count: z.number(),
  share: z.union([
    z.object({ kind: z.literal('milli'), milli: z.number() }),
    z.object({ kind: z.literal('memory'), memoryMiB: z.number() }),
    z.object({ kind: z.literal('tflops'), tflops: z.number() }),
  ]),
  memoryMiB: z.number().optional(),
  model: z.string().optional(),
});

/** A task spec as the server normalised it (the parsed form of what was submitted). */
export const TaskSpecViewSchema = z.object({
  name: z.string(),
  command: z.array(z.string()),
  env: z.record(z.string(), z.string()),
  workdir: z.string().optional(),
  resources: z.object({ gpu: GpuRequestSchema.nullable(), cpuMilli: z.number(), memoryMiB: z.number() }),
  priority: z.number(),
  timeLimitMs: z.number().optional(),
  retries: z.number(),
  preemptible: z.boolean(),
  gang: z.number(),
  vgpuId: z.string().optional(),
  tenant: z.string(),
  /** Datasets staged before it starts (issue 16), each pinned to a version at submit. */
  inputs: z.array(z.object({ dataset: z.string(), version: z.number().optional(), path: z.string(), env: z.string() })).optional(),
  /** Folders or files uploaded as new dataset versions after a successful exit (issue 16). */
  outputs: z.array(z.object({ path: z.string(), dataset: z.string() })).optional(),
});

const taskViewFields = {
  id: z.string(),
  name: z.string(),
  state: TaskStateSchema,
  reason: ReasonSchema.nullable(),
  reasonMessage: z.string().nullable(),
  priority: z.number(),
  exitCode: z.number().nullable(),
  tenant: z.string(),
  createdAt: isoTime,
  scheduledAt: isoTime,
  startedAt: isoTime,
  finishedAt: isoTime,
  spec: TaskSpecViewSchema,
  placement: PlacementViewSchema.nullable(),
  gangId: z.string().nullable(),
  gangIndex: z.number(),
  vgpuId: z.string().nullable(),
  // Issue 14: arrays, dependencies and results; absent on plain tasks.
  array: z.object({ id: z.string(), index: z.number(), size: z.number(), max: z.number().optional() }).optional().describe('set on an element of a task array'),
  after: z.array(z.object({ id: z.string(), on: z.enum(['ok', 'any', 'failed']) })).optional().describe('dependencies the task waits for'),
  reduce: z.string().optional().describe('a reduce step: the array whose results it gets in FASTGPU_RESULTS'),
  result: z.unknown().optional().describe('what the task wrote to $FASTGPU_RESULT (JSON), once finished'),
};

export const TaskViewSchema = z.object({ ...taskViewFields, attempts: z.number().describe('attempts started so far') });
export type TaskView = z.infer<typeof TaskViewSchema>;

export const AttemptViewSchema = z.object({
  attempt: z.number(),
  nodeId: z.string(),
  node: z.string(),
  placement: PlacementViewSchema,
  scheduledAt: isoTime,
  startedAt: isoTime,
  endedAt: isoTime,
  outcome: TaskStateSchema.nullable(),
  exitCode: z.number().nullable(),
});
export type AttemptView = z.infer<typeof AttemptViewSchema>;

/** GET /v1/tasks/:id: the task with its attempts listed (`attempt` is the current number). */
export const TaskDetailViewSchema = z.object({
  ...taskViewFields,
  attempt: z.number().describe('the current attempt number'),
  attempts: z.array(AttemptViewSchema),
  outputs: z
    .array(z.object({ path: z.string(), dataset: z.string(), version: z.number().nullable().describe('the version its upload made; null until then (or when it failed)') }))
    .optional()
    .describe('its `outputs:` and the dataset versions they made (issue 16)'),
});
export type TaskDetailView = z.infer<typeof TaskDetailViewSchema>;

export const LogChunkViewSchema = z.object({
  pos: z.number(),
  attempt: z.number(),
  stream: z.enum(['stdout', 'stderr']),
  seq: z.number(),
  at: z.string(),
  data: z.string(),
});
/** One piece of a task's output. `pos` orders chunks across streams and attempts. */
export type LogChunkView = z.infer<typeof LogChunkViewSchema>;

export const LogPageSchema = z.object({
  chunks: z.array(LogChunkViewSchema),
  next: z.number().describe('pass as `after` to read on'),
  prunedAt: z.string().optional().describe('when log retention deleted this finished task’s logs (on a first, empty page)'),
});
export type LogPage = z.infer<typeof LogPageSchema>;

export const NodeViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  state: z.enum(NODE_STATES),
  drained: z.boolean().describe('drained by an admin: takes no new work until resumed (also while LOST)'),
  cpuMilli: z.number(),
  memoryMiB: z.number(),
  labels: z.record(z.string(), z.string()),
  gpus: z.array(GpuSchema),
  simulated: z.boolean(),
  agentVersion: z.string(),
  registeredAt: isoTime,
  lastHeartbeatAt: isoTime,
  allocated: z.object({ cpuMilli: z.number(), memoryMiB: z.number(), gpuMilli: z.number() }),
  tasks: z.number(),
  mps: z
    .object({ state: z.enum(['starting', 'ok', 'down', 'stopped']), detail: z.string().optional(), restarts: z.number(), lastOkAt: isoTime, reportedAt: isoTime })
    .nullable()
    .describe('nodes shared with MPS: the control daemon the agent runs (ok, down and why, restarts); null elsewhere'),
});
export type NodeView = z.infer<typeof NodeViewSchema>;

/** A task or reservation on a GPU. Another tenant's shows its amounts only (empty name and tenant, no ids). */
export const SliceViewSchema = z.object({
  taskId: z.string().optional(),
  vgpuId: z.string().optional(),
  name: z.string(),
  tenant: z.string(),
  milli: z.number(),
  memoryMiB: z.number(),
});
export type SliceView = z.infer<typeof SliceViewSchema>;

export const GpuViewSchema = z.object({
  node: z.string(),
  nodeId: z.string(),
  nodeState: z.enum(NODE_STATES),
  index: z.number(),
  uuid: z.string(),
  model: z.string(),
  memoryMiB: z.number(),
  tflops: z.number(),
  sharing: z.enum(['exclusive', 'mps', 'timeslice', 'simulated']),
  allocatedMilli: z.number(),
  allocatedMemoryMiB: z.number(),
  slices: z
    .array(SliceViewSchema)
    .describe('tasks and reservations on this GPU; a task inside a vGPU is listed with its vgpuId and not counted again'),
  utilPercent: z.number().optional(),
});
export type GpuView = z.infer<typeof GpuViewSchema>;

export const VgpuViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  tenant: z.string(),
  state: z.enum(['PENDING', 'ACTIVE', 'RELEASED']),
  reason: ReasonSchema.nullable(),
  request: GpuRequestSchema,
  placement: PlacementViewSchema.nullable(),
  createdAt: isoTime,
  releasedAt: isoTime,
  tasks: z.record(z.string(), z.number()).describe('its unfinished tasks by state'),
});
export type VgpuView = z.infer<typeof VgpuViewSchema>;

export const TaskListSchema = z.object({ tasks: z.array(TaskViewSchema) });
/** One page of `GET /v1/tasks`: `next` is there while older tasks follow (pass it as `before`). */
export const TaskPageSchema = TaskListSchema.extend({
  next: z.string().optional().describe('more tasks follow: ask again with before=next'),
});
export const NodeListSchema = z.object({ nodes: z.array(NodeViewSchema) });
export const GpuListSchema = z.object({ gpus: z.array(GpuViewSchema) });
export const VgpuListSchema = z.object({ vgpus: z.array(VgpuViewSchema) });
