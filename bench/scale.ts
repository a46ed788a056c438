// Scale benchmark (issue 11 §4): one real server (a child process, SQLite) and a load tool in this
// process that plays N simulated agents × 8 GPUs speaking the real agent protocol over HTTP:
// registration, heartbeats every 5 s with a utilisation sample per GPU, long-polls for
// assignments, running and exit reports. A submitter adds one-GPU tasks at a steady rate while
// every node heartbeats. Prints server CPU and RSS, heartbeat round trip, the scheduler cycle (the
// server's own histogram) and submit→assignment (submit sent → the agent's long-poll answered).
//   npm run bench:scale            (BENCH_NODES=1000 BENCH_IDLE_SECONDS=20 BENCH_SECONDS=30 BENCH_RATE=20 by default;
//                                   BENCH_SERVER_PROFILE=FILE writes the server's CPU profile)
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { NODE_CREDENTIAL_HEADER } from '../src/protocol/agent.js';

const SELF = fileURLToPath(import.meta.url);
const NODES = Number(process.env.BENCH_NODES ?? 1000);
const GPUS = 8;
const HEARTBEAT_MS = 5_000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const RATE = Number(process.env.BENCH_RATE ?? 20);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 20);
const TASK_MS = 3_000;

// ------------------------------------------------------------------ child: the server

async function serve(dataDir: string): Promise<void> {
  const { startServer } = await import('../src/server/main.js');
  // A lease long enough that a busy load tool on this shared 2-core box never loses a node.
  const s = await startServer({ dataDir, port: 0, nodeLostAfterMs: 120_000, log: () => {} });
  // How late the server's event loop runs (reset at each 'cpu' message: the window's delays).
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  // BENCH_SERVER_PROFILE=FILE: a V8 CPU profile of the server over the whole run.
  const profile = process.env.BENCH_SERVER_PROFILE;
  const session = profile ? new Session() : null;
  if (session) {
    session.connect();
    session.post('Profiler.enable');
    session.post('Profiler.start');
  }
  const writeProfile = (): void =>
    session?.post('Profiler.stop', (err, r) => {
      if (!err) writeFileSync(profile!, JSON.stringify(r.profile));
    });
  process.send?.({ url: s.url, token: s.adminToken });
  // The load tool died without saying stop: do not outlive it.
  process.on('disconnect', () => void s.close().then(() => process.exit(0)));
  process.on('message', (m) => {
    if (m === 'stop') {
      writeProfile();
      void s.close().then(() => process.exit(0));
    }
    if (m === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ cpuMicros: u.user + u.system, loopP99Ms: eld.percentile(99) / 1e6, loopMaxMs: eld.max / 1e6 });
      eld.reset();
    }
  });
}

// ------------------------------------------------------------------ parent

interface Child {
  proc: ChildProcess;
  url: string;
  token: string;
}

// Keep-alive sockets are reused, but a free one is closed after 30 s: without `timeout`, Node's agent
// keeps a free socket forever while the server (keepAliveTimeout 65 s) closes it after 65 s idle, and
// a request sent as the server closes it is reset. That race is real but was NOT the cause of the
// resets seen here (`--no-idle-limit` turns the limit off to compare): the table counts failures by
// code and by how long their socket had been idle, and the resets came on sockets idle under 0.2 s
// and on new ones, with refused and timed-out connects, while the server got under 15 % of a core.
const IDLE_LIMIT = !process.argv.includes('--no-idle-limit');
const agent = new http.Agent({ keepAlive: true, maxSockets: 4096, maxFreeSockets: 4096, ...(IDLE_LIMIT ? { timeout: 30_000 } : {}) });

/** When each socket last finished a response, and the errors seen with their socket's idle time. */
const lastUsed = new WeakMap<object, number>();
const failures: { code: string; idleMs: number | null; phase: Phase }[] = [];
/** What the load tool is doing: failures are counted apart for the measured window and the shutdown. */
type Phase = 'setup' | 'measure' | 'shutdown';
let phase: Phase = 'setup';

