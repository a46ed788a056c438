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
//
// Every field has a range (issue 9 §2, issue 21 item 7): an agent token speaks for one node, and
// nothing it sends may poison what the server stores or answers to others. Times are checked
// again against the server's clock (`checkAgentTimes` in the control plane).
import { z } from 'zod';

const sharing = z.enum(['exclusive', 'mps', 'timeslice', 'simulated']);

/** Limits of what an agent may report; beyond these a report is a bug or an attack. */
export const AGENT_LIMITS = {
  gpusPerNode: 64,
  gpuIndex: 255,
  /** 1 TiB per GPU. */
  gpuMemoryMiB: 1_048_576,
  gpuTflops: 100_000,
  /** 16,384 cores. */
  cpuMilli: 16_384_000,
  /** 64 TiB of host memory. */
  memoryMiB: 67_108_864,
  labels: 64,
  /** Linux's pid_max ceiling. */
  pid: 4_194_304,
  attempt: 1_000_000,
  /** Epoch ms up to year 2286: a time anyone can store and print; the server narrows it to its clock. */
  time: 9_999_999_999_999,
  reportsPerMessage: 10_000,
  text: 4_096,
  /** Bytes of JSON a task may write to $FASTGPU_RESULT (issue 14). */
  result: 65_536,
} as const;

/** Node names follow the rule of tenant and task names (src/core/spec.ts): no spaces, no control characters. */
export const NODE_NAME_RE = /^[A-Za-z0-9._-]{1,128}$/;
export const NodeNameSchema = z.string().regex(NODE_NAME_RE, { error: 'a node name is 1 to 128 characters from A-Z a-z 0-9 . _ -' });
/** An id the server made (task, node, vGPU): short and printable. */
const IdSchema = z.string().min(1).max(128).regex(/^[A-Za-z0-9._:-]+$/, { error: 'not an id' });
/** Free text shown to people (models, errors): no control characters but tab. */
const text = (max: number) => z.string().max(max).regex(/^[^\u0000-\u0008\u000a-\u001f\u007f]*$/, { error: 'must not contain control characters' });
const time = z.number().int().min(0).max(AGENT_LIMITS.time);

export const GpuSchema = z.strictObject({
  index: z.number().int().min(0).max(AGENT_LIMITS.gpuIndex),
  uuid: text(128).min(1),
  model: text(128).min(1),
  memoryMiB: z.number().int().positive().max(AGENT_LIMITS.gpuMemoryMiB),
  tflops: z.number().nonnegative().max(AGENT_LIMITS.gpuTflops),
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
  taskId: IdSchema,
  attempt: z.number().int().min(1).max(AGENT_LIMITS.attempt),
  /** The server epoch of the assignment (the fencing token is this plus `attempt`); absent from older agents. */
  epoch: z.number().int().min(1).max(AGENT_LIMITS.attempt * 1000).optional(),
  /**
   * `staging`: its data inputs are being staged, the process is not started (issue 16); `running`: process alive;
   * `uploading`: the process exited 0 and its outputs are being uploaded (issue 16; `endedAt` is the exit);
   * `exited`: finished, outcome known.
   */
  status: z.enum(['staging', 'running', 'uploading', 'exited']),
  /** While `staging`: bytes of its inputs on the node (from the cache or downloaded) and in all. */
  staging: z.strictObject({ doneBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), totalBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }).optional(),
  /** While `uploading`: raw bytes of its outputs read and in all (known once every file is listed). */
  uploading: z.strictObject({ doneBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), totalBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }).optional(),
  pid: z.number().int().min(1).max(AGENT_LIMITS.pid).optional(),
  startedAt: time.optional(),
  endedAt: time.optional(),
  exitCode: z.number().int().min(-2_147_483_648).max(2_147_483_647).nullable().optional(),
  signal: text(32).nullable().optional(),
  /**
   * Why it ended, when not by itself (`exit`): time limit, cancel, preemption, a launch that
   * failed (bad workdir, command not found…), or `never-started`: the agent stopped between
   * claiming the attempt and starting its process, and has made sure it will never start (the
   * server runs the task again as a new attempt, without using a retry). `fenced`: its
   * supervisor stopped it because the agent could not renew the node's lease (src/protocol/lease.ts).
   * `output-failed`: it exited 0 but uploading its outputs failed (`error` names the output and why).
   */
  endReason: z.enum(['exit', 'timeout', 'cancelled', 'preempted', 'launch-failed', 'never-started', 'fenced', 'output-failed']).optional(),
  /** Message for launch failures (bad workdir, command not found…). */
  error: z.string().max(AGENT_LIMITS.text).optional(),
  /** On exit: the JSON the task wrote to $FASTGPU_RESULT, as text (agent/result.ts). */
  result: z.string().max(AGENT_LIMITS.result).optional(),
  /** On exit: why a $FASTGPU_RESULT file was not taken (not JSON, too large). */
  resultError: z.string().max(AGENT_LIMITS.text).optional(),
});
export type RunningReport = z.infer<typeof RunningReportSchema>;

