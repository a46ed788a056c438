// Test helpers: an app over a real SQLite store in a temp dir, driven in-process with
// app.inject, a ManualClock, and a fake agent that speaks the protocol through the endpoints.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gpu } from '../core/types.js';
import { NODE_CREDENTIAL_HEADER, type Assignment, type AssignmentsResponse, type HeartbeatResponse, type RegisterResponse, type RunningReport } from '../protocol/agent.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/port.js';
import { ManualClock } from '../util/clock.js';
import { buildApp, type AppDeps, type ServerApp } from './app.js';
import { ensureAdminToken } from './main.js';

export interface Harness {
  dir: string;
  store: Store;
  clock: ManualClock;
  server: ServerApp;
  token: string;
  /** JSON request with the admin token; returns status and parsed body. */
  req(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; raw: string; headers: Record<string, unknown> }>;
  /** A new app over the same store (a server restart); the old one is closed. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function makeHarness(opts: Partial<AppDeps> = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'fastgpu-server-'));
  const store = openStore({ kind: 'sqlite', path: join(dir, 'fastgpu.db') });
  await store.init();
  const clock = new ManualClock();
  const token = await ensureAdminToken(dir, store, clock);
  const deps: AppDeps = { store, clock, tickMs: 0, nodeLostAfterMs: 15_000, logDrainMs: 20, sampleMaintenance: false, blobDir: join(dir, 'blobs'), ...opts };
  const h: Harness = {
    dir,
    store,
    clock,
    server: await buildApp(deps),
    token,
    async req(method, url, body, headers = {}) {
      const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      const res = await h.server.app.inject({
        method: method as 'GET',
        url,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(payload !== undefined ? { payload } : {}),
      });
      let parsed: unknown = undefined;
      try {
        parsed = JSON.parse(res.payload);
      } catch {
        parsed = undefined;
      }
      return { status: res.statusCode, body: parsed, raw: res.payload, headers: res.headers };
    },
    async restart() {
      await h.server.close();
      h.server = await buildApp(deps);
    },
    async close() {
      await h.server.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

export function h100s(n: number, prefix = 'GPU-test'): Gpu[] {
  return Array.from({ length: n }, (_, i) => ({
    index: i,
    uuid: `${prefix}-${i}`,
    model: 'H100-80GB',
    memoryMiB: 80 * 1024,
    tflops: 989,
    sharing: 'simulated' as const,
  }));
}

/** An agent driven by the test through the protocol endpoints. It launches nothing. */
export class FakeAgent {
  nodeId = '';
  /** The node credential the server issued (sent on every call, as a real agent does). */
  credential: string | undefined;
  /** What it "runs": key → report. */
  readonly running = new Map<string, RunningReport>();
  readonly exited = new Map<string, RunningReport>();
  readonly launched: string[] = [];

  constructor(
    private readonly h: Harness,
    readonly name = 'node-a',
    readonly gpus: Gpu[] = h100s(1),
  ) {}

  /** The credential header for agent calls. */
  headers(): Record<string, string> {
    return this.credential !== undefined ? { [NODE_CREDENTIAL_HEADER]: this.credential } : {};
  }

  private reports(): RunningReport[] {
    return [...this.running.values(), ...this.exited.values()];
  }

  async register(): Promise<RegisterResponse> {
    const res = await this.h.req('POST', '/v1/agent/register', {
      name: this.name,
      cpuMilli: 64_000,
      memoryMiB: 512 * 1024,
      labels: {},
      gpus: this.gpus,
      simulated: true,
      agentVersion: 'test',
      tasks: this.reports(),
      ...(this.credential !== undefined ? { credential: this.credential } : {}),
    });
    if (res.status !== 200) throw new Error(`register: ${res.status} ${res.raw}`);
    this.nodeId = res.body.nodeId;
    if (res.body.credential !== undefined) this.credential = res.body.credential;
    for (const s of res.body.stop as { taskId: string; attempt: number }[]) this.stopped(s.taskId, s.attempt);
    return res.body;
  }

  async poll(waitMs = 0): Promise<AssignmentsResponse> {
    const res = await this.h.req('GET', `/v1/agent/assignments?nodeId=${this.nodeId}&waitMs=${waitMs}`, undefined, this.headers());
    if (res.status !== 200) throw new Error(`poll: ${res.status} ${res.raw}`);
    return res.body;
  }

  /** Poll and "launch" every new assignment (reporting it started). Returns the launched ones. */
  async pollAndStart(waitMs = 0): Promise<Assignment[]> {
    const r = await this.poll(waitMs);
    const fresh = r.assignments.filter((a) => !this.launched.includes(`${a.taskId}#${a.attempt}`));
    for (const a of fresh) this.launched.push(`${a.taskId}#${a.attempt}`);
    if (fresh.length > 0) await this.start(fresh.map((a) => [a.taskId, a.attempt] as const));
    return fresh;
  }

  async start(list: readonly (readonly [string, number])[]): Promise<void> {
    const tasks: RunningReport[] = list.map(([taskId, attempt]) => ({ taskId, attempt, status: 'running', pid: 1000, startedAt: this.h.clock.now() }));
    for (const t of tasks) this.running.set(`${t.taskId}#${t.attempt}`, t);
    await this.send(tasks);
  }

  async exit(taskId: string, attempt: number, exitCode: number | null, endReason: RunningReport['endReason'] = 'exit', error?: string): Promise<void> {
    const key = `${taskId}#${attempt}`;
    const was = this.running.get(key);
    this.running.delete(key);
    const r: RunningReport = { taskId, attempt, status: 'exited', exitCode, endReason, endedAt: this.h.clock.now() };
    if (was?.startedAt !== undefined) r.startedAt = was.startedAt;
    if (error !== undefined) r.error = error;
    this.exited.set(key, r);
    await this.send([r]);
  }

  /** Obey a stop order: the process ends as cancelled. */
  stopped(taskId: string, attempt: number): void {
    const key = `${taskId}#${attempt}`;
    if (!this.running.has(key)) return;
    this.running.delete(key);
    this.exited.set(key, { taskId, attempt, status: 'exited', exitCode: null, signal: 'SIGTERM', endReason: 'cancelled', endedAt: this.h.clock.now() });
  }

  async send(tasks: RunningReport[]): Promise<void> {
    const res = await this.h.req('POST', '/v1/agent/reports', { nodeId: this.nodeId, tasks }, this.headers());
    if (res.status !== 200) throw new Error(`reports: ${res.status} ${res.raw}`);
  }

  async heartbeat(): Promise<HeartbeatResponse> {
    const res = await this.h.req('POST', '/v1/agent/heartbeat', { nodeId: this.nodeId, tasks: this.reports(), samples: [] }, this.headers());
    if (res.status !== 200) throw new Error(`heartbeat: ${res.status} ${res.raw}`);
    const body = res.body as HeartbeatResponse;
    for (const a of body.ack) this.exited.delete(`${a.taskId}#${a.attempt}`);
    return body;
  }
}

/** Submit a spec; returns the created task views. */
export async function submit(h: Harness, spec: unknown): Promise<any[]> {
  const res = await h.req('POST', '/v1/tasks', spec);
  if (res.status !== 201) throw new Error(`submit: ${res.status} ${res.raw}`);
  await h.server.control.settle();
  return res.body.tasks;
}

export async function taskState(h: Harness, id: string): Promise<any> {
  const res = await h.req('GET', `/v1/tasks/${id}`);
  return res.body;
}
