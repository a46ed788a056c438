// The FastGPU HTTP client. One small `request` does auth, JSON and error mapping; the task,
// vGPU and pool calls are thin wrappers over the REST API in docs/CONTRACTS.md.
import { ArraysApi, type MapOptions } from './arrays.js';
import { DatasetsApi } from './datasets.js';
import { ServerList, splitServerUrls } from '../util/server-list.js';
import { fetchTrusting, readCaFile, type FetchFn } from '../util/tls.js';
import { AdminApi } from './admin.js';
import { BillingApi } from './billing.js';
import { SweepsApi } from './sweeps.js';
import { resolveConnection, type Env } from './config.js';
import { FastGpuApiError, errorFromResponse } from './errors.js';
import { readSse, type SseEvent } from './sse.js';
import {
  isTerminal,
  type AttemptView,
  type GpuView,
  type LogChunkView,
  type LogPage,
  type NodeView,
  type PoolEvent,
  type TaskDetail,
  type TaskEventPage,
  type TaskFilter,
  type TaskPage,
  type TaskSpecInput,
  type TaskView,
  type VgpuRequest,
  type VgpuView,
} from './types.js';

export interface FastGPUOptions {
  /** Server address; default `FASTGPU_URL`, then `$FASTGPU_HOME/config.json`. */
  url?: string;
  /** Bearer token; default `FASTGPU_TOKEN`, then the saved config. */
  token?: string;
  /** Environment to read the defaults from (tests pass their own). */
  env?: Env;
  /** Per-request limit for ordinary calls, default 30 s. */
  requestTimeoutMs?: number;
  /**
   * How long a call keeps asking again while every server answers 503 (or a proxy in front 502
   * or 504): a failover takes seconds. Default 20 s; 0 answers the first 503 at once.
   */
  failoverWaitMs?: number;
  /** A CA certificate file (PEM) to trust for an https server with a private certificate; default `FASTGPU_CA`, then the saved config. */
  ca?: string;
}

type Query = Record<string, string | number | boolean | undefined>;

interface RequestOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** How long a follow or a wait keeps retrying while the server is unreachable (it may be restarting). */
const DEFAULT_RECONNECT_MS = 60_000;
const RETRY_PAUSE_MS = 300;
/** One long-poll of `/wait`; the server answers earlier when the task ends. */
const WAIT_POLL_MS = 20_000;

/** How long a call keeps asking while the pool says "not now" (a failover, a load balancer whose servers are down). */
const DEFAULT_FAILOVER_WAIT_MS = 20_000;

/**
 * How long to wait before asking again after `res`, or null when it is the answer. Asked again:
 * a 503 (FastGPU's 503 means nothing was done: a failover under way, a store that cannot be
 * written), and a 502 or 504 from a proxy in front, which may come after the request reached a
 * server that then died, so only for reads and for writes with an Idempotency-Key (submits).
 * The server's Retry-After is followed, up to 2 s.
 */
function retryWait(res: Response, method: string, headers: Record<string, string> | undefined, pause: number): number | null {
  const s = res.status;
  const again = s === 503 || ((s === 502 || s === 504) && (method === 'GET' || headers?.['idempotency-key'] !== undefined));
  if (!again) return null;
  const after = res.headers.get('retry-after');
  const seconds = after === null || after.trim() === '' ? NaN : Number(after);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, 2_000) : pause;
}

/**
 * A FastGPU client.
 * @example const fg = new FastGPU(); const t = await fg.tasks.submit({command: 'nvidia-smi', resources: {gpu: 0.5}});
 */
export class FastGPU {
  /** The server, or several comma-separated (any of them answers; see `servers`). */
  readonly url: string;
  /** The servers it fails over among (src/util/server-list.ts). */
  private readonly servers: ServerList;
  readonly tasks: TasksApi;
  readonly vgpus: VgpusApi;
  /** Task arrays and map (issue 14). */
  readonly arrays: ArraysApi;
  /** Tenants and tokens (admin tokens only). */
  readonly admin: AdminApi;
  /** Prices, promotions, usage reports and quotes. */
  readonly billing: BillingApi;
  /** Datasets: push a folder, list, show, remove, quotas (issue 16). */
  readonly datasets: DatasetsApi;
  /** Hyper-parameter sweeps. */
  readonly sweeps: SweepsApi;
  private readonly token: string | undefined;
  private readonly requestTimeoutMs: number;
  private readonly failoverWaitMs: number;
  private readonly fetch: FetchFn;