export const RegisterRequestSchema = z.strictObject({
  name: NodeNameSchema,
  cpuMilli: z.number().int().positive().max(AGENT_LIMITS.cpuMilli),
  memoryMiB: z.number().int().positive().max(AGENT_LIMITS.memoryMiB),
  labels: z
    .record(z.string().min(1).max(253).regex(/^[A-Za-z0-9._/-]+$/, { error: 'a label key is A-Z a-z 0-9 . _ / -' }), text(253))
    .refine((l) => Object.keys(l).length <= AGENT_LIMITS.labels, { error: `at most ${AGENT_LIMITS.labels} labels` })
    .default({}),
  gpus: z.array(GpuSchema).max(AGENT_LIMITS.gpusPerNode),
  simulated: z.boolean(),
  agentVersion: text(64),
  /** The agent protocol version it speaks (src/protocol/version.ts); absent: 1. */
  protocolVersion: z.number().int().min(0).max(1_000_000).optional(),
  /**
   * The node credential (kept 0600 in the agent's state dir): the one the server issued, or, on a
   * first register, one the agent drew and saved itself, which the server takes when it is strong
   * (32+ characters of A-Z a-z 0-9 _ -), so a register whose answer was lost can be sent again.
   * A name that has one can only be registered again with it, unless the
   * node is LOST (its lease ran out and its tasks were fenced): then a new agent may take it over.
   */
  credential: z.string().min(1).max(256).optional(),
  /** Everything the agent's state dir knows about (running or exited but not yet acknowledged). */
  tasks: z.array(RunningReportSchema).max(AGENT_LIMITS.reportsPerMessage),
});
export type RegisterRequest = z.infer<typeof RegisterRequestSchema>;

export const RegisterResponseSchema = z.strictObject({
  nodeId: z.string(),
  heartbeatIntervalMs: z.number().int().positive(),
  /** The lease and its fencing timings (src/protocol/lease.ts). */
  leaseMs: z.number().int().positive(),
  fenceAfterMs: z.number().int().positive(),
  fenceGraceMs: z.number().int().min(0),
  /** The server's epoch (bumped at every server start): with the attempt number, an attempt's fencing token. */
  epoch: z.number().int().min(1),
  /** A new node credential, when the server issued one: the agent stores it (0600) and sends it from now on. */
  credential: z.string().optional(),
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
  gpuIndex: z.number().int().min(0).max(AGENT_LIMITS.gpuIndex),
  utilPercent: z.number().min(0).max(100),
  memoryUsedMiB: z.number().min(0).max(AGENT_LIMITS.gpuMemoryMiB),
});

/** The node's MPS control daemon (nodes shared with `mps` only; issue 23). */
export const MpsHealthSchema = z.strictObject({
  state: z.enum(['starting', 'ok', 'down', 'stopped']),
  detail: z.string().max(1000).optional(),
  restarts: z.number().int().min(0).max(1_000_000_000),
  lastOkAt: z.number().int().min(0).optional(),
});
export type MpsHealthReport = z.infer<typeof MpsHealthSchema>;

const bytes = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** The node's dataset cache and staging since the agent started (issue 16; src/agent/staging.ts). */
export const CacheReportSchema = z.strictObject({
  usedBytes: bytes,
  capBytes: bytes,
  hitBytes: bytes,
  downloadedBytes: bytes,
  stagedBytes: bytes,
  stagingSeconds: z.number().min(0).max(1e12),
  /** Dataset versions every chunk of which the cache holds, as `tenant/name@version` (placement prefers this node for them). */
  datasets: z.array(z.string().max(200)).max(1000),
});
export type CacheReport = z.infer<typeof CacheReportSchema>;

export const HeartbeatRequestSchema = z.strictObject({
  nodeId: IdSchema,
  tasks: z.array(RunningReportSchema).max(AGENT_LIMITS.reportsPerMessage),
  samples: z.array(GpuSampleSchema).max(AGENT_LIMITS.gpusPerNode).default([]),
  mps: MpsHealthSchema.optional(),
  cache: CacheReportSchema.optional(),
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
  /** The server epoch that placed it: the agent sends it back in its reports (fencing token). */
  epoch: z.number().int().min(1).optional(),
  /** Datasets to stage before it starts (issue 16; src/agent/staging.ts). */
  inputs: z.array(z.strictObject({ tenant: z.string(), dataset: z.string(), version: z.number().int().min(1).optional(), path: z.string(), env: z.string() })).optional(),
  /** Paths uploaded as new dataset versions after it exits 0 (issue 16; src/agent/outputs.ts). */
  outputs: z.array(z.strictObject({ path: z.string(), dataset: z.string() })).optional(),
});
export type Assignment = z.infer<typeof AssignmentSchema>;

export const AssignmentsResponseSchema = z.strictObject({
  /** Every assignment the server wants running on this node that the agent has not reported yet. */
  assignments: z.array(AssignmentSchema),
  stop: z.array(StopOrderSchema),
});
export type AssignmentsResponse = z.infer<typeof AssignmentsResponseSchema>;

export const ReportsRequestSchema = z.strictObject({
  nodeId: IdSchema,
  tasks: z.array(RunningReportSchema).min(1).max(AGENT_LIMITS.reportsPerMessage),
});
export type ReportsRequest = z.infer<typeof ReportsRequestSchema>;

export const LogsRequestSchema = z.strictObject({
  nodeId: IdSchema,
  chunks: z
    .array(
      z.strictObject({
        taskId: IdSchema,
        attempt: z.number().int().min(1).max(AGENT_LIMITS.attempt),
        stream: z.enum(['stdout', 'stderr']),
        seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
        at: time,
        data: z.string(),
      }),
    )
    .max(1000),
});
export type LogsRequest = z.infer<typeof LogsRequestSchema>;

/** The header that carries the node credential on every agent call after registration. */
export const NODE_CREDENTIAL_HEADER = 'x-fastgpu-node-credential';
