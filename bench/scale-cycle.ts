// Scheduler cycle at fleet scale, by simulation (issue 11 §4): one schedule() call over 12,500
// nodes × 8 GPUs (100,000 GPUs, two node kinds) with 1,000,000 pending tasks of mixed shapes, for
// each placement policy. Two cycles per policy:
//   - steady: the pool ~95 % full of running tasks, of which 2 % just ended (their room is free
//     again), as a cycle of a busy pool sees it;
//   - first: the same queue on the empty pool (every placement the pool can take, in one cycle).
//   - next (server): what the server's control loop pays for the cycle after a steady one. Its
//     PersistentScheduler ran the steady cycle (keeping the pool and the placement indexes); the
//     placed tasks now run, another 2 % of the running ones ended, and it schedules the rest.
// Times are the median of `--runs` (default 1) warm runs; the first run of each policy warms the JIT
// on a smaller queue. `npm run bench:scale -- --cycle [--policies a,b] [--pending N] [--nodes N]
// [--profile DIR]` (`--profile`: V8 CPU profiles of each policy's steady and next cycles, DIR/POLICY[-next].cpuprofile).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { POLICY_NAMES } from '../src/core/placement/index.js';
import type { PolicyName } from '../src/core/placement/types.js';
import { schedule } from '../src/core/scheduler/index.js';
import { PersistentScheduler } from '../src/core/scheduler/persistent.js';
import { makeNode, makePlacement, seededRng } from '../src/core/scheduler/testing.js';
import type { SchedulerPolicy, SchedulerSnapshot } from '../src/core/scheduler/types.js';
import type { NodeRecord, Task, TaskSpec } from '../src/core/types.js';

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;
const GIB = 1024;

/** Request shapes and how often they come (weights sum to 1). */
const SHAPES: { gpu: number | null; cpuMilli: number; memoryMiB: number; weight: number }[] = [
  { gpu: 0.1, cpuMilli: 1000, memoryMiB: 2 * GIB, weight: 0.15 },
  { gpu: 0.25, cpuMilli: 2000, memoryMiB: 4 * GIB, weight: 0.2 },
  { gpu: 0.5, cpuMilli: 4000, memoryMiB: 8 * GIB, weight: 0.25 },
  { gpu: 1, cpuMilli: 8000, memoryMiB: 32 * GIB, weight: 0.2 },
  { gpu: 2, cpuMilli: 16000, memoryMiB: 64 * GIB, weight: 0.1 },
  { gpu: 4, cpuMilli: 32000, memoryMiB: 128 * GIB, weight: 0.05 },
  { gpu: 8, cpuMilli: 64000, memoryMiB: 256 * GIB, weight: 0.03 },
  { gpu: null, cpuMilli: 2000, memoryMiB: 4 * GIB, weight: 0.02 },
];
const PRIORITIES = [10, 50, 50, 50, 90];
/** Time limits come from a small set (as users write them), so task specs can be shared. */
const LIMITS = [undefined, 30 * 60_000, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR];

function pick<T extends { weight: number }>(xs: readonly T[], r: number): T {
  let acc = 0;
  for (const x of xs) if ((acc += x.weight) >= r) return x;
  return xs[xs.length - 1]!;
}

/** Specs shared by tasks of equal shape, priority and limit: a million tasks in little memory. */
const specs = new Map<string, TaskSpec>();
function specOf(shape: number, priority: number, limit: number | undefined): TaskSpec {
  const k = `${shape}|${priority}|${limit}`;
  let s = specs.get(k);
  if (!s) {
    const sh = SHAPES[shape]!;
    const gpu = sh.gpu === null ? null : sh.gpu < 1 ? { count: 1, share: { kind: 'milli' as const, milli: Math.round(sh.gpu * 1000) } } : { count: sh.gpu, share: { kind: 'milli' as const, milli: 1000 } };
    s = { name: `shape-${k}`, command: ['true'], env: {}, resources: { gpu, cpuMilli: sh.cpuMilli, memoryMiB: sh.memoryMiB }, priority, retries: 0, preemptible: false, gang: 1, tenant: 'default' };
    if (limit !== undefined) s.timeLimitMs = limit;
    specs.set(k, s);
  }
  return s;
}

function task(id: string, spec: TaskSpec, createdAt: number): Task {
  return { id, spec, state: 'PENDING', reason: null, reasonMessage: null, attempts: 0, exitCode: null, createdAt, scheduledAt: null, startedAt: null, finishedAt: null, placement: null, gangId: null, gangIndex: 0, version: 1 };
}

function pending(n: number, rng: () => number): Task[] {
  const out: Task[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng();
    let shape = SHAPES.length - 1;
    let acc = 0;
    for (let k = 0; k < SHAPES.length; k++) if ((acc += SHAPES[k]!.weight) >= r) {
      shape = k;
      break;
    }
    const spec = specOf(shape, PRIORITIES[Math.floor(rng() * PRIORITIES.length)]!, LIMITS[Math.floor(rng() * LIMITS.length)]);
    out[i] = task(`p-${i}`, spec, NOW - n + i);
  }
  return out;
}

