// Server cycle benchmark: the control plane's whole scheduling cycle, not just schedule(). A real
// ControlPlane on a real SQLite file, a pool of mixed GPU models and CPU shapes (where placement
// policies do differ), 10,000 pending tasks of mixed shapes (fractions, whole and multi-GPU, some
// tied to a model, some sized by GPU memory, CPU-heavy and CPU-only ones); then 2,000 more on the
// pool the first cycle filled. Each cycle is split into
//   - compute: schedule() alone on the same snapshot (tenants included): its first call, and warm
//     (median and slowest of 20 more);
//   - compute + apply: the server's own cycle hook (schedule() and turning decisions into writes);
//   - commit: the cycle's store transaction (commitBatch, timed at the store);
// and placements are counted apart from attempts (the pending tasks the cycle tried).
// `npm run bench` calls benchCycle(); alone: `node --import tsx bench/cycle.ts [--pg] [policy…]`.
// With --pg the store is PostgreSQL (a throwaway cluster started here, fsync on, a database per
// policy) instead of a SQLite file: issue 10's "scheduler cycle on Postgres" row.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { simulatedGpus } from '../src/agent/discovery.js';
import type { PolicyName } from '../src/core/placement/types.js';
import { schedule } from '../src/core/scheduler/index.js';
import { fairShareOrder } from '../src/core/scheduler/tenancy.js';
import { makeTask, seededRng } from '../src/core/scheduler/testing.js';
import type { SchedulerPolicy, SchedulerSnapshot } from '../src/core/scheduler/types.js';
import type { GpuRequest, Task } from '../src/core/types.js';
import { ControlPlane } from '../src/server/control.js';
import { openStore } from '../src/store/index.js';
import { createDatabase, startCluster } from '../src/store/postgres/testing.js';
import type { Store } from '../src/store/port.js';
import type { BenchRow } from './server.js';

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;
/** schedule() alone, repeated warm on the same snapshot (each run is a whole cycle's compute). */
const WARM_RUNS = 20;
const GIB = 1024;

/** Node kinds: GPUs, cores, RAM. CPU per GPU differs fourfold, so CPU-aware placement matters. */
const NODE_KINDS = [
  { n: 40, gpus: '8xH100-80GB', cpuMilli: 192_000, memoryMiB: 2048 * GIB },
  { n: 40, gpus: '8xA100-40GB', cpuMilli: 64_000, memoryMiB: 512 * GIB },
  { n: 30, gpus: '4xV100-16GB', cpuMilli: 48_000, memoryMiB: 256 * GIB },
  { n: 40, gpus: '4xT4', cpuMilli: 16_000, memoryMiB: 64 * GIB },
];

const milli = (m: number, model?: string): GpuRequest => ({ count: 1, share: { kind: 'milli', milli: m }, ...(model ? { model } : {}) });
const whole = (count: number, model?: string): GpuRequest => ({ count, share: { kind: 'milli', milli: 1000 }, ...(model ? { model } : {}) });

/** Request shapes and how often they come (weights sum to 1). */
const SHAPES: { gpu: GpuRequest | null; cpuMilli: number; memoryMiB: number; weight: number }[] = [
  { gpu: milli(100), cpuMilli: 1000, memoryMiB: 2 * GIB, weight: 0.14 },
  { gpu: milli(250), cpuMilli: 4000, memoryMiB: 8 * GIB, weight: 0.14 },
  { gpu: milli(500), cpuMilli: 2000, memoryMiB: 8 * GIB, weight: 0.12 },
  { gpu: milli(500, 'A100-40GB'), cpuMilli: 6000, memoryMiB: 16 * GIB, weight: 0.08 },
  { gpu: { count: 1, share: { kind: 'memory', memoryMiB: 20 * GIB } }, cpuMilli: 4000, memoryMiB: 16 * GIB, weight: 0.08 },
  { gpu: milli(250), cpuMilli: 16_000, memoryMiB: 32 * GIB, weight: 0.06 }, // CPU-heavy fraction
  { gpu: whole(1), cpuMilli: 8000, memoryMiB: 32 * GIB, weight: 0.14 },
  { gpu: whole(1, 'T4'), cpuMilli: 2000, memoryMiB: 8 * GIB, weight: 0.06 },
  { gpu: whole(2), cpuMilli: 24_000, memoryMiB: 64 * GIB, weight: 0.06 },
  { gpu: whole(4, 'V100-16GB'), cpuMilli: 32_000, memoryMiB: 128 * GIB, weight: 0.03 },
  { gpu: whole(8, 'H100-80GB'), cpuMilli: 96_000, memoryMiB: 512 * GIB, weight: 0.03 },
  { gpu: null, cpuMilli: 4000, memoryMiB: 8 * GIB, weight: 0.06 },
];
const PRIORITIES = [10, 50, 50, 50, 90];

