// Scheduler benchmark: one cycle with 10,000 pending tasks of mixed shapes (fractions, whole and
// multi-GPU, a few priorities) on 1,000 simulated GPUs (125 nodes × 8 H100), from an empty pool
// and from a pool already ~90 % full of running tasks. `npm run bench` calls benchScheduler();
// run alone with `npx tsx bench/scheduler.ts`. The last rows add tenancy (issue 4): quotas, fair
// share and preemption over 50 tenants.
import { pathToFileURL } from 'node:url';
import type { PolicyName } from '../src/core/placement/types.js';
import { schedule } from '../src/core/scheduler/index.js';
import { fairShareOrder, type TenancySnapshot } from '../src/core/scheduler/tenancy.js';
import type { Tenant } from '../src/core/tenancy/types.js';
import { makeNode, makeTask, seededRng, type TaskOpts } from '../src/core/scheduler/testing.js';
import type { SchedulerPolicy, SchedulerSnapshot } from '../src/core/scheduler/types.js';
import type { NodeRecord, Task } from '../src/core/types.js';

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;
const TARGET_MS = 50;

/** Request shapes and how often they come (weights sum to 1). */
const SHAPES: { gpu: number | null; cpuMilli: number; memoryMiB: number; weight: number }[] = [
  { gpu: 0.1, cpuMilli: 1000, memoryMiB: 2048, weight: 0.15 },
  { gpu: 0.25, cpuMilli: 2000, memoryMiB: 4096, weight: 0.2 },
  { gpu: 0.5, cpuMilli: 4000, memoryMiB: 8192, weight: 0.25 },
  { gpu: 1, cpuMilli: 8000, memoryMiB: 32768, weight: 0.2 },
  { gpu: 2, cpuMilli: 16000, memoryMiB: 65536, weight: 0.1 },
  { gpu: 4, cpuMilli: 32000, memoryMiB: 131072, weight: 0.05 },
  { gpu: 8, cpuMilli: 64000, memoryMiB: 262144, weight: 0.03 },
  { gpu: null, cpuMilli: 2000, memoryMiB: 4096, weight: 0.02 },
];
const PRIORITIES = [10, 50, 50, 50, 90];

function pick<T extends { weight: number }>(xs: readonly T[], r: number): T {
  let acc = 0;
  for (const x of xs) if ((acc += x.weight) >= r) return x;
  return xs[xs.length - 1]!;
}

function tasks(n: number, rng: () => number, prefix: string): Task[] {
  return Array.from({ length: n }, (_, i) => {
    const s = pick(SHAPES, rng());
    const o: TaskOpts = { gpu: s.gpu, cpuMilli: s.cpuMilli, memoryMiB: s.memoryMiB, priority: PRIORITIES[Math.floor(rng() * PRIORITIES.length)]!, createdAt: NOW - n + i };
    if (rng() < 0.7) o.timeLimitMs = Math.round((0.25 + rng() * 8) * HOUR);
    return makeTask(`${prefix}${i}`, o);
  });
}

function pool(): NodeRecord[] {
  return Array.from({ length: 125 }, (_, i) => makeNode(`node-${String(i).padStart(3, '0')}`, { gpus: 8, cpuMilli: 128_000, memoryMiB: 1024 * 1024 }));
}

/** Running tasks that fill the pool to about `fill` of its GPU compute, placed by the scheduler itself. */
function fillPool(nodes: NodeRecord[], fill: number, rng: () => number): Task[] {
  const candidates = tasks(4000, rng, 'run-').filter((t) => t.spec.resources.gpu !== null);
  const r = schedule({ nodes, active: [], pending: candidates, reservations: [] }, NOW, policy('best-fit', true, rng));
  const byId = new Map(candidates.map((t) => [t.id, t]));
  const active: Task[] = [];
  let milli = 0;
  const capacity = nodes.length * 8 * 1000;
  for (const d of r.decisions) {
    if (d.kind !== 'place' || milli >= fill * capacity) continue;
    const t = byId.get(d.taskId)!;
    const startedAt = NOW - Math.floor(rng() * 4 * HOUR);
    active.push({ ...t, state: 'RUNNING', placement: d.placement, scheduledAt: startedAt, startedAt, attempts: 1 });
    milli += d.placement.gpuMilli * d.placement.gpus.length;
  }
  return active;
}

function policy(placement: PolicyName, backfill: boolean, rng: () => number): SchedulerPolicy {
  return { placement, backfill, defaultRuntimeMs: 2 * HOUR, rng };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median wall time of one cycle over `runs` runs (after one warm-up), and the last result's stats. */
function time(snapshot: SchedulerSnapshot, placement: PolicyName, backfill: boolean, runs: number): { ms: number; min: number; placed: number; backfilled: number } {
  let last = schedule(snapshot, NOW, policy(placement, backfill, seededRng(1)));
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    last = schedule(snapshot, NOW, policy(placement, backfill, seededRng(1)));
    ms.push(performance.now() - t0);
  }
  return { ms: Math.round(median(ms) * 10) / 10, min: Math.round(Math.min(...ms) * 10) / 10, placed: last.stats.placed, backfilled: last.stats.backfilled };
}

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  target: string;
}

