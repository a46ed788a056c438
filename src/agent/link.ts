// The agent's narrow view of the server (src/protocol/agent.ts): five calls. The agent loop only
// knows this interface; http-link.ts speaks it over HTTP, tests use an in-memory fake.
import { sleepOn, systemClock } from '../util/clock.js';
import type { ShippedMetric } from './metrics-shipper.js';
import type {
  AssignmentsResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  LogsRequest,
  RegisterRequest,
  RegisterResponse,
  ReportsRequest,
} from '../protocol/agent.js';

export interface ServerLink {
  register(req: RegisterRequest, signal?: AbortSignal): Promise<RegisterResponse>;
  heartbeat(req: HeartbeatRequest, signal?: AbortSignal): Promise<HeartbeatResponse>;
  /** Long-poll: answers when there is work or after about `waitMs`. */
  pollAssignments(nodeId: string, waitMs: number, signal?: AbortSignal): Promise<AssignmentsResponse>;
  report(req: ReportsRequest, signal?: AbortSignal): Promise<void>;
  shipLogs(req: LogsRequest, signal?: AbortSignal): Promise<void>;
  /** Metric points tasks appended to $FASTGPU_METRICS (metrics-shipper.ts); absent: not shipped. */
  shipMetrics?(req: { nodeId: string; points: ShippedMetric[] }, signal?: AbortSignal): Promise<void>;
  /** The node credential to present on every call from now on (src/server/node-identity.ts). */
  setCredential?(credential: string): void;
}

/** A failed call. `retryable`: the server is down or busy, try again later; otherwise a refusal. */
export class LinkError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    /** The server does not know this node id (its store was reset): register again. */
    readonly unknownNode = false,
  ) {
    super(message);
    this.name = 'LinkError';
  }
}

/** True for errors worth retrying (network trouble, 5xx, anything unexpected). */
export const isRetryable = (e: unknown): boolean => !(e instanceof LinkError) || e.retryable;

/** Sleeps `ms` on the real clock, or less when `signal` aborts (then resolves, never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleepOn(systemClock, ms, signal);
}

/** Exponential backoff with jitter: 100 ms, 200 ms, … up to `maxMs`. */
export class Backoff {
  private n = 0;
  constructor(
    private readonly minMs = 100,
    private readonly maxMs = 5_000,
    private readonly random: () => number = Math.random,
  ) {}
  next(): number {
    const base = Math.min(this.maxMs, this.minMs * 2 ** this.n);
    this.n = Math.min(this.n + 1, 30);
    return Math.round(base / 2 + (base / 2) * this.random());
  }
  reset(): void {
    this.n = 0;
  }
}