/** Half the nodes 8×H100 with 192 cores, half 8×A100-40GB with 64 cores (CPU per GPU differs). */
function pool(n: number): NodeRecord[] {
  return Array.from({ length: n }, (_, i) =>
    i % 2 === 0
      ? makeNode(`h100-${String(i).padStart(5, '0')}`, { cpuMilli: 192_000, memoryMiB: 2048 * GIB })
      : makeNode(`a100-${String(i).padStart(5, '0')}`, { model: 'A100-40GB', gpuMemoryMiB: 40 * GIB, tflops: 312, cpuMilli: 64_000, memoryMiB: 512 * GIB }),
  );
}

/**
 * Running tasks filling each node to about `fill` of its GPU compute (first fit inside the node,
 * shapes drawn from the mix), then `ended` of them removed: the room a busy pool has at a cycle.
 */
function running(nodes: readonly NodeRecord[], fill: number, ended: number, rng: () => number): Task[] {
  const out: Task[] = [];
  let id = 0;
  for (const node of nodes) {
    const free = node.gpus.map(() => 1000);
    let cpu = node.cpuMilli;
    let ram = node.memoryMiB;
    let misses = 0;
    while (free.reduce((a, b) => a + b, 0) > (1 - fill) * 8000 && misses < 8) {
      const shape = SHAPES.indexOf(pick(SHAPES, rng()));
      const sh = SHAPES[shape]!;
      const count = sh.gpu === null ? 0 : Math.max(1, Math.floor(sh.gpu));
      const milli = sh.gpu === null ? 0 : sh.gpu < 1 ? Math.round(sh.gpu * 1000) : 1000;
      const gpus: number[] = [];
      for (let g = 0; g < free.length && gpus.length < count; g++) if (free[g]! >= milli) gpus.push(g);
      if (gpus.length < count || cpu < sh.cpuMilli || ram < sh.memoryMiB) {
        misses++;
        continue;
      }
      for (const g of gpus) free[g]! -= milli;
      cpu -= sh.cpuMilli;
      ram -= sh.memoryMiB;
      const limit = LIMITS[Math.floor(rng() * LIMITS.length)];
      const t = task(`r-${id++}`, specOf(shape, 50, limit), NOW - 2 * HOUR);
      t.state = 'RUNNING';
      t.attempts = 1;
      t.startedAt = t.scheduledAt = NOW - Math.floor(rng() * 30 * 60_000);
      t.placement = makePlacement(node, gpus, milli, 0, sh.cpuMilli, sh.memoryMiB);
      if (rng() >= ended) out.push(t);
    }
  }
  return out;
}

const policyOf = (placement: PolicyName): SchedulerPolicy => ({ placement, backfill: true, defaultRuntimeMs: HOUR, rng: seededRng(1) });

/**
 * Wall time and CPU time (this process, user + system) of schedule(): on a shared machine the wall
 * time includes waiting for a core, the CPU time does not.
 */
function timeIt(snapshot: SchedulerSnapshot, placement: PolicyName, runs: number, profile?: string): { ms: number; cpuMs: number; placed: number } {
  const ms: number[] = [];
  const cpu: number[] = [];
  let placed = 0;
  const stop = profile === undefined ? null : startProfile(profile);
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    placed = schedule(snapshot, NOW, policyOf(placement)).stats.placed;
    const c = process.cpuUsage(c0);
    ms.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
  }
  stop?.();
  const mid = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { ms: mid(ms), cpuMs: mid(cpu), placed };
}

/**
 * The cycle after `steady` on the server's PersistentScheduler: a fresh one runs `steady` (untimed),
 * then the placed tasks run, 2 % of the running ones end, and the next cycle is timed. The median
 * of `runs` such pairs.
 */
function timeNext(steady: SchedulerSnapshot, placement: PolicyName, runs: number, rng: () => number, profile?: string): { ms: number; cpuMs: number; placed: number } {
  const ms: number[] = [];
  const cpu: number[] = [];
  let placed = 0;
  for (let i = 0; i < runs; i++) {
    const ps = new PersistentScheduler();
    const first = ps.schedule(steady, NOW, policyOf(placement));
    const byId = new Map(steady.pending.map((t) => [t.id, t]));
    const started = new Set<string>();
    const active: Task[] = steady.active.filter(() => rng() >= 0.02);
    for (const d of first.decisions) {
      if (d.kind !== 'place') continue;
      started.add(d.taskId);
      const t = byId.get(d.taskId)!;
      active.push({ ...t, state: 'SCHEDULED', placement: d.placement, attempts: 1, scheduledAt: NOW });
    }
    const next: SchedulerSnapshot = { nodes: steady.nodes, active, pending: steady.pending.filter((t) => !started.has(t.id)), reservations: [] };
    const later = NOW + 5_000;
    const stop = profile === undefined || i > 0 ? null : startProfile(profile);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    placed = ps.schedule(next, later, policyOf(placement)).stats.placed;
    const c = process.cpuUsage(c0);
    stop?.();
    ms.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
  }
  const mid = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { ms: mid(ms), cpuMs: mid(cpu), placed };
}

