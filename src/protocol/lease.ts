// Node leases and self-fencing: the timings the server and its agents agree on, so that the
// window in which an agent's tasks may still run and the window in which the server may run them
// elsewhere never overlap.
//
// A node holds a lease of `leaseMs`, renewed by every register and heartbeat the server receives.
// The server declares the node LOST only when the lease has run out *as measured after it caught
// up with its input*: time in which the server itself was paused or starved (its control tick
// came late) is added to every lease, so a server that wakes from a pause reads the heartbeats
// waiting in its sockets before it judges anyone.
//
// The agent counts from the moment it *sent* its last renewal that the server acknowledged (so
// never later than the server's own start of the lease). Each task's supervisor reads that
// deadline from the agent's lease file and fences the task itself, also while the agent is
// paused or dead:
//
//   0 .............................. fenceAfterMs ....... +fenceGraceMs ....... leaseMs
//   renewal sent                     supervisor: SIGTERM  SIGKILL of the group  server may
//                                    (no renewal since)   nothing runs after    declare LOST
//
// fenceAfterMs = 3/4 of the lease, fenceGraceMs = 1/8, and 1/8 stays as margin (the supervisor
// wakes at the deadline; the margin absorbs a loaded host). With the default 40 s lease
// (Kubernetes' node grace): heartbeat every 5 s, SIGTERM at 30 s, SIGKILL at 35 s, LOST at 40 s
// at the earliest. A server paused for less than fenceAfterMs loses nothing: its agents' tasks
// run on, and it reads their waiting heartbeats before judging. Nomad's equivalents are
// `heartbeat_grace` (our lease beyond the heartbeat) and `stop_after_client_disconnect` (our
// fenceAfterMs), which Nomad leaves to the operator; here the second follows from the first,
// so they cannot be set to overlap. Leases under 8 s leave margins under a second: for tests.

/** The default node lease (clock ms): Kubernetes' node-monitor grace period. */
export const DEFAULT_LEASE_MS = 40_000;
/** The shortest lease a server accepts (tests use short ones; production should not). */
export const MIN_LEASE_MS = 400;

export interface LeaseTimings {
  /** The server declares a node LOST this long after its last renewal (after catching up). */
  leaseMs: number;
  /** How often the agent renews. */
  heartbeatMs: number;
  /** The supervisors SIGTERM their tasks this long after the last acknowledged renewal was sent. */
  fenceAfterMs: number;
  /** …and SIGKILL the task's group this long after the SIGTERM. */
  fenceGraceMs: number;
}

/**
 * The timings for a lease: heartbeat at 1/8 (at most 5 s), fence at 3/4, SIGKILL 1/8 later;
 * 1/8 of the lease stays as margin between the last moment a fenced task can run and the first
 * moment the server may run it elsewhere.
 */
export function leaseTimings(leaseMs: number = DEFAULT_LEASE_MS): LeaseTimings {
  if (!Number.isFinite(leaseMs) || leaseMs < MIN_LEASE_MS) throw new Error(`the node lease must be at least ${MIN_LEASE_MS} ms, got ${leaseMs}`);
  const lease = Math.round(leaseMs);
  return {
    leaseMs: lease,
    heartbeatMs: Math.max(50, Math.min(5_000, Math.floor(lease / 8))),
    fenceAfterMs: Math.floor((lease * 3) / 4),
    fenceGraceMs: Math.floor(lease / 8),
  };
}