function pick<T extends { weight: number }>(xs: readonly T[], r: number): T {
  let acc = 0;
  for (const x of xs) if ((acc += x.weight) >= r) return x;
  return xs[xs.length - 1]!;
}

function tasks(n: number, rng: () => number, prefix: string, t0: number): Task[] {
  return Array.from({ length: n }, (_, i) => {
    const s = pick(SHAPES, rng());
    const t = makeTask(`${prefix}${i}`, { gpu: s.gpu, cpuMilli: s.cpuMilli, memoryMiB: s.memoryMiB, priority: PRIORITIES[Math.floor(rng() * PRIORITIES.length)]!, createdAt: t0 + i });
    if (rng() < 0.7) t.spec.timeLimitMs = Math.round((0.25 + rng() * 8) * HOUR);
    return t;
  });
}

interface CycleTiming {
  pending: number;
  placed: number;
  computeApplyMs: number;
  commitMs: number;
}

/** The store with its commitBatch timed; calls made right after a cycle's hook belong to that cycle. */
function timedStore(store: Store, cycles: CycleTiming[], inCycle: { open: CycleTiming | null }): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof v !== 'function') return v;
      if (key !== 'commitBatch') return (v as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]) => {
        const owner = inCycle.open;
        inCycle.open = null;
        const t0 = performance.now();
        try {
          return await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          if (owner) owner.commitMs += performance.now() - t0;
        }
      };
    },
  });
}

const r1 = (x: number): number => Math.round(x * 10) / 10;

/** Where a run keeps its store: a SQLite file, or a database of its own on `pgUrl`'s server. */
async function benchStore(placement: PolicyName, pgUrl: string | null): Promise<{ raw: Store; dispose: () => Promise<void> }> {
  if (pgUrl === null) {
    const dir = mkdtempSync(join(tmpdir(), 'fastgpu-cycle-'));
    const raw = openStore({ kind: 'sqlite', path: join(dir, 'fastgpu.db') });
    await raw.init();
    return { raw, dispose: async () => (await raw.close(), rmSync(dir, { recursive: true, force: true })) };
  }
  const db = `fastgpu_cycle_${placement.replace(/[^a-z0-9]/g, '_')}_${Date.now().toString(36)}`;
  const raw = openStore({ kind: 'postgres', url: await createDatabase(pgUrl, db) });
  await raw.init();
  return { raw, dispose: () => raw.close() };
}

/** Runs the two cycles for one policy and answers their timings. */
async function runPolicy(placement: PolicyName, pgUrl: string | null): Promise<{ label: string; cycle: CycleTiming; firstMs: number; warmMs: number; warmMaxMs: number; placedPure: number }[]> {
  const { raw, dispose } = await benchStore(placement, pgUrl);
  const cycles: CycleTiming[] = [];
  const inCycle: { open: CycleTiming | null } = { open: null };
  const store = timedStore(raw, cycles, inCycle);
  const policy: Partial<SchedulerPolicy> = { placement, rng: seededRng(1) };
  const control = await ControlPlane.open({ store, clock: { now: () => NOW }, tickMs: 0, policy, log: () => {} });
  control.hooks.cycle = (seconds, stats) => {
    const c: CycleTiming = { pending: stats.pending, placed: stats.placed, computeApplyMs: seconds * 1000, commitMs: 0 };
    cycles.push(c);
    inCycle.open = c;
  };
  try {
    const order: string[] = [];
    for (const k of NODE_KINDS) {
      for (let i = 0; i < k.n; i++) {
        const name = `${k.gpus.split('x')[1]!.toLowerCase()}-${String(i).padStart(3, '0')}`;
        order.push(name);
        await control.register({ name, cpuMilli: k.cpuMilli, memoryMiB: k.memoryMiB, labels: {}, gpus: simulatedGpus(k.gpus, name), simulated: true, agentVersion: 'bench', tasks: [] });
      }
    }
    await control.settle();
    // In the server's order (registration), which first-fit follows; the store lists by id.
    const rank = new Map(order.map((n, i) => [n, i]));
    const nodes = (await raw.listNodes()).sort((a, b) => rank.get(a.name)! - rank.get(b.name)!);
    const rng = seededRng(42);
    const out: { label: string; cycle: CycleTiming; firstMs: number; warmMs: number; warmMaxMs: number; placedPure: number }[] = [];
    for (const [label, n, prefix] of [['10k pending, empty pool', 10_000, 'a-'], ['2k more, on the pool the first cycle filled', 2_000, 'b-']] as const) {
      const batch = tasks(n, rng, prefix, NOW - 100_000 + (prefix === 'b-' ? 50_000 : 0));
      // Compute alone, on the snapshot the server will see: its live tasks plus this batch.
      const live = await raw.listLiveTasks();
      const snapshot: SchedulerSnapshot = {
        tenancy: { tenants: await raw.listTenants(), blocked: new Map(), preemption: true, stopping: new Set(), claims: new Map() },
        nodes,
        active: live.filter((t) => t.state === 'SCHEDULED' || t.state === 'RUNNING'),
        pending: [...live.filter((t) => t.state === 'PENDING'), ...batch],
        reservations: [],
      };
      const before = cycles.length;
      await control.submit(batch);
      await control.settle();
      const mine = cycles.slice(before);
      if (mine.length === 0) throw new Error(`${placement}: no cycle ran after the submit`);
      // Then schedule() alone on that same snapshot: its first call here (V8 has not optimised
      // this much work yet, as in a fresh server's first big cycle), then warm as a server that
      // has been cycling is: the median and the slowest of the next WARM_RUNS.
      const pol = (): SchedulerPolicy => ({ placement, backfill: true, defaultRuntimeMs: HOUR, rng: seededRng(1), order: fairShareOrder() });
      let t0 = performance.now();
      let pure = schedule(snapshot, NOW, pol());
      const firstMs = performance.now() - t0;
      const ms: number[] = [];
      for (let i = 0; i < WARM_RUNS; i++) {
        t0 = performance.now();
        pure = schedule(snapshot, NOW, pol());
        ms.push(performance.now() - t0);
      }
      ms.sort((a, b) => a - b);
      // The first cycle after the submit does the work; later ones (if any) retry what is left.
      out.push({ label, cycle: mine[0]!, firstMs, warmMs: ms[Math.floor(ms.length / 2)]!, warmMaxMs: ms[ms.length - 1]!, placedPure: pure.stats.placed });
    }
    return out;
  } finally {
    await control.close();
    await dispose();
  }
}