/**
 * Starts V8's sampling profiler in this thread; the returned function stops it and writes the
 * profile to `file` (open it in Chrome's DevTools). The in-thread inspector answers synchronously.
 */
function startProfile(file: string): () => void {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 250 });
  session.post('Profiler.start');
  return () =>
    session.post('Profiler.stop', (err, r) => {
      if (err) throw err;
      writeFileSync(file, JSON.stringify(r.profile));
      session.disconnect();
    });
}

export interface CycleRow {
  policy: PolicyName;
  cycle: 'steady' | 'first' | 'next';
  ms: number;
  cpuMs: number;
  placed: number;
}

export function benchScaleCycle(o: { policies?: readonly PolicyName[]; nodes?: number; pending?: number; runs?: number; first?: boolean; profileDir?: string } = {}): CycleRow[] {
  const nodes = pool(o.nodes ?? 12_500);
  const rng = seededRng(11);
  const queue = pending(o.pending ?? 1_000_000, rng);
  const active = running(nodes, 0.95, 0.02, rng);
  const steady: SchedulerSnapshot = { nodes, active, pending: queue, reservations: [] };
  const empty: SchedulerSnapshot = { nodes, active: [], pending: queue, reservations: [] };
  const warm: SchedulerSnapshot = { nodes, active, pending: queue.slice(0, 20_000), reservations: [] };
  const rows: CycleRow[] = [];
  for (const p of o.policies ?? POLICY_NAMES) {
    schedule(warm, NOW, policyOf(p));
    const s = timeIt(steady, p, o.runs ?? 1, o.profileDir === undefined ? undefined : join(o.profileDir, `${p}.cpuprofile`));
    rows.push({ policy: p, cycle: 'steady', ...s });
    process.stderr.write(`  ${p}: steady ${s.ms.toFixed(0)} ms (CPU ${s.cpuMs.toFixed(0)} ms), ${s.placed} placed\n`);
    const n = timeNext(steady, p, o.runs ?? 1, rng, o.profileDir === undefined ? undefined : join(o.profileDir, `${p}-next.cpuprofile`));
    rows.push({ policy: p, cycle: 'next', ...n });
    process.stderr.write(`  ${p}: next (server) ${n.ms.toFixed(0)} ms (CPU ${n.cpuMs.toFixed(0)} ms), ${n.placed} placed\n`);
    if (o.first !== false) {
      const f = timeIt(empty, p, o.runs ?? 1);
      rows.push({ policy: p, cycle: 'first', ...f });
      process.stderr.write(`  ${p}: first ${f.ms.toFixed(0)} ms (CPU ${f.cpuMs.toFixed(0)} ms), ${f.placed} placed\n`);
    }
  }
  return rows;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The command line: prints the table. */
export function mainScaleCycle(): void {
  const nodes = Number(arg('--nodes') ?? 12_500);
  const pendingN = Number(arg('--pending') ?? 1_000_000);
  const policies = (arg('--policies')?.split(',') ?? POLICY_NAMES) as PolicyName[];
  const runs = Number(arg('--runs') ?? 1);
  const first = !process.argv.includes('--steady-only');
  const profileDir = arg('--profile');
  const rows = benchScaleCycle({ policies, nodes, pending: pendingN, runs, first, ...(profileDir === undefined ? {} : { profileDir }) });
  console.log(`\nscheduler cycle by simulation: ${nodes.toLocaleString('en')} nodes × 8 GPUs, ${pendingN.toLocaleString('en')} pending (median of ${runs}; target ≤ 1 s)`);
  console.log(`${'policy'.padEnd(15)} | ${'cycle'.padEnd(40)} | ${'wall'.padStart(9)} | ${'CPU'.padStart(9)} | placed`);
  console.log(`${'-'.repeat(15)}-|-${'-'.repeat(40)}-|-${'-'.repeat(9)}-|-${'-'.repeat(9)}-|-------`);
  for (const r of rows) {
    const label = r.cycle === 'steady' ? 'steady (95 % full, 2 % just ended)' : r.cycle === 'next' ? 'next (server: kept pool, 2 % more ended)' : 'first (empty pool)';
    console.log(`${r.policy.padEnd(15)} | ${label.padEnd(40)} | ${`${(r.ms / 1000).toFixed(2)} s`.padStart(9)} | ${`${(r.cpuMs / 1000).toFixed(2)} s`.padStart(9)} | ${r.placed}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) mainScaleCycle();
