// An in-memory stand-in for the FastGPU REST API, for tests of code that uses the SDK or the
// CLI: real HTTP on 127.0.0.1, scripted task life (`finish`, `log`), no scheduler.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TaskState } from '../core/types.js';
import type { GpuView, LogChunkView, NodeView, TaskView, VgpuView } from './types.js';
import { isTerminal } from './types.js';

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  authorization: string | undefined;
}

type Handler = (req: FakeRequest) => { status: number; body: unknown } | undefined;

const SPEC_FIELDS = new Set(['name', 'command', 'env', 'workdir', 'resources', 'priority', 'timeLimit', 'retries', 'preemptible', 'gang', 'vgpu']);

export class FakeApi {
  readonly requests: FakeRequest[] = [];
  readonly tasks = new Map<string, TaskView>();
  readonly logs = new Map<string, LogChunkView[]>();
  readonly vgpus = new Map<string, VgpuView>();
  nodes: NodeView[] = [];
  gpus: GpuView[] = [];
  /** Runs before the built-in routes; return an answer to override them. */
  override: Handler | undefined;
  private server: Server | undefined;
  private nextId = 1;
  private nextPos = 1;
  private readonly watchers = new Set<() => void>();

  constructor(readonly token = 'secret') {}

  get url(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error('FakeApi is not listening');
    return `http://127.0.0.1:${addr.port}`;
  }