/** The two snapshots measured: 10,000 pending tasks on an empty pool, and on a ~90 % full one. */
export function benchSnapshots(): { empty: SchedulerSnapshot; full: SchedulerSnapshot } {
  const rng = seededRng(42);
  const nodes = pool();
  const pending = tasks(10_000, rng, 't-');
  return {
    empty: { nodes, active: [], pending, reservations: [] },
    full: { nodes, active: fillPool(nodes, 0.9, rng), pending, reservations: [] },
  };
}

export async function benchScheduler(runs = 9): Promise<BenchRow[]> {
  const { empty, full } = benchSnapshots();
  const rows: BenchRow[] = [];
  const target = `≤ ${TARGET_MS} ms`;
  for (const placement of ['best-fit', 'default'] as const) {
    for (const [label, snap] of [['empty pool', empty], [`pool ~90% full (${full.active.length} running)`, full]] as const) {
      for (const backfill of [true, false]) {
        const r = time(snap, placement, backfill, runs);
        rows.push({
          name: `scheduler cycle, 10k pending, 1,000 GPUs, ${label}, ${placement}, backfill ${backfill ? 'on' : 'off'} (placed ${r.placed}, backfilled ${r.backfilled}; min ${r.min} ms)`,
          value: r.ms,
          unit: 'ms',
          target,
        });
      }
    }
    // Let the event loop breathe between policies (the bench runner is async).
    await Promise.resolve();
  }
  rows.push(...benchTenancy(runs));
  return rows;
}

const TENANCY_TARGET_MS = 100;
const TENANTS = 50;

/**
 * The issue-4 snapshot: the same 10,000 pending tasks and pools spread over 50 tenants, each
 * guaranteed 10 GPUs (half the pool in all), limited to 40, with weights 1–3; in the full pool a
 * fifth of the running tasks are preemptible, so waiting tasks try preemption too.
 */
export function tenancySnapshots(): { empty: SchedulerSnapshot; full: SchedulerSnapshot; tenancy: TenancySnapshot } {
  const { empty, full } = benchSnapshots();
  const tenants: Tenant[] = Array.from({ length: TENANTS }, (_, i) => ({ name: `team-${i}`, guaranteeMilli: 10_000, limitMilli: 40_000, weight: 1 + (i % 3), budget: null }));
  const rng = seededRng(7);
  const assign = (t: Task, i: number, preemptible: boolean): Task => ({ ...t, spec: { ...t.spec, tenant: `team-${i % TENANTS}`, preemptible } });
  const pending = empty.pending.map((t, i) => assign(t, i, false));
  const active = full.active.map((t) => assign(t, Math.floor(rng() * TENANTS), rng() < 0.2));
  return {
    empty: { ...empty, pending },
    full: { ...full, active, pending },
    tenancy: { tenants, blocked: new Map([['team-49', { reason: 'Budget', message: 'budget exhausted' }]]) },
  };
}

export function benchTenancy(runs = 9): BenchRow[] {
  const { empty, full, tenancy } = tenancySnapshots();
  const rows: BenchRow[] = [];
  for (const [label, snap] of [['empty pool', empty], [`pool ~90% full (${full.active.length} running, 20% preemptible)`, full]] as const) {
    const s: SchedulerSnapshot = { ...snap, tenancy };
    const pol = (): SchedulerPolicy => ({ ...policy('default', true, seededRng(1)), order: fairShareOrder() });
    let last = schedule(s, NOW, pol());
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      last = schedule(s, NOW, pol());
      ms.push(performance.now() - t0);
    }
    const quota = last.decisions.filter((d) => d.kind === 'pending' && d.reason === 'Quota').length;
    rows.push({
      name: `scheduler cycle with quotas and fair share, ${TENANTS} tenants, 10k pending, 1,000 GPUs, ${label}, default, backfill on (placed ${last.stats.placed}, Quota ${quota}, preempted ${last.stats.preempted ?? 0}; min ${Math.round(Math.min(...ms) * 10) / 10} ms)`,
      value: Math.round(median(ms) * 10) / 10,
      unit: 'ms',
      target: `≤ ${TENANCY_TARGET_MS} ms`,
    });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await benchScheduler();
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`${'metric'.padEnd(w)}  ${'median'.padStart(9)}  target`);
  for (const r of rows) console.log(`${r.name.padEnd(w)}  ${`${r.value} ${r.unit}`.padStart(9)}  ${r.target}`);
}
