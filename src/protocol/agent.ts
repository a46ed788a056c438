// The agent protocol: agents pull (so they work behind NAT), the server reconciles from what
// each agent reports it runs. All messages are JSON over HTTP under /v1/agent, authenticated
// with a bearer token (an admin token or an agent-join token).
//
//   POST /v1/agent/register     RegisterRequest   → RegisterResponse
//   POST /v1/agent/heartbeat    HeartbeatRequest  → HeartbeatResponse
//   GET  /v1/agent/assignments?nodeId=ID&waitMs=N → AssignmentsResponse   (long-poll)
//   POST /v1/agent/reports      ReportsRequest    → { ok: true }
//   POST /v1/agent/logs         LogsRequest       → { ok: true }
//
// Exactly-once launch: an assignment is identified by (taskId, attempt). The agent records each
// launch durably before starting it and never launches the same pair twice, so the server may
// resend assignments freely (after its own restart, a lost reply, …).
import { z } from 'zod';

const sharing = z.enum(['exclusive', 'mps', 'timeslice', 'simulated']);

export const GpuSchema = z.strictObject({
  index: z.number().int().min(0),
  uuid: z.string().min(1),
  model: z.string().min(1),
  memoryMiB: z.number().int().positive(),
  tflops: z.number().nonnegative(),
  sharing,
});

export const PlacementSchema = z.strictObject({
  nodeId: z.string(),
  node: z.string(),
  gpus: z.array(z.number().int().min(0)),
  gpuUuids: z.array(z.string()),
  gpuMilli: z.number().int().min(0).max(1000),
  memoryMiB: z.number().int().min(0),
  cpuMilli: z.number().int().min(0),
  hostMemoryMiB: z.number().int().min(0),
  sharing,
  vgpuId: z.string().optional(),
});

/** What the agent runs, or ran while nobody listened. */
export const RunningReportSchema = z.strictObject({
  taskId: z.string(),
  attempt: z.number().int().min(1),
  /** `running`: process alive; `exited`: finished, outcome known. */
  status: z.enum(['running', 'exited']),
  pid: z.number().int().optional(),
  startedAt: z.number().optional(),
  endedAt: z.number().optional(),
  exitCode: z.number().int().nullable().optional(),
  signal: z.string().nullable().optional(),
  /**
   * Why it ended, when not by itself (`exit`): time limit, cancel, preemption, a launch that
   * failed (bad workdir, command not found…), or `never-started`: the agent stopped between
   * claiming the attempt and starting its process, and has made sure it will never start (the
   * server runs the task again as a new attempt, without using a retry).
   */
  endReason: z.enum(['exit', 'timeout', 'cancelled', 'preempted', 'launch-failed', 'never-started']).optional(),
  /** Message for launch failures (bad workdir, command not found…). */
  error: z.string().optional(),
});
export type RunningReport = z.infer<typeof RunningReportSchema>;

export const RegisterRequestSchema = z.strictObject({
  name: z.string().min(1).max(253),
  cpuMilli: z.number().int().positive(),
  memoryMiB: z.number().int().positive(),
  labels: z.record(z.string(), z.string()).default({}),
  gpus: z.array(GpuSchema),
  simulated: z.boolean(),
  agentVersion: z.string(),
  /** Everything the agent's state dir knows about (running or exited but not yet acknowledged). */
  tasks: z.array(RunningReportSchema),
});
export type RegisterRequest = z.infer<typeof RegisterRequestSchema>;

export const RegisterResponseSchema = z.strictObject({
  nodeId: z.string(),
  heartbeatIntervalMs: z.number().int().positive(),
  /** Tasks the agent reported that the server no longer wants running: kill them. */
  stop: z.array(
    z.strictObject({
      taskId: z.string(),
      attempt: z.number().int(),
      graceMs: z.number().int(),
      /** Why: a preempted task must still find FASTGPU_PREEMPTED=1 when its agent restarted meanwhile. Absent = orphaned. */
      reason: z.enum(['cancelled', 'preempted', 'orphaned']).optional(),
    }),
  ),
});
export type RegisterResponse = z.infer<typeof RegisterResponseSchema>;

export const GpuSampleSchema = z.strictObject({
  gpuIndex: z.number().int().min(0),
  utilPercent: z.number().min(0).max(100),
  memoryUsedMiB: z.number().min(0),
});

/** The node's MPS control daemon (nodes shared with `mps` only; issue 23). */
export const MpsHealthSchema = z.strictObject({
  state: z.enum(['starting', 'ok', 'down', 'stopped']),
  detail: z.string().max(1000).optional(),
  restarts: z.number().int().min(0).max(1_000_000_000),
  lastOkAt: z.number().int().min(0).optional(),
});
export type MpsHealthReport = z.infer<typeof MpsHealthSchema>;

export const HeartbeatRequestSchema = z.strictObject({
  nodeId: z.string(),
  tasks: z.array(RunningReportSchema),
  samples: z.array(GpuSampleSchema).default([]),
  mps: MpsHealthSchema.optional(),
});
export type HeartbeatRequest = z.infer<typeof HeartbeatRequestSchema>;

export const StopOrderSchema = z.strictObject({
  taskId: z.string(),
  attempt: z.number().int(),
  /** SIGTERM, then SIGKILL after this many ms. */
  graceMs: z.number().int().min(0),
  reason: z.enum(['cancelled', 'preempted', 'orphaned']),
});
export type StopOrder = z.infer<typeof StopOrderSchema>;

export const HeartbeatResponseSchema = z.strictObject({
  /** Reports the server has recorded: the agent may forget those exited tasks. */
  ack: z.array(z.strictObject({ taskId: z.string(), attempt: z.number().int() })),
  stop: z.array(StopOrderSchema),
  /** The server does not know this node (e.g. its store was reset): register again. */
  reregister: z.boolean().default(false),
});
export type HeartbeatResponse = z.infer<typeof HeartbeatResponseSchema>;

export const AssignmentSchema = z.strictObject({
  taskId: z.string(),
  attempt: z.number().int().min(1),
  name: z.string(),
  command: z.array(z.string()).min(1),
  env: z.record(z.string(), z.string()),
  workdir: z.string().optional(),
  timeLimitMs: z.number().int().positive().optional(),
  /** Grace between SIGTERM and SIGKILL for time limits. */
  graceMs: z.number().int().min(0),
  placement: PlacementSchema,
});
export type Assignment = z.infer<typeof AssignmentSchema>;

export const AssignmentsResponseSchema = z.strictObject({
  /** Every assignment the server wants running on this node that the agent has not reported yet. */
  assignments: z.array(AssignmentSchema),
  stop: z.array(StopOrderSchema),
});
export type AssignmentsResponse = z.infer<typeof AssignmentsResponseSchema>;

export const ReportsRequestSchema = z.strictObject({
  nodeId: z.string(),
  tasks: z.array(RunningReportSchema).min(1),
});
export type ReportsRequest = z.infer<typeof ReportsRequestSchema>;

export const LogsRequestSchema = z.strictObject({
  nodeId: z.string(),
  chunks: z
    .array(
      z.strictObject({
        taskId: z.string(),
        attempt: z.number().int().min(1),
        stream: z.enum(['stdout', 'stderr']),
        seq: z.number().int().min(0),
        at: z.number(),
        data: z.string(),
      }),
    )
    .max(1000),
});
export type LogsRequest = z.infer<typeof LogsRequestSchema>;
