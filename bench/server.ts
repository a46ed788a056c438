// Server benchmark: submit throughput over real HTTP (loopback, keep-alive, 32 in flight) with
// SQLite; submit→assignment latency seen by a long-polling agent; RSS of a server process with
// 100,000 tasks in its store. The server runs in a child process so that the client's CPU and
// memory are not counted. `npm run bench` calls benchServer(); alone: `npx tsx bench/server.ts`.
// BENCH_SERVER_SCRIPT=<file.mjs> runs that script as the server child instead (e.g. one that
// starts dist/server/main.js, to measure the built code; it must speak the same IPC: send
// {url, token} once listening, answer 'cpu', exit on 'stop').
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Task } from '../src/core/types.js';
import { openStore } from '../src/store/index.js';
import { benchTask } from './store.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  target: string;
}

const SELF = fileURLToPath(import.meta.url);

// ------------------------------------------------------------------ child: the server

async function serve(dataDir: string): Promise<void> {
  const { startServer } = await import('../src/server/main.js');
  const s = await startServer({ dataDir, port: 0, log: () => {} });
  process.send?.({ url: s.url, token: s.adminToken });
  process.on('message', (m) => {
    if (m === 'stop') void s.close().then(() => process.exit(0));
    if (m === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ cpuMicros: u.user + u.system });
    }
  });
}

// ------------------------------------------------------------------ parent helpers

interface Child {
  proc: ChildProcess;
  url: string;
  token: string;
}

