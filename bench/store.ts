// Store benchmark: single-task insert rate, start-up load of live tasks among many finished
// ones, and the memory that costs. `npm run bench` calls benchStore() for its table; run
// alone with `node --import tsx bench/store.ts`.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Task } from '../src/core/types.js';
import { openStore } from '../src/store/index.js';

export interface StoreBenchOptions {
  /** Single-task insertTasks calls timed; these tasks stay live (PENDING). Default 10,000. */
  singleInserts?: number;
  /** Tasks in the store in the end; the rest are finished. Default 100,000. */
  total?: number;
}

const T0 = 1_700_000_000_000;
const mib = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

/** A typical submitted task: half an H100, a short command, a couple of env vars. */
export function benchTask(i: number, done: boolean): Task {
  return {
    id: `t_${i.toString(36).padStart(8, '0')}`,
    spec: {
      name: `train-${i % 100}`,
      command: ['python', 'train.py', '--seed', String(i)],
      env: { WANDB_MODE: 'offline', RUN: String(i) },
      resources: { gpu: { count: 1, share: { kind: 'milli', milli: 500 } }, cpuMilli: 2000, memoryMiB: 4096 },
      priority: 50,
      retries: 0,
      preemptible: false,
      gang: 1,
      tenant: 'default',
    },
    state: done ? 'SUCCEEDED' : 'PENDING',
    reason: done ? null : 'Resources',
    reasonMessage: done ? null : 'no GPU has 500 milli free',
    attempts: done ? 1 : 0,
    exitCode: done ? 0 : null,
    createdAt: T0 + i,
    scheduledAt: done ? T0 + i + 5 : null,
    startedAt: done ? T0 + i + 10 : null,
    finishedAt: done ? T0 + i + 60_000 : null,
    placement: done
      ? { nodeId: 'n1', node: 'gpu-box-1', gpus: [i % 8], gpuUuids: [`GPU-${i % 8}`], gpuMilli: 500, memoryMiB: 40_960, cpuMilli: 2000, hostMemoryMiB: 4096, sharing: 'mps' }
      : null,
    gangId: null,
    gangIndex: 0,
    version: done ? 4 : 1,
  };
}

/** Returns metric → value; names carry their unit. */
export async function benchStore(opts: StoreBenchOptions = {}): Promise<Record<string, number>> {
  const single = opts.singleInserts ?? 10_000;
  const total = Math.max(opts.total ?? 100_000, single);
  const dir = mkdtempSync(join(tmpdir(), 'fastgpu-bench-store-'));
  const path = join(dir, 'fastgpu.db');
  try {
    const store = openStore({ kind: 'sqlite', path });
    await store.init();
    // Live tasks are spread evenly through time, as in a store that has run for a while.
    const every = Math.max(1, Math.floor(total / single));
    const isLive = (i: number): boolean => i % every === 0 && i / every < single;
    const make = (i: number): Task => benchTask(i, !isLive(i));

    // Built before timing so that only the store is measured.
    const live: Task[] = [];
    for (let i = 0; i < total && live.length < single; i++) if (isLive(i)) live.push(make(i));
    let t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (const t of live) await store.insertTasks([t]);
    const insertMs = performance.now() - t0;
    // CPU time as well as wall time: on a shared machine the wall rate mostly measures the
    // neighbours, the CPU rate what this code costs.
    const cpu = process.cpuUsage(cpu0);
    const insertCpuMs = (cpu.user + cpu.system) / 1000;
    live.length = 0;

    // The finished rest, made batch by batch so the bench holds no big array itself.
    let batch: Task[] = [];
    for (let i = 0; i < total; i++) {
      if (isLive(i)) continue;
      batch.push(make(i));
      if (batch.length === 1000) {
        await store.insertTasks(batch);
        batch = [];
      }
    }
    await store.insertTasks(batch);
    const rssAfterInsert = process.memoryUsage().rss;
    await store.close();

    // A fresh open, as a server start would do.
    const reopened = openStore({ kind: 'sqlite', path });
    await reopened.init();
    t0 = performance.now();
    const loaded = await reopened.listLiveTasks();
    const liveColdMs = performance.now() - t0;
    // Median of five: a single warm run on a shared machine is mostly noise.
    const warm: number[] = [];
    for (let k = 0; k < 5; k++) {
      t0 = performance.now();
      await reopened.listLiveTasks();
      warm.push(performance.now() - t0);
    }
    const liveWarmMs = warm.sort((a, b) => a - b)[2] ?? 0;
    const rssWithLive = process.memoryUsage().rss;
    t0 = performance.now();
    await reopened.listTasks();
    const listMs = performance.now() - t0;
    t0 = performance.now();
    const counted = await reopened.countTasks({ states: ['SUCCEEDED'] });
    const countMs = performance.now() - t0;
    if (loaded.length !== single || counted !== total - single) {
      throw new Error(`expected ${single} live and ${total - single} finished, found ${loaded.length} and ${counted}`);
    }
    await reopened.close();

    return {
      'single-task inserts/s': Math.round((single / insertMs) * 1000),
      'single-task inserts per CPU-second': Math.round((single / insertCpuMs) * 1000),
      'tasks in store': total,
      'live tasks': loaded.length,
      'listLiveTasks cold ms': Math.round(liveColdMs * 10) / 10,
      'listLiveTasks warm median ms': Math.round(liveWarmMs * 10) / 10,
      'listTasks newest 1000 ms': Math.round(listMs * 10) / 10,
      'countTasks by state ms': Math.round(countMs * 10) / 10,
      'RSS after inserting all MiB': mib(rssAfterInsert),
      'RSS with live tasks loaded MiB': mib(rssWithLive),
      'db file MiB': mib(statSync(path).size),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchStore();
  console.table(Object.entries(result).map(([metric, value]) => ({ metric, value })));
}
