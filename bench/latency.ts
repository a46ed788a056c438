// Submit → process start on an idle pool, end to end through the real parts: HTTP submit to a
// real server (SQLite), the control loop, a real agent long-polling over loopback, the detached
// supervisor, and the task's own process. The task records the moment it starts with bash's
// $EPOCHREALTIME (a builtin: no extra exec; CLOCK_REALTIME), so the number includes every hop up to
// the user's command running. Its submit time is read on the same clock (Date.now(), taken at a
// millisecond edge so that its resolution costs nothing): one clock at both ends, never
// performance.timeOrigin (a monotonic clock with a start-time offset, which drifts from it). The server and agent run in one child process, like `fastgpu up`.
// `npm run bench` calls benchLatency(); alone: `npx tsx bench/latency.ts`.
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './server.js';

const SELF = fileURLToPath(import.meta.url);

async function serve(dir: string): Promise<void> {
  const { startServer } = await import('../src/server/main.js');
  const { startAgent } = await import('../src/agent/main.js');
  const server = await startServer({ dataDir: join(dir, 'data'), port: 0, log: () => {} });
  const agent = await startAgent({ serverUrl: server.url, token: server.adminToken, stateDir: join(dir, 'agent'), gpus: '8xH100', name: 'bench', log: () => {} });
  process.send?.({ url: server.url, token: server.adminToken });
  process.on('message', (m) => {
    if (m === 'stop') void agent.stop().then(() => server.close()).then(() => process.exit(0));
  });
}

/**
 * The realtime clock (the one $EPOCHREALTIME reads) right at a millisecond edge, with the
 * monotonic time of the same instant. Date.now() has whole milliseconds; waiting for it to tick
 * (under a millisecond of spinning) makes the reading exact to a few microseconds.
 */
function realtimeEdge(): { wall: number; mono: number } {
  const start = Date.now();
  let wall = start;
  while (wall === start) wall = Date.now();
  return { wall, mono: performance.now() };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/**
 * Waits for the task's start file. It wakes on inotify (fs.watch) rather than polling every
 * millisecond: a busy-polling client would take CPU from the very launch it measures on 2 cores.
 * The time itself comes from the file, so when this wakes does not change the measurement.
 */
async function waitFor(dir: string, path: string, timeoutMs: number): Promise<string> {
  const ready = (): string | null => (existsSync(path) ? readFileSync(path, 'utf8') : null);
  const early = ready();
  if (early?.endsWith('\n')) return early;
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, text?: string): void => {
      watcher.close();
      clearInterval(slow);
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(text!);
    };
    const check = (): void => {
      const text = ready();
      if (text?.endsWith('\n')) done(null, text);
    };
    const watcher = watch(dir, check);
    const slow = setInterval(check, 50); // in case an event is missed
    const timer = setTimeout(() => done(new Error(`task did not start within ${timeoutMs} ms (${path})`)), timeoutMs);
    check();
  });
}

/**
 * Submits `samples` tasks one at a time on an idle pool; each runs `bash -c 'echo $EPOCHREALTIME'`.
 * The next is submitted once the previous one is finished as the API shows it (a long-poll on
 * /wait), so every launch finds the pool idle; that wait is the second measurement: submit →
 * finished, what `fastgpu run` of a trivial command waits for besides its own start-up.
 */
export async function benchLatency(samples = 200): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'fastgpu-latency-'));
  const child = fork(SELF, ['--serve', dir], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const { url, token } = await new Promise<{ url: string; token: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { url: string; token: string }));
      child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
    });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    // Wait until the agent's node is registered.
    for (let i = 0; ; i++) {
      const r = (await (await fetch(`${url}/v1/nodes`, { headers })).json()) as { nodes: unknown[] };
      if (r.nodes.length > 0) break;
      if (i > 500) throw new Error('agent never registered');
      await new Promise((res) => setTimeout(res, 10));
    }
    const lat: number[] = [];
    const whole: number[] = [];
    for (let i = 0; i < samples + 10; i++) {
      const out = join(dir, `start-${i}`);
      const body = JSON.stringify({ name: `lat-${i}`, command: ['bash', '-c', `echo $EPOCHREALTIME > ${out}.tmp && mv ${out}.tmp ${out}`], resources: { gpu: 0.1, cpu: '100m', memory: '64MiB' } });
      const { wall: t0, mono: m0 } = realtimeEdge();
      const res = await fetch(`${url}/v1/tasks`, { method: 'POST', headers, body });
      if (res.status !== 201) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
      const { tasks } = (await res.json()) as { tasks: { id: string }[] };
      const started = Number((await waitFor(dir, out, 10_000)).split('\n')[0]) * 1000;
      const done = (await (await fetch(`${url}/v1/tasks/${tasks[0]!.id}/wait?timeoutMs=10000`, { headers })).json()) as { state: string };
      const finished = performance.now(); // submit → finished: both ends on the monotonic clock
      if (done.state !== 'SUCCEEDED') throw new Error(`task ${tasks[0]!.id} ended ${done.state}`);
      if (i >= 10) {
        // The first few warm up the JIT and the disk cache.
        lat.push(started - t0);
        whole.push(finished - m0);
      }
    }
    lat.sort((a, b) => a - b);
    whole.sort((a, b) => a - b);
    return [
      { name: 'submit→process start, idle pool, p50', value: +percentile(lat, 50).toFixed(1), unit: 'ms', target: '≤ 20' },
      { name: 'submit→process start, idle pool, p99', value: +percentile(lat, 99).toFixed(1), unit: 'ms', target: '≤ 100' },
      { name: 'submit→finished (a trivial task) as the API shows it, p50', value: +percentile(whole, 50).toFixed(1), unit: 'ms', target: '' },
      { name: 'submit→finished (a trivial task) as the API shows it, p99', value: +percentile(whole, 99).toFixed(1), unit: 'ms', target: '' },
    ];
  } finally {
    child.send('stop');
    await new Promise((r) => { child.once('exit', r); setTimeout(r, 5000); });
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve') {
  await serve(process.argv[3]!);
} else if (process.argv[1] === SELF) {
  const rows = await benchLatency();
  console.table(rows);
}
