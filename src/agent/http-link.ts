// ServerLink over HTTP (fetch), with the bearer token. Each call is one attempt with a timeout;
// failures become LinkErrors saying whether to retry, and the agent loop retries with backoff.
// Answers are validated with the protocol's schemas, so the loop can trust them.
import type { ShippedMetric } from './metrics-shipper.js';
import type { z } from 'zod';
import {
  AssignmentsResponseSchema,
  HeartbeatResponseSchema,
  RegisterResponseSchema,
  type AssignmentsResponse,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type LogsRequest,
  type RegisterRequest,
  type RegisterResponse,
  type ReportsRequest,
  NODE_CREDENTIAL_HEADER,
} from '../protocol/agent.js';
import { ServerList, splitServerUrls } from '../util/server-list.js';
import { AGENT_PROTOCOL_VERSION } from '../protocol/version.js';
import type { FetchFn } from '../util/tls.js';
import { LinkError, type ServerLink } from './link.js';

export interface HttpLinkOptions {
  serverUrl: string;
  /** The bearer token, or a function giving the current one (a joined node's credential is renewed). */
  token: string | (() => string);
  /** Default: the global fetch; a fetch trusting a private CA for `--ca` (src/util/tls.ts). */
  fetch?: FetchFn;
  /** Per-call timeout (long-polls get their wait on top). */
  timeoutMs?: number;
}

export class HttpLink implements ServerLink {
  /** The servers, comma-separated in `serverUrl`: a call goes to the next when one is down or answers 503. */
  private readonly servers: ServerList;
  private readonly timeoutMs: number;
  private credential: string | undefined;

  constructor(private readonly opts: HttpLinkOptions) {
    this.servers = new ServerList(splitServerUrls(opts.serverUrl).map((u) => u.replace(/\/+$/, '')));
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  setCredential(credential: string): void {
    this.credential = credential;
  }

  register(req: RegisterRequest, signal?: AbortSignal): Promise<RegisterResponse> {
    return this.call('POST', '/v1/agent/register', { protocolVersion: AGENT_PROTOCOL_VERSION, ...req }, RegisterResponseSchema, signal);
  }

  heartbeat(req: HeartbeatRequest, signal?: AbortSignal): Promise<HeartbeatResponse> {
    return this.call('POST', '/v1/agent/heartbeat', req, HeartbeatResponseSchema, signal);
  }

  pollAssignments(nodeId: string, waitMs: number, signal?: AbortSignal): Promise<AssignmentsResponse> {
    const q = new URLSearchParams({ nodeId, waitMs: String(waitMs) });
    return this.call('GET', `/v1/agent/assignments?${q}`, undefined, AssignmentsResponseSchema, signal, waitMs);
  }

  async report(req: ReportsRequest, signal?: AbortSignal): Promise<void> {
    await this.call('POST', '/v1/agent/reports', req, undefined, signal);
  }

  async shipLogs(req: LogsRequest, signal?: AbortSignal): Promise<void> {
    await this.call('POST', '/v1/agent/logs', req, undefined, signal);
  }

  async shipMetrics(req: { nodeId: string; points: ShippedMetric[] }, signal?: AbortSignal): Promise<void> {
    await this.call('POST', '/v1/agent/metrics', req, undefined, signal);
  }

  private async call<T>(
    method: string,
    path: string,
    body: unknown,
    schema: z.ZodType<T> | undefined,
    signal: AbortSignal | undefined,
    extraMs = 0,
  ): Promise<T> {
    return this.servers.run(
      (base) => this.callAt(base, method, path, body, schema, signal, extraMs),
      // Unreachable, or 503 (stopping, a follower with no leader): another server may answer.
      (o) => !o.ok && o.error instanceof LinkError && o.error.retryable && (o.error.status === undefined || o.error.status === 503) && signal?.aborted !== true,
    );
  }

  private async callAt<T>(
    base: string,
    method: string,
    path: string,
    body: unknown,
    schema: z.ZodType<T> | undefined,
    signal: AbortSignal | undefined,
    extraMs: number,
  ): Promise<T> {
    const timeout = AbortSignal.timeout(this.timeoutMs + extraMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const what = `${method} ${path.split('?')[0]}`;
    let res: Response;
    try {
      res = await (this.opts.fetch ?? fetch)(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${typeof this.opts.token === 'function' ? this.opts.token() : this.opts.token}`,
          ...(this.credential !== undefined ? { [NODE_CREDENTIAL_HEADER]: this.credential } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: combined,
      });
    } catch (e) {
      if (signal?.aborted) throw new LinkError(`${what}: aborted`, false);
      if (timeout.aborted) throw new LinkError(`${what}: no answer from ${base} within ${this.timeoutMs + extraMs} ms`, true);
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new LinkError(`${what}: cannot reach ${base} (${cause?.code ?? cause?.message ?? (e as Error).message})`, true);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      throw new LinkError(`${what}: connection lost while reading the answer (${(e as Error).message})`, true);
    }
    if (!res.ok) {
      let message = text.slice(0, 300);
      let code: string | undefined;
      try {
        const j = JSON.parse(text) as { error?: { code?: string; message?: string } };
        if (j.error?.message) message = j.error.message;
        code = j.error?.code;
      } catch {
        // not JSON: keep the raw text
      }
      const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
      const unknownNode = res.status === 404 && code === 'NOT_FOUND' && /node/i.test(message);
      throw new LinkError(`${what}: ${res.status} ${message}`, retryable, res.status, unknownNode);
    }
    if (!schema) return undefined as T;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new LinkError(`${what}: the answer is not JSON: ${text.slice(0, 100)}`, true, res.status);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new LinkError(`${what}: unexpected answer (${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'})`, true, res.status);
    }
    return parsed.data;
  }
}