function call(c: Child, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
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
        headers: { authorization: `Bearer ${c.token}`, ...headers, ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => {
          if (sock) lastUsed.set(sock, performance.now());
          const text = Buffer.concat(parts).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON (metrics)
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    let idleMs: number | null = null;
    let sock: object | null = null;
    req.on('socket', (s) => {
      sock = s;
      const t = lastUsed.get(s);
      idleMs = t === undefined ? null : performance.now() - t;
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      failures.push({ code: e.code ?? e.message, idleMs, phase });
      reject(e);
    });
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

function cycleStats(metrics: string): { sum: number; count: number } {
  const sum = Number(/^fastgpu_scheduler_cycle_seconds_sum\S* (\S+)/m.exec(metrics)?.[1] ?? 0);
  const count = Number(/^fastgpu_scheduler_cycle_seconds_count\S* (\S+)/m.exec(metrics)?.[1] ?? 0);
  return { sum, count };
}

interface SimNode {
  name: string;
  id: string;
  credential: string;
  running: Map<string, { taskId: string; attempt: number; epoch?: number; startedAt: number }>;
  exited: Map<string, { taskId: string; attempt: number; epoch?: number; startedAt: number; endedAt: number }>;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fastgpu-scale-'));
  const proc = fork(SELF, ['--serve', dir], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const info = await new Promise<{ url: string; token: string }>((resolve, reject) => {
    proc.once('message', (m) => resolve(m as { url: string; token: string }));
    proc.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const c: Child = { proc, ...info };
  const cpu = (): Promise<ServerSample> =>
    new Promise((resolve) => {
      proc.once('message', (m) => resolve(m as ServerSample));
      proc.send('cpu');
    });
  let stopping = false;
  const nodes: SimNode[] = [];
  const submittedAt = new Map<string, number>();
  const assignMs: number[] = [];
  const hbMs: number[] = [];
  let measuring = false;
  let hbErrors = 0;

  // Registration, 50 at a time.
  const t0 = Date.now();
  for (let i = 0; i < NODES; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, NODES - i) }, async (_, k) => {
        const name = `sim-${String(i + k).padStart(5, '0')}`;
        const gpus = Array.from({ length: GPUS }, (_, g) => ({ index: g, uuid: `GPU-${name}-${g}`, model: 'H100-80GB', memoryMiB: 81_920, tflops: 989, sharing: 'simulated' as const }));
        const r = await call(c, 'POST', '/v1/agent/register', { name, cpuMilli: 192_000, memoryMiB: 1_048_576, labels: {}, gpus, simulated: true, agentVersion: 'bench', protocolVersion: 2, tasks: [] });
        if (r.status !== 200) throw new Error(`register ${name}: ${r.status} ${JSON.stringify(r.body)}`);
        nodes.push({ name, id: r.body.nodeId, credential: r.body.credential, running: new Map(), exited: new Map() });
      }),
    );
  }
  const registerS = (Date.now() - t0) / 1000;

  const reportsOf = (n: SimNode) => [
    ...[...n.running.values()].map((r) => ({ taskId: r.taskId, attempt: r.attempt, ...(r.epoch ? { epoch: r.epoch } : {}), status: 'running' as const, pid: 4242, startedAt: r.startedAt })),
    ...[...n.exited.values()].map((r) => ({ taskId: r.taskId, attempt: r.attempt, ...(r.epoch ? { epoch: r.epoch } : {}), status: 'exited' as const, startedAt: r.startedAt, endedAt: r.endedAt, exitCode: 0, endReason: 'exit' as const })),
  ];

  // Heartbeats: every node every 5 s, spread evenly over the period.
  const heartbeat = async (n: SimNode): Promise<void> => {
    const samples = Array.from({ length: GPUS }, (_, g) => ({ gpuIndex: g, utilPercent: n.running.size > 0 ? 87 : 0, memoryUsedMiB: n.running.size * 10_000 }));
    const start = performance.now();
    try {
      const r = await call(c, 'POST', '/v1/agent/heartbeat', { nodeId: n.id, tasks: reportsOf(n), samples }, { [NODE_CREDENTIAL_HEADER]: n.credential });
      if (r.status !== 200) {
        if (phase === 'measure' && hbErrors++ < 3) console.error(`heartbeat ${n.name}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
      }
      else for (const a of r.body.ack as { taskId: string; attempt: number }[]) n.exited.delete(`${a.taskId}/${a.attempt}`);
    } catch (e) {
      // Beats cut by the shutdown are counted with the shutdown's failures, not here.
      if (phase === 'measure' && hbErrors++ < 3) console.error(`heartbeat ${n.name}: ${(e as Error).message}`);
    }
    if (measuring) hbMs.push(performance.now() - start);
  };
  const timers: NodeJS.Timeout[] = [];
  nodes.forEach((n, i) => {
    timers.push(
      setTimeout(() => {
        void heartbeat(n);
        timers.push(setInterval(() => void heartbeat(n), HEARTBEAT_MS));
      }, (i * HEARTBEAT_MS) / nodes.length),
    );
  });

  // Long-polls: an assignment is started at once (reported running) and exits TASK_MS later.
  const poll = async (n: SimNode): Promise<void> => {
    while (!stopping) {
      let r: { status: number; body: any };
      try {
        r = await call(c, 'GET', `/v1/agent/assignments?nodeId=${n.id}&waitMs=20000`, undefined, { [NODE_CREDENTIAL_HEADER]: n.credential });
      } catch {
        if (stopping) return;
        continue;
      }
      const now = Date.now();
      for (const a of (r.body?.assignments ?? []) as { taskId: string; attempt: number; epoch?: number }[]) {
        const key = `${a.taskId}/${a.attempt}`;
        if (n.running.has(key) || n.exited.has(key)) continue;
        // Keyed by the name sent with the submit: the assignment may come before the submit's answer.
        const sent = submittedAt.get((a as { name?: string }).name ?? '');
        if (sent !== undefined && measuring) assignMs.push(performance.now() - sent);
        const rec = { taskId: a.taskId, attempt: a.attempt, ...(a.epoch ? { epoch: a.epoch } : {}), startedAt: now };
        n.running.set(key, rec);
        void call(c, 'POST', '/v1/agent/reports', { nodeId: n.id, tasks: [{ taskId: a.taskId, attempt: a.attempt, ...(a.epoch ? { epoch: a.epoch } : {}), status: 'running', pid: 4242, startedAt: now }] }, { [NODE_CREDENTIAL_HEADER]: n.credential }).catch(() => {}); // the heartbeat resends it
        setTimeout(() => {
          n.running.delete(key);
          const ended = { ...rec, endedAt: Date.now() };
          n.exited.set(key, ended);
          void call(c, 'POST', '/v1/agent/reports', { nodeId: n.id, tasks: reportsOf(n).filter((x) => x.status === 'exited') }, { [NODE_CREDENTIAL_HEADER]: n.credential }).catch(() => {}); // the heartbeat resends it
        }, TASK_MS);
      }
    }
  };
  // Started over one heartbeat period, as agents coming up would, not as 1,000 connects at once.
  const polls = nodes.map((n, i) => new Promise((r) => setTimeout(r, (i * HEARTBEAT_MS) / nodes.length)).then(() => poll(n)));

  // Warm up one heartbeat period; then heartbeats alone for IDLE_SECONDS (the target:
  // 1,000 nodes heartbeating every 5 s, their long-polls held open); then measure while
  // submitting at RATE/s.
  await new Promise((r) => setTimeout(r, HEARTBEAT_MS));
  const idle0 = await cpu();
  const idleW0 = performance.now();
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  const idleS = (performance.now() - idleW0) / 1000;
  const idle1 = await cpu();
  const cpu0 = await cpu();
  const m0 = cycleStats((await call(c, 'GET', '/metrics')).body as string);
  const k0 = kernelCounters();
  const self0 = process.cpuUsage();
  const toolLoop = monitorEventLoopDelay({ resolution: 10 });
  toolLoop.enable();
  const w0 = performance.now();
  measuring = true;
  phase = 'measure';
  let submitted = 0;
  const submitter = setInterval(() => {
    if (RATE <= 0) return;
    submitted++;
    const name = `load-${submitted}`;
    submittedAt.set(name, performance.now());
    void call(c, 'POST', '/v1/tasks', { name, command: ['true'], resources: { gpu: 1 } }).then((r) => {
      if (r.status !== 200 && r.status !== 201) console.error(`submit: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
    }, (e: unknown) => console.error(`submit: ${(e as Error).message}`));
  }, RATE > 0 ? 1000 / RATE : 1000);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  clearInterval(submitter);
  measuring = false;
  const wallS = (performance.now() - w0) / 1000;
  toolLoop.disable();
  const selfCpu = process.cpuUsage(self0);
  const k1 = kernelCounters();
  const cpu1 = await cpu();
  const m1 = cycleStats((await call(c, 'GET', '/metrics')).body as string);
  const rss = Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);
  const cycles = m1.count - m0.count;

  stopping = true;
  phase = 'shutdown';
  for (const t of timers) clearTimeout(t);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.send('stop');
  await exited;
  await Promise.allSettled(polls);
  agent.destroy();
  rmSync(dir, { recursive: true, force: true });

  const rows: [string, string, string][] = [
    ['nodes × GPUs', `${NODES} × ${GPUS}`, ''],
    ['registration of all nodes', `${registerS.toFixed(1)} s`, ''],
    [`server CPU, ${NODES} nodes heartbeating every 5 s (no tasks; ${Math.round(idleS)} s)`, `${(((idle1.cpuMicros - idle0.cpuMicros) / 1e6 / idleS) * 100).toFixed(1)} % of one core`, '≤ 25 %'],
    [`server CPU, the same while ${RATE} tasks/s are submitted, placed, run and reported`, `${(((cpu1.cpuMicros - cpu0.cpuMicros) / 1e6 / wallS) * 100).toFixed(1)} % of one core`, ''],
    ['server event loop delay p99 / max', `${cpu1.loopP99Ms.toFixed(0)} / ${cpu1.loopMaxMs.toFixed(0)} ms`, ''],
    ['load tool (this process) CPU; its event loop delay p99 / max', `${(((selfCpu.user + selfCpu.system) / 1e6 / wallS) * 100).toFixed(1)} % of one core; ${(toolLoop.percentile(99) / 1e6).toFixed(0)} / ${(toolLoop.max / 1e6).toFixed(0)} ms`, ''],
    ['server RSS', `${rss} MiB`, ''],
    ['heartbeat round trip p50 / p99', `${pct(hbMs, 50).toFixed(1)} / ${pct(hbMs, 99).toFixed(1)} ms (${hbMs.length} beats, ${hbErrors} failed while measured)`, ''],
    ['scheduler cycle, mean', cycles > 0 ? `${(((m1.sum - m0.sum) / cycles) * 1000).toFixed(2)} ms over ${cycles} cycles` : 'no cycle', ''],
    ['submit → assignment p50 / p99', `${pct(assignMs, 50).toFixed(1)} / ${pct(assignMs, 99).toFixed(1)} ms (${assignMs.length} of ${submitted} tasks)`, 'p50 ≤ 20 ms, p99 ≤ 100 ms'],
  ];
  rows.push(['failed requests while measured', failureSummary('measure'), '']);
  rows.push(['failed requests at setup / at shutdown', `${failureSummary('setup')} / ${failureSummary('shutdown')}`, '']);
  rows.push(['kernel (whole host): listen overflows, SYN drops, resets sent', `${k1.ListenOverflows - k0.ListenOverflows}, ${k1.ListenDrops - k0.ListenDrops}, ${k1.OutRsts - k0.OutRsts}`, '']);
  const w = [Math.max(...rows.map((r) => r[0].length)), Math.max(...rows.map((r) => r[1].length))];
  console.log(`\nfastgpu scale benchmark (${SECONDS} s at ${RATE} submits/s; this machine: shared, ${process.env.BENCH_NOTE ?? '2 cores'})`);
  console.log(`${'metric'.padEnd(w[0]!)} | ${'value'.padEnd(w[1]!)} | target`);
  console.log(`${'-'.repeat(w[0]!)}-|-${'-'.repeat(w[1]!)}-|-------`);
  for (const r of rows) console.log(`${r[0].padEnd(w[0]!)} | ${r[1].padEnd(w[1]!)} | ${r[2]}`);
}

/** What the server child answers to 'cpu'. */
interface ServerSample {
  cpuMicros: number;
  loopP99Ms: number;
  loopMaxMs: number;
}

/**
 * TCP counters of this network namespace (/proc/net/netstat, /proc/net/snmp): accept queues that
 * overflowed, SYNs dropped, resets sent. Host-wide, so other programs count too; zeros rule causes out.
 */
function kernelCounters(): { ListenOverflows: number; ListenDrops: number; OutRsts: number } {
  const read = (file: string, prefix: string): Map<string, number> => {
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith(`${prefix}:`));
    const names = lines[0]?.split(/\s+/).slice(1) ?? [];
    const values = lines[1]?.split(/\s+/).slice(1) ?? [];
    return new Map(names.map((n, i) => [n, Number(values[i])]));
  };
  const ext = read('/proc/net/netstat', 'TcpExt');
  const tcp = read('/proc/net/snmp', 'Tcp');
  return { ListenOverflows: ext.get('ListenOverflows') ?? 0, ListenDrops: ext.get('ListenDrops') ?? 0, OutRsts: tcp.get('OutRsts') ?? 0 };
}

/** `3 ECONNRESET (on sockets idle 64.9–65.2 s; 0 on new sockets)`, or `none`, for one phase. */
function failureSummary(which: Phase): string {
  const of = failures.filter((f) => f.phase === which);
  if (of.length === 0) return 'none';
  const reused = new Map<string, number[]>();
  const fresh = new Map<string, number>();
  for (const f of of) {
    if (f.idleMs === null) fresh.set(f.code, (fresh.get(f.code) ?? 0) + 1);
    else reused.set(f.code, [...(reused.get(f.code) ?? []), f.idleMs]);
  }
  const parts = [...reused].map(([code, idle]) => `${idle.length} ${code} on reused sockets idle ${(Math.min(...idle) / 1000).toFixed(1)}–${(Math.max(...idle) / 1000).toFixed(1)} s`);
  for (const [code, n] of fresh) parts.push(`${n} ${code} on new sockets`);
  return parts.join('; ');
}

if (process.argv[2] === '--serve') void serve(process.argv[3]!);
else if (process.argv.includes('--cycle')) (await import('./scale-cycle.js')).mainScaleCycle();
else await main();