  constructor(opts: FastGPUOptions = {}) {
    const conn = resolveConnection({ url: opts.url, token: opts.token, ca: opts.ca }, opts.env ?? process.env);
    this.url = conn.url;
    this.servers = new ServerList(splitServerUrls(conn.url));
    this.token = conn.token;
    this.fetch = conn.ca !== undefined ? fetchTrusting(readCaFile(conn.ca, 'ca')) : fetch;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.failoverWaitMs = opts.failoverWaitMs ?? DEFAULT_FAILOVER_WAIT_MS;
    this.tasks = new TasksApi(this);
    this.vgpus = new VgpusApi(this);
    this.arrays = new ArraysApi(this);
    this.admin = new AdminApi(this);
    this.billing = new BillingApi(this);
    this.datasets = new DatasetsApi(this, { ...conn, fetch: this.fetch, servers: this.servers });
    this.sweeps = new SweepsApi(this);
  }

  /** Run `command` once per input as an array and return the results in input order (ArraysApi.map). */
  map(command: string | string[], inputs: readonly unknown[], opts?: MapOptions): Promise<unknown[]> {
    return this.arrays.map(command, inputs, opts);
  }

  /** Every node with its state and GPUs. */
  async nodes(): Promise<NodeView[]> {
    return (await this.request<{ nodes: NodeView[] }>('GET', '/v1/nodes')).nodes;
  }

  /**
   * Drain a node by name or id (admins): no new work goes there until `resumeNode`; with
   * `evict`, its tasks are stopped and requeued (as preempted: no retry used).
   * @example await fg.drainNode('gpu-07', {evict: true})
   */
  async drainNode(node: string, opts: { evict?: boolean } = {}): Promise<{ node: NodeView; evicted: number }> {
    return this.request<{ node: NodeView; evicted: number }>('POST', `/v1/nodes/${encodeURIComponent(node)}/drain`, { body: opts.evict ? { evict: true } : {} });
  }

  /** Undo a drain (admins). */
  async resumeNode(node: string): Promise<NodeView> {
    return this.request<NodeView>('POST', `/v1/nodes/${encodeURIComponent(node)}/resume`);
  }

  /** Every GPU of the pool with the slices allocated on it. */
  async gpus(): Promise<GpuView[]> {
    return (await this.request<{ gpus: GpuView[] }>('GET', '/v1/gpus')).gpus;
  }

  /** True when the server answers `/healthz`. */
  async healthy(signal?: AbortSignal): Promise<boolean> {
    try {
      await this.request('GET', '/healthz', { timeoutMs: 5_000, ...(signal ? { signal } : {}) });
      return true;
    } catch {
      return false;
    }
  }

  /** One JSON call. Non-2xx answers and network failures become FastGpuApiError. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, opts, 'application/json');
    const text = await res.text();
    const body = parseJson(text);
    if (!res.ok) throw errorFromResponse(res.status, body, text);
    if (body === undefined && text !== '') {
      throw new FastGpuApiError('INTERNAL', `server answered ${method} ${path} with something that is not JSON`, res.status);
    }
    return body as T;
  }

  /** Opens an SSE stream; the caller reads events until it ends or `signal` aborts. */
  async stream(path: string, query: Query, signal?: AbortSignal): Promise<AsyncGenerator<SseEvent>> {
    const res = await this.send('GET', path, { query, ...(signal ? { signal } : {}), timeoutMs: 0 }, 'text/event-stream');
    if (!res.ok) {
      const text = await res.text();
      throw errorFromResponse(res.status, parseJson(text), text);
    }
    if (!res.body) throw new FastGpuApiError('INTERNAL', `server sent no body for ${path}`, res.status);
    return readSse(res.body as unknown as AsyncIterable<Uint8Array>);
  }

