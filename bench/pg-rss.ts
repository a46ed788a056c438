// `npm run bench:pg-rss`: issue 10's "server RSS with 1,000,000 tasks in Postgres". A throwaway
// PostgreSQL is filled through the store's own bulk insert with BENCH_TASKS tasks (default
// 1,000,000): all but BENCH_PENDING (default 10,000) finished over the last 30 days, the rest
// waiting. Then a real `fastgpu server --store postgres://…` (bin/fastgpu: `npm run build` first)
// starts on it, becomes leader (rebuilding its control plane from the store), and answers the
// reads a dashboard makes; its resident memory is read from /proc after each step.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTask } from '../src/core/scheduler/testing.js';
import type { Task } from '../src/core/types.js';
import { openStore } from '../src/store/index.js';
import { createDatabase, startCluster } from '../src/store/postgres/testing.js';
import { requireBuild, World } from '../test/e2e/harness.js';
import { HaCluster } from '../test/ha/cluster.js';

const TOTAL = Number(process.env.BENCH_TASKS ?? 1_000_000);
const PENDING = Number(process.env.BENCH_PENDING ?? 10_000);
const BATCH = 5_000;
const NOW = Date.now();
const DAY = 86_400_000;

/** VmRSS and VmHWM (peak) of a process, in MiB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: Math.round(kib('VmRSS') / 1024), peak: Math.round(kib('VmHWM') / 1024) };
}

/** Task number `i`: finished over the last 30 days, or (the last PENDING of them) waiting. */
function task(i: number): Task {
  const id = `t_b${i.toString(36).padStart(9, '0')}`;
  const createdAt = NOW - 30 * DAY + Math.floor((i / TOTAL) * 30 * DAY);
  const gpu = [0.25, 0.5, 1, 2][i % 4]!;
  const t = makeTask(id, { gpu, createdAt });
  if (i >= TOTAL - PENDING) return t;
  return { ...t, state: 'SUCCEEDED', exitCode: 0, attempts: 1, startedAt: createdAt + 1_000, finishedAt: createdAt + 600_000 };
}

requireBuild();
const cluster = await startCluster();
const world = new World();
let server: HaCluster | null = null;
try {
  const dbUrl = await createDatabase(cluster.url, 'fastgpu_rss_bench');
  const store = openStore({ kind: 'postgres', url: dbUrl });
  await store.init();
  const t0 = performance.now();
  for (let i = 0; i < TOTAL; i += BATCH) {
    await store.commitBatch({ newTasks: Array.from({ length: Math.min(BATCH, TOTAL - i) }, (_, k) => task(i + k)) });
    if ((i / BATCH) % 20 === 0) process.stderr.write(`bench:pg-rss: ${i + BATCH} of ${TOTAL} tasks stored\n`);
  }
  await store.close();
  process.stderr.write(`bench:pg-rss: ${TOTAL} tasks stored in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);

  server = new HaCluster(world, dbUrl, dbUrl, 'public');
  const url = await server.startServer();
  const daemon = server.servers.get(Number(new URL(url).port))!;
  const pid = daemon.child.pid!;
  await server.leader(600_000);
  // The only server: it won the lock before it said it listens, and rebuilt its control plane.
  const rebuiltMs = /control plane rebuilt from the store in (\d+) ms/.exec(daemon.output)?.[1] ?? '?';
  const leading = memory(pid);
  const token = readFileSync(join(world.dataDir, 'admin.token'), 'utf8').trim();
  const get = async (path: string): Promise<void> => {
    const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  };
  for (const p of ['/v1/tasks?limit=100', '/v1/tasks?limit=100&state=PENDING', '/v1/nodes', '/v1/usage', '/v1/cluster', '/metrics']) await get(p);
  const answered = memory(pid);
  const rows: [string, string][] = [
    [`tasks in Postgres (${PENDING} waiting, the rest finished over 30 days)`, String(TOTAL)],
    [`server RSS once leading (its control plane rebuilt from the store in ${rebuiltMs} ms), MiB`, String(leading.rss)],
    ['server RSS after a dashboard\'s reads (tasks, nodes, usage, cluster, metrics), MiB', String(answered.rss)],
    ['server peak RSS (VmHWM), MiB — target ≤ 300', String(answered.peak)],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v.padStart(9)}`);
} finally {
  await server?.close();
  await world.cleanup();
  await cluster.stop();
}