async function startChild(dataDir: string): Promise<Child> {
  const script = process.env.BENCH_SERVER_SCRIPT;
  const proc = script
    ? fork(script, [dataDir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : fork(SELF, ['--serve', dataDir], { execArgv: ['--import', 'tsx', ...(process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const info = await new Promise<{ url: string; token: string }>((resolve, reject) => {
    proc.once('message', (m) => resolve(m as { url: string; token: string }));
    proc.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
  });
  return { proc, ...info };
}

/** CPU time the server process has used so far, in µs. */
function childCpu(c: Child): Promise<number> {
  return new Promise((resolve) => {
    c.proc.once('message', (m) => resolve((m as { cpuMicros: number }).cpuMicros));
    c.proc.send('cpu');
  });
}

async function stopChild(c: Child): Promise<void> {
  const exited = new Promise<void>((r) => c.proc.once('exit', () => r()));
  c.proc.send('stop');
  const t = setTimeout(() => c.proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function request(c: Child, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const u = new URL(path, c.url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        method,
        hostname: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        headers: {
          authorization: `Bearer ${c.token}`,
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

// ------------------------------------------------------------------ measurements

/** Submit `n` tasks with `concurrency` requests in flight: tasks/s, and server CPU µs per task. */
async function submitThroughput(c: Child, n: number, concurrency: number): Promise<{ perSecond: number; cpuMicrosPerTask: number }> {
  const spec = { command: ['python', 'train.py'], resources: { gpu: 0.5 }, env: { RUN: 'bench' } };
  // Warm up connections and the JIT.
  await Promise.all(Array.from({ length: concurrency }, () => request(c, 'POST', '/v1/tasks', spec)));
  let next = 0;
  let failed = 0;
  const cpu0 = await childCpu(c);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        const r = await request(c, 'POST', '/v1/tasks', spec);
        if (r.status !== 201) failed++;
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  const cpu = (await childCpu(c)) - cpu0;
  if (failed > 0) throw new Error(`${failed} submits failed`);
  return { perSecond: Math.round(n / s), cpuMicrosPerTask: Math.round(cpu / n) };
}

/** Submit one task at a time on an idle pool; time until the agent's long-poll hands it out. */
async function assignmentLatency(c: Child, samples: number): Promise<{ p50: number; p99: number }> {
  const gpus = Array.from({ length: 8 }, (_, i) => ({ index: i, uuid: `GPU-lat-${i}`, model: 'H100-80GB', memoryMiB: 81920, tflops: 989, sharing: 'simulated' }));
  const reg = await request(c, 'POST', '/v1/agent/register', { name: 'lat-node', cpuMilli: 256_000, memoryMiB: 1 << 20, labels: {}, gpus, simulated: true, agentVersion: 'bench', tasks: [] });
  const nodeId = reg.body.nodeId as string;
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const poll = request(c, 'GET', `/v1/agent/assignments?nodeId=${nodeId}&waitMs=5000`);
    await new Promise((r) => setTimeout(r, 2)); // let the poll arrive and park
    const t0 = performance.now();
    const sub = await request(c, 'POST', '/v1/tasks', { command: 'true', resources: { gpu: 1 } });
    const id = sub.body.tasks[0].id as string;
    let res = await poll;
    while (!res.body.assignments.some((a: { taskId: string }) => a.taskId === id)) {
      res = await request(c, 'GET', `/v1/agent/assignments?nodeId=${nodeId}&waitMs=5000`);
    }
    out.push(performance.now() - t0);
    await request(c, 'POST', '/v1/agent/reports', {
      nodeId,
      tasks: [{ taskId: id, attempt: 1, status: 'exited', exitCode: 0, endReason: 'exit', startedAt: Date.now(), endedAt: Date.now() }],
    });
  }
  return { p50: Math.round(percentile(out, 50) * 10) / 10, p99: Math.round(percentile(out, 99) * 10) / 10 };
}

/** RSS of a server process whose store holds `total` tasks (`live` of them pending). */
async function rssWithTasks(total: number, live: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'fastgpu-bench-rss-'));
  try {
    const store = openStore({ kind: 'sqlite', path: join(dir, 'fastgpu.db') });
    await store.init();
    const batch: Task[] = [];
    for (let i = 0; i < total; i++) {
      batch.push(benchTask(i, i < total - live));
      if (batch.length === 1000) await store.insertTasks(batch.splice(0));
    }
    if (batch.length > 0) await store.insertTasks(batch);
    await store.close();
    const c = await startChild(dir);
    try {
      // Exercise it as people do: the default list, metrics, a few pages of history.
      await request(c, 'GET', '/v1/tasks');
      await request(c, 'GET', '/metrics');
      await request(c, 'GET', '/v1/tasks?all=true&limit=1000');
      await new Promise((r) => setTimeout(r, 1000));
      return rssMiB(c.proc.pid!);
    } finally {
      await stopChild(c);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ServerBenchOptions {
  submits?: number;
  concurrency?: number;
  latencySamples?: number;
  storeTasks?: number;
  /** Of those, how many are live (PENDING); default 1,000. */
  liveTasks?: number;
}

export async function benchServer(o: ServerBenchOptions = {}): Promise<BenchRow[]> {
  if (o.submits === 0) return [await rssRow(o)];
  const submits = o.submits ?? 10_000;
  const concurrency = o.concurrency ?? 32;
  const rows: BenchRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'fastgpu-bench-server-'));
  try {
    const c = await startChild(dir);
    try {
      const tput = await submitThroughput(c, submits, concurrency);
      rows.push({ name: `submit throughput, HTTP + SQLite, ${submits} tasks, ${concurrency} in flight`, value: tput.perSecond, unit: 'tasks/s', target: '≥ 2000' });
      rows.push({ name: 'server CPU per submitted task (same run)', value: tput.cpuMicrosPerTask, unit: 'µs', target: '≤ 500 (= 2000/s on one core)' });
    } finally {
      await stopChild(c);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const dir2 = mkdtempSync(join(tmpdir(), 'fastgpu-bench-latency-'));
  try {
    const c = await startChild(dir2);
    try {
      const lat = await assignmentLatency(c, o.latencySamples ?? 200);
      rows.push({ name: 'submit → assignment handed to a long-polling agent, p50', value: lat.p50, unit: 'ms', target: '≤ 20 (to process start)' });
      rows.push({ name: 'submit → assignment handed to a long-polling agent, p99', value: lat.p99, unit: 'ms', target: '≤ 100 (to process start)' });
    } finally {
      await stopChild(c);
    }
  } finally {
    rmSync(dir2, { recursive: true, force: true });
  }
  rows.push(await rssRow(o));
  agent.destroy();
  return rows;
}

async function rssRow(o: ServerBenchOptions): Promise<BenchRow> {
  const total = o.storeTasks ?? 100_000;
  const live = o.liveTasks ?? 1000;
  return { name: `server RSS with ${total} tasks in the store (${live} live)`, value: await rssWithTasks(total, live), unit: 'MiB', target: '≤ 200' };
}

function printTable(rows: BenchRow[]): void {
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`${'metric'.padEnd(w)}  ${'value'.padStart(10)}  unit      target`);
  for (const r of rows) console.log(`${r.name.padEnd(w)}  ${String(r.value).padStart(10)}  ${r.unit.padEnd(8)}  ${r.target}`);
}

if (process.argv[2] === '--serve') {
  void serve(process.argv[3]!);
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  benchServer()
    .then(printTable)
    .catch((e: unknown) => {
      console.error(e);
      process.exit(1);
    });
}