  private async send(method: string, path: string, opts: RequestOptions, accept: string): Promise<Response> {
    const deadline = Date.now() + this.failoverWaitMs;
    for (let pause = 200; ; pause = Math.min(2 * pause, 1_000)) {
      // Another server of the pool is tried when one cannot be reached or answers 503 (stopping,
      // or a follower that has no leader to forward to); a caller's abort is final.
      const res = await this.servers.run(
        (base) => this.sendTo(base, method, path, opts, accept),
        // A timeout is ambiguous for a write (it may have been done), so only reads move on after one.
        (o) => (o.ok ? o.value.status === 503 : o.error instanceof FastGpuApiError && (o.error.code === 'NETWORK' || (o.error.code === 'TIMEOUT' && method === 'GET'))),
      );
      const wait = retryWait(res, method, opts.headers, pause);
      if (wait === null || Date.now() + wait > deadline || opts.signal?.aborted === true) return res;
      await res.body?.cancel();
      await sleep(wait, opts.signal);
    }
  }

  private async sendTo(base: string, method: string, path: string, opts: RequestOptions, accept: string): Promise<Response> {
    const url = new URL(base + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { ...opts.headers, accept };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
    const signals = [opts.signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    try {
      return await this.fetch(url, { method, headers, ...(body !== undefined ? { body } : {}), ...(signal ? { signal } : {}) });
    } catch (e) {
      if (opts.signal?.aborted) throw opts.signal.reason instanceof Error ? opts.signal.reason : abortError();
      if ((e as Error).name === 'TimeoutError') {
        throw new FastGpuApiError('TIMEOUT', `${method} ${url.pathname}: no answer from ${base} within ${timeoutMs} ms`);
      }
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new FastGpuApiError('NETWORK', `cannot reach the FastGPU server at ${base} (${why}); is it running?`);
    }
  }
}

export class TasksApi {
  constructor(private readonly client: FastGPU) {}

  /**
   * Submits a task and returns it (the first replica for a gang; see `create` for all).
   * @example await fg.tasks.submit({command: ['python', 'train.py'], resources: {gpu: 0.5}})
   */
  async submit(spec: TaskSpecInput): Promise<TaskView> {
    const tasks = await this.create(spec);
    const first = tasks[0];
    if (!first) throw new FastGpuApiError('INTERNAL', 'the server created no task');
    return first;
  }

  /** Submits a task spec and returns every task it made (a gang of N makes N; an array, its first element: see `arrays`). `dryRun` creates nothing. */
  async create(spec: TaskSpecInput, opts: { dryRun?: boolean } = {}): Promise<TaskView[]> {
    const query: Query = opts.dryRun ? { dryRun: 'true' } : {};
    // One key for this submit and its retries: a retry after a lost answer gets the tasks the
    // first attempt made, never a second set (the server keeps keys for 24 h).
    const headers = { 'idempotency-key': globalThis.crypto.randomUUID() };
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.client.request<{ tasks: TaskView[] }>('POST', '/v1/tasks', { body: spec, query, headers })).tasks;
      } catch (e) {
        const retriable = e instanceof FastGpuApiError && (e.code === 'NETWORK' || e.code === 'TIMEOUT');
        if (!retriable || attempt >= 2) throw e;
      }
    }
  }

  /**
   * Tasks, newest first. Without `limit` the whole list: the pages the server cuts (`all`, or a
   * filter by finished states) are followed to the end; with `limit`, at most that many.
   * @example const failed = await fg.tasks.list({ state: 'FAILED' })
   */
  async list(filter: TaskFilter = {}): Promise<TaskView[]> {
    const out: TaskView[] = [];
    let page = await this.page(filter);
    out.push(...page.tasks);
    while (filter.limit === undefined && page.next !== undefined) {
      page = await this.page({ ...filter, before: page.next });
      out.push(...page.tasks);
    }
    return out;
  }

  /** One page of tasks, newest first; ask for the next with `before: page.next`. */
  async page(filter: TaskFilter = {}): Promise<TaskPage> {
    const query: Query = {
      state: Array.isArray(filter.state) ? filter.state.join(',') : filter.state,
      name: filter.name,
      node: filter.node,
      vgpu: filter.vgpu,
      limit: filter.limit,
      before: filter.before,
      all: filter.all ? 'true' : undefined,
    };
    return await this.client.request<TaskPage>('GET', '/v1/tasks', { query });
  }

  /** The task with its attempt history. */
  async get(id: string): Promise<TaskDetail> {
    const raw = await this.client.request<Omit<TaskView, 'attempts'> & { attempt?: number; attempts: number | AttemptView[] }>(
      'GET',
      `/v1/tasks/${encodeURIComponent(id)}`,
    );
    // The server lists the attempts in `attempts` (and the count in `attempt`); the SDK keeps
    // `attempts` a count, as in every other view, and the list in `history`.
    const { attempt, attempts: list, ...rest } = raw;
    const history = Array.isArray(list) ? list : [];
    const attempts = typeof list === 'number' ? list : (attempt ?? history.reduce((n, a) => Math.max(n, a.attempt), 0));
    return { ...rest, attempts, history };
  }

  /**
   * One page of the task's history: its events, oldest first; `next` is there while more follow.
   * @example const { events, next } = await fg.tasks.events(id, { limit: 50 })
   */
  async events(id: string, opts: { after?: number; limit?: number } = {}): Promise<TaskEventPage> {
    return this.client.request<TaskEventPage>('GET', `/v1/tasks/${encodeURIComponent(id)}/events`, {
      query: { after: opts.after, limit: opts.limit },
    });
  }

  /**
   * Every event of the task's history so far, oldest first, page after page.
   * @example for await (const e of fg.tasks.eventHistory(id)) console.log(e.type)
   */
  async *eventHistory(id: string, opts: { pageSize?: number } = {}): AsyncGenerator<PoolEvent> {
    let after: number | undefined;
    for (;;) {
      const page = await this.events(id, { limit: opts.pageSize ?? 1000, ...(after !== undefined ? { after } : {}) });
      yield* page.events;
      // A `next` that does not move on would loop forever: stop instead.
      if (page.next === undefined || page.next === after) return;
      after = page.next;
    }
  }

  /** Cancels a task; a finished one is a CONFLICT. */
  async cancel(id: string): Promise<TaskView> {
    return this.client.request<TaskView>('POST', `/v1/tasks/${encodeURIComponent(id)}/cancel`);
  }

  /**
   * A task's output. With `follow`, the text as it comes until the task ends; otherwise one page.
   * @example for await (const text of fg.tasks.logs(id, {follow: true})) process.stdout.write(text)
   */
  logs(id: string, opts: { follow: true; signal?: AbortSignal }): AsyncIterable<string>;
  logs(id: string, opts?: { follow?: false; after?: number; limit?: number }): Promise<LogPage>;
  logs(
    id: string,
    opts: { follow?: boolean; after?: number; limit?: number; signal?: AbortSignal } = {},
  ): AsyncIterable<string> | Promise<LogPage> {
    if (opts.follow) {
      const chunks = this.follow(id, opts.signal ? { signal: opts.signal } : {});
      return (async function* () {
        for await (const c of chunks) yield c.data;
      })();
    }
    return this.client.request<LogPage>('GET', `/v1/tasks/${encodeURIComponent(id)}/logs`, {
      query: { after: opts.after, limit: opts.limit },
    });
  }

  /** Every log chunk recorded so far, page after page. */
  async *history(id: string): AsyncGenerator<LogChunkView> {
    let after: number | undefined;
    for (;;) {
      const page = await this.logs(id, after === undefined ? {} : { after });
      for (const c of page.chunks) yield c;
      if (page.chunks.length === 0 || page.next === null || page.next === undefined || page.next === after) return;
      after = page.next;
    }
  }

  /**
   * Log chunks live (SSE), from `after` on, until the task has ended and its output is drained.
   * Survives a server restart: it reconnects and resumes after the last chunk it saw.
   */
  async *follow(id: string, opts: { after?: number; signal?: AbortSignal; reconnectForMs?: number } = {}): AsyncGenerator<LogChunkView> {
    let after = opts.after;
    let failingSince: number | undefined;
    const budget = opts.reconnectForMs ?? DEFAULT_RECONNECT_MS;
    for (;;) {
      try {
        const events = await this.client.stream(
          `/v1/tasks/${encodeURIComponent(id)}/logs`,
          { follow: 'true', ...(after !== undefined ? { after } : {}) },
          opts.signal,
        );
        failingSince = undefined;
        for await (const ev of events) {
          if (ev.event === 'end') return;
          if (ev.event !== 'log') continue;
          const chunk = parseJson(ev.data) as LogChunkView | undefined;
          if (!chunk || typeof chunk.data !== 'string') continue;
          if (typeof chunk.pos === 'number') {
            if (after !== undefined && chunk.pos <= after) continue; // a resend after reconnecting
            after = chunk.pos;
          }
          yield chunk;
        }
        // The stream closed without `end`: the server went away mid-stream.
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        // A FastGpuApiError came from opening the stream; anything else from reading a body
        // that broke off (the server died mid-stream), which is worth a reconnect.
        if (e instanceof FastGpuApiError && !retriable(e)) throw e;
      }
      failingSince ??= Date.now();
      if (Date.now() - failingSince > budget) {
        throw new FastGpuApiError('NETWORK', `lost the log stream of task ${id} and could not reconnect within ${Math.round(budget / 1000)} s`);
      }
      await sleep(RETRY_PAUSE_MS, opts.signal);
    }
  }

  /**
   * Waits until the task has ended and returns it. Rides out a server restart.
   * @throws FastGpuApiError `TIMEOUT` when `timeoutMs` passes first.
   */
  async wait(id: string, opts: { timeoutMs?: number; signal?: AbortSignal; reconnectForMs?: number } = {}): Promise<TaskView> {
    const deadline = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : Infinity;
    const budget = opts.reconnectForMs ?? DEFAULT_RECONNECT_MS;
    let failingSince: number | undefined;
    let last: TaskView | undefined;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new FastGpuApiError('TIMEOUT', `task ${id} has not finished${last ? ` (still ${last.state})` : ''} after ${opts.timeoutMs} ms`);
      }
      const pollMs = Math.max(1, Math.min(WAIT_POLL_MS, left));
      try {
        last = await this.client.request<TaskView>('GET', `/v1/tasks/${encodeURIComponent(id)}/wait`, {
          query: { timeoutMs: pollMs },
          timeoutMs: pollMs + 10_000,
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
        failingSince = undefined;
        if (isTerminal(last.state)) return last;
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        if (!(e instanceof FastGpuApiError) || !retriable(e)) throw e;
        failingSince ??= Date.now();
        if (Date.now() - failingSince > budget) throw e;
        await sleep(RETRY_PAUSE_MS, opts.signal);
      }
    }
  }
}

export class VgpusApi {
  constructor(private readonly client: FastGPU) {}

  async create(req: VgpuRequest): Promise<VgpuView> {
    return this.client.request<VgpuView>('POST', '/v1/vgpus', { body: req });
  }

  async list(): Promise<VgpuView[]> {
    return (await this.client.request<{ vgpus: VgpuView[] }>('GET', '/v1/vgpus')).vgpus;
  }

  async get(id: string): Promise<VgpuView> {
    return this.client.request<VgpuView>('GET', `/v1/vgpus/${encodeURIComponent(id)}`);
  }

  /** Releases the slice and cancels the reservation's unfinished tasks. */
  async delete(id: string): Promise<VgpuView> {
    return this.client.request<VgpuView>('DELETE', `/v1/vgpus/${encodeURIComponent(id)}`);
  }
}

/** Worth retrying: the server is unreachable or restarting. */
function retriable(e: FastGpuApiError): boolean {
  return e.code === 'NETWORK' || e.code === 'UNAVAILABLE' || e.code === 'TIMEOUT' || e.status === 502 || e.status === 504;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function abortError(): Error {
  const e = new Error('aborted');
  e.name = 'AbortError';
  return e;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