export async function benchCycle(policies: readonly PolicyName[] = ['default', 'best-fit', 'fgd', 'first-fit', 'spread'], opts: { postgres?: boolean } = {}): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const gpus = NODE_KINDS.reduce((a, k) => a + k.n * Number(k.gpus.split('x')[0]), 0);
  const nodes = NODE_KINDS.reduce((a, k) => a + k.n, 0);
  let cluster: { url: string; stop: () => Promise<void> } | null = null;
  if (opts.postgres === true) {
    process.env.PG_DURABLE = '1';
    cluster = await startCluster();
  }
  try {
    for (const p of policies) rows.push(...(await policyRows(p, cluster?.url ?? null, `${nodes} mixed nodes / ${gpus} GPUs${cluster ? ', Postgres' : ''}`)));
  } finally {
    await cluster?.stop();
  }
  return rows;
}

/** The table rows of one policy's two cycles. */
async function policyRows(p: PolicyName, pgUrl: string | null, pool: string): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const r of await runPolicy(p, pgUrl)) {
    const c = r.cycle;
    // stats.pending counts the tasks the cycle left waiting: tried = placed + left waiting.
    const name = `server cycle, ${p}, ${pool}, ${r.label}: placed ${c.placed} of ${c.placed + c.pending} tried`;
    rows.push({ name: `${name}; compute (schedule() alone, placed ${r.placedPure}), warm: median of ${WARM_RUNS}`, value: r1(r.warmMs), unit: 'ms', target: '' });
    rows.push({ name: `${name}; compute, warm: slowest of ${WARM_RUNS}`, value: r1(r.warmMaxMs), unit: 'ms', target: '' });
    rows.push({ name: `${name}; compute, the bench's first call (not yet optimised by V8)`, value: r1(r.firstMs), unit: 'ms', target: '' });
    rows.push({ name: `${name}; compute + apply (server hook)`, value: r1(c.computeApplyMs), unit: 'ms', target: '' });
    rows.push({ name: `${name}; commit (store transaction)`, value: r1(c.commitMs), unit: 'ms', target: '' });
    rows.push({ name: `${name}; whole cycle (compute + apply + commit)`, value: r1(c.computeApplyMs + c.commitMs), unit: 'ms', target: '' });
  }
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const policies = args.filter((a) => a !== '--pg') as PolicyName[];
  const rows = await benchCycle(policies.length > 0 ? policies : undefined, { postgres: args.includes('--pg') });
  const w = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) console.log(`${r.name.padEnd(w)}  ${`${r.value} ${r.unit}`.padStart(10)}  ${r.target}`);
}