  /** Listens on 127.0.0.1 (`port` 0: any free one; pass the old port to simulate a restart). */
  async listen(port = 0): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return this.url;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.server = undefined;
  }

  /** Appends output to a task (seen by page reads and live followers). */
  log(id: string, data: string, stream: 'stdout' | 'stderr' = 'stdout'): void {
    const list = this.logs.get(id) ?? [];
    list.push({ pos: this.nextPos++, stream, attempt: 1, data });
    this.logs.set(id, list);
    this.notify();
  }

  /** Moves a task to a state (terminal states set finishedAt). */
  setState(id: string, state: TaskState, exitCode: number | null = null): void {
    const t = this.tasks.get(id);
    if (!t) throw new Error(`no task ${id}`);
    t.state = state;
    t.exitCode = exitCode;
    if (isTerminal(state)) t.finishedAt = new Date().toISOString();
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.watchers]) w();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    let body: unknown;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      return send(res, 400, { error: { code: 'INVALID_ARGUMENT', message: 'body: not JSON' } });
    }
    const fr: FakeRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, body, authorization: req.headers.authorization };
    this.requests.push(fr);
    const over = this.override?.(fr);
    if (over) return send(res, over.status, over.body);
    if (fr.path === '/healthz') return send(res, 200, { ok: true });
    if (fr.authorization !== `Bearer ${this.token}`) {
      return send(res, 401, { error: { code: 'UNAUTHENTICATED', message: 'missing or wrong bearer token' } });
    }
    const m = (re: RegExp): RegExpExecArray | null => re.exec(fr.path);
    let r: RegExpExecArray | null;
    if (fr.method === 'POST' && fr.path === '/v1/tasks') return this.submit(res, fr);
    if (fr.method === 'GET' && fr.path === '/v1/tasks') {
      const states = fr.query.get('state')?.split(',');
      const list = [...this.tasks.values()].filter((t) => !states || states.includes(t.state));
      return send(res, 200, { tasks: list });
    }
    if (fr.method === 'GET' && (r = m(/^\/v1\/tasks\/([^/]+)$/))) {
      const t = this.tasks.get(r[1]!);
      return t ? send(res, 200, { ...t, attempts: [] }) : notFound(res, r[1]!);
    }
    if (fr.method === 'POST' && (r = m(/^\/v1\/tasks\/([^/]+)\/cancel$/))) {
      const t = this.tasks.get(r[1]!);
      if (!t) return notFound(res, r[1]!);
      if (isTerminal(t.state)) return send(res, 409, { error: { code: 'CONFLICT', message: `task ${t.id} already finished (${t.state})` } });
      this.setState(t.id, 'CANCELLED');
      return send(res, 200, t);
    }
    if (fr.method === 'GET' && (r = m(/^\/v1\/tasks\/([^/]+)\/wait$/))) return this.wait(res, r[1]!, Number(fr.query.get('timeoutMs') ?? 30000));
    if (fr.method === 'GET' && (r = m(/^\/v1\/tasks\/([^/]+)\/logs$/))) {
      const id = r[1]!;
      if (!this.tasks.has(id)) return notFound(res, id);
      const after = Number(fr.query.get('after') ?? 0);
      if (fr.query.get('follow') === 'true' || req.headers.accept === 'text/event-stream') return this.follow(res, id, after);
      const chunks = (this.logs.get(id) ?? []).filter((c) => c.pos > after);
      return send(res, 200, { chunks, next: chunks.at(-1)?.pos ?? after });
    }
    if (fr.method === 'GET' && fr.path === '/v1/nodes') return send(res, 200, { nodes: this.nodes });
    if (fr.method === 'GET' && fr.path === '/v1/gpus') return send(res, 200, { gpus: this.gpus });
    if (fr.method === 'POST' && fr.path === '/v1/vgpus') {
      const id = `vg_${this.nextId++}`;
      const v: VgpuView = { id, name: (body as { name?: string }).name ?? id, state: 'ACTIVE', request: body };
      this.vgpus.set(id, v);
      return send(res, 201, v);
    }
    if (fr.method === 'GET' && fr.path === '/v1/vgpus') return send(res, 200, { vgpus: [...this.vgpus.values()] });
    if (fr.method === 'DELETE' && (r = m(/^\/v1\/vgpus\/([^/]+)$/))) {
      const v = this.vgpus.get(r[1]!);
      if (!v) return send(res, 404, { error: { code: 'NOT_FOUND', message: `vgpu ${r[1]!} not found` } });
      v.state = 'RELEASED';
      return send(res, 200, v);
    }
    return send(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${fr.method} ${fr.path}` } });
  }

  private submit(res: ServerResponse, fr: FakeRequest): void {
    const spec = fr.body as Record<string, unknown> | undefined;
    if (typeof spec !== 'object' || spec === null) return send(res, 400, { error: { code: 'INVALID_ARGUMENT', message: 'body: expected an object' } });
    for (const k of Object.keys(spec)) {
      if (!SPEC_FIELDS.has(k)) return send(res, 400, { error: { code: 'INVALID_ARGUMENT', message: `${k}: unknown field`, field: k } });
    }
    if (spec.command === undefined) return send(res, 400, { error: { code: 'INVALID_ARGUMENT', message: 'command: required', field: 'command' } });
    const gpu = (spec.resources as { gpu?: unknown } | undefined)?.gpu;
    if (typeof gpu === 'number' && gpu > 1) {
      return send(res, 422, { error: { code: 'UNSCHEDULABLE', message: `resources.gpu: ${gpu} GPUs can never fit: the largest node has 1`, field: 'resources.gpu' } });
    }
    const id = `t_${this.nextId++}`;
    const cmd = Array.isArray(spec.command) ? (spec.command as string[]) : ['sh', '-c', String(spec.command)];
    const now = new Date().toISOString();
    const task: TaskView = {
      id,
      name: typeof spec.name === 'string' ? spec.name : (cmd[0] ?? 'task'),
      state: 'PENDING',
      reason: 'Resources',
      reasonMessage: 'no GPU has room',
      priority: typeof spec.priority === 'number' ? spec.priority : 50,
      exitCode: null,
      attempts: 0,
      tenant: 'default',
      createdAt: now,
      scheduledAt: null,
      startedAt: null,
      finishedAt: null,
      spec: spec as unknown as TaskView['spec'],
      placement: null,
      gangId: null,
      gangIndex: 0,
      vgpuId: typeof spec.vgpu === 'string' ? spec.vgpu : null,
    };
    if (fr.query.get('dryRun') !== 'true') this.tasks.set(id, task);
    send(res, 201, { tasks: [task] });
  }

  private wait(res: ServerResponse, id: string, timeoutMs: number): void {
    const t = this.tasks.get(id);
    if (!t) return notFound(res, id);
    if (isTerminal(t.state)) return send(res, 200, t);
    const done = (): void => {
      if (!isTerminal(t.state)) return;
      cleanup();
      send(res, 200, t);
    };
    const timer = setTimeout(() => {
      cleanup();
      send(res, 200, t);
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      this.watchers.delete(done);
    };
    res.on('close', cleanup);
    this.watchers.add(done);
  }

  private follow(res: ServerResponse, id: string, after: number): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let pos = after;
    const pump = (): void => {
      for (const c of this.logs.get(id) ?? []) {
        if (c.pos <= pos) continue;
        res.write(`id: ${c.pos}\nevent: log\ndata: ${JSON.stringify(c)}\n\n`);
        pos = c.pos;
      }
      if (isTerminal(this.tasks.get(id)!.state)) {
        res.end('event: end\ndata: {}\n\n');
        this.watchers.delete(pump);
      }
    };
    res.on('close', () => this.watchers.delete(pump));
    this.watchers.add(pump);
    pump();
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function notFound(res: ServerResponse, id: string): void {
  send(res, 404, { error: { code: 'NOT_FOUND', message: `task ${id} not found` } });
}
