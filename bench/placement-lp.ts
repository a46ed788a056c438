// `npm run bench:placement -- --lp [--part cycle,replay,published] [--seeds 42] [--compress 50000] [--budget 200]`:
// `--policy lp` against `default`:
// - cycle: one scheduling cycle with 1,000 pending tasks (openb request shapes) on 1,000 GPUs
//   (125 nodes × 8), empty and half busy: cycle time, solver time, model size, fallback or not;
// - replay: the openb default list with compressed arrivals (queues form): wait mean and p99,
//   allocation, solver time per cycle, fallbacks;
// - published: the FGD protocol (tune 1.3) with batches of k = 1, 16, 64 arrivals per MILP.
// Prints markdown tables (docs/placement-lp.md quotes them).
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { mulberry32 } from '../src/core/placement/rng.js';
import { LpScheduler } from '../src/core/scheduler/lp.js';
import { schedule } from '../src/core/scheduler/schedule.js';
import { makeNode, makePlacement, makeTask } from '../src/core/scheduler/testing.js';
import type { Decision, SchedulerPolicy, SchedulerSnapshot } from '../src/core/scheduler/types.js';
import type { Task } from '../src/core/types.js';
import type { MilpSolver } from '../src/core/placement/lp-solver.js';
import { OPENB } from '../src/sim/data.js';
import { runReplay, type ReplaySummary } from '../src/sim/replay.js';
import { parseSeeds, REPORT_LEVELS, runPublished, type PublishedSummary } from '../src/sim/run.js';
import { loadNodes, loadPods, type TracePod } from '../src/sim/trace.js';
import { loadHighsSolver, startHighsThreadSolver } from '../src/solver/highs.js';

const now = () => performance.now();
const r2 = (x: number) => Math.round(x * 100) / 100;

/** 1,000 pending tasks drawn from the openb request shapes (GPU requests only), on 125 × 8 GPUs. */
function cycleSnapshot(pods: readonly TracePod[], busy: boolean, seed: number): SchedulerSnapshot {
  const rng = mulberry32(seed);
  const nodes = Array.from({ length: 125 }, (_, i) => makeNode(`n${String(i).padStart(3, '0')}`, { gpus: 8, cpuMilli: 96_000, memoryMiB: 768 * 1024 }));
  const gpuPods = pods.filter((p) => p.req.gpuCount > 0 && p.req.gpuCount <= 8);
  const task = (id: string, p: TracePod, at: number): Task => {
    const r = p.req;
    const gpu = r.gpuCount === 1 && r.gpuMilli < 1000 ? r.gpuMilli / 1000 : r.gpuCount;
    return makeTask(id, { gpu, cpuMilli: Math.min(r.cpuMilli, 96_000), memoryMiB: Math.min(r.memoryMiB, 768 * 1024), createdAt: at });
  };
  const active: Task[] = [];
  if (busy) {
    // Half the GPUs busy: every other GPU of every node holds a half-GPU task.
    for (const n of nodes) {
      for (let g = 0; g < 8; g += 2) {
        const t = makeTask(`run-${n.name}-${g}`, { gpu: 0.5, cpuMilli: 4000, memoryMiB: 16_384, placement: makePlacement(n, [g], 500, 0, 4000, 16_384) });
        active.push(t);
      }
    }
  }
  const pending = Array.from({ length: 1000 }, (_, i) => task(`p${String(i).padStart(4, '0')}`, gpuPods[Math.floor(rng() * gpuPods.length)]!, i));
  return { nodes, active, pending, reservations: [] };
}

function gpuPlaced(ds: readonly Decision[]): { tasks: number; milli: number } {
  let tasks = 0;
  let milli = 0;
  for (const d of ds) {
    if (d.kind !== 'place') continue;
    tasks++;
    milli += d.placement.gpuMilli * d.placement.gpus.length;
  }
  return { tasks, milli };
}

async function cyclePart(pods: readonly TracePod[], solvers: { inline: MilpSolver; thread: MilpSolver }, budgetMs: number, reps: number): Promise<string[]> {
  const out = [
    `### One cycle: 1,000 pending (openb GPU request shapes), 125 nodes × 8 GPUs (1,000 GPUs), lp budget ${budgetMs} ms, ${reps} runs each`,
    '',
    'lp (this thread) solves in the caller\'s thread, as `fastgpu sim` does; lp (solver thread) is what the server runs: the solve is stopped at the budget.',
    '',
    '| pool | policy | cycle ms (median / max) | solver ms (median / max) | model cols × rows | solver status | fallbacks | tasks placed | GPU placed |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const busy of [false, true]) {
    const base: SchedulerPolicy = { placement: 'default', backfill: true, defaultRuntimeMs: 3_600_000, rng: mulberry32(1) };
    for (const which of ['default', 'lp (this thread)', 'lp (solver thread)'] as const) {
      const times: number[] = [];
      const solves: number[] = [];
      let last: ReturnType<typeof gpuPlaced> = { tasks: 0, milli: 0 };
      const lp = new LpScheduler({ solver: which === 'lp (solver thread)' ? solvers.thread : solvers.inline, budgetMs });
      const statuses = new Set<string>();
      let size = '—';
      for (let i = 0; i < reps; i++) {
        const s = cycleSnapshot(pods, busy, 7 + i);
        const t0 = now();
        const r = schedule(s, 0, which !== 'default' ? { ...base, batch: lp } : base);
        times.push(now() - t0);
        last = gpuPlaced(r.decisions);
        if (which !== 'default' && lp.last) {
          solves.push(lp.last.solveMs);
          statuses.add(lp.last.status);
          size = `${lp.last.cols} × ${lp.last.rows}`;
        }
      }
      times.sort((a, b) => a - b);
      solves.sort((a, b) => a - b);
      const med = (xs: number[]) => (xs.length ? r2(xs[Math.floor(xs.length / 2)]!) : 0);
      out.push(
        `| ${busy ? 'half busy' : 'empty'} | ${which} | ${med(times)} / ${r2(times.at(-1)!)} | ${which !== 'default' ? `${med(solves)} / ${r2(solves.at(-1)!)}` : '—'} | ${which !== 'default' ? size : '—'} | ${which !== 'default' ? [...statuses].join(', ') : '—'} | ${which !== 'default' ? `${lp.counts.fallbacks} of ${lp.counts.cycles}` : '—'} | ${last.tasks} | ${r2(last.milli / 1000)} GPUs |`,
      );
    }
  }
  return out;
}

function replayPart(pods: readonly TracePod[], solver: MilpSolver, budgetMs: number, compress: number): string[] {
  const nodes = loadNodes(OPENB.nodes);
  const rows: [string, ReplaySummary][] = [];
  rows.push(['default', runReplay({ workload: 'openb_pod_list_default', nodes, pods, policy: 'default', compress, now })]);
  rows.push(['lp', runReplay({ workload: 'openb_pod_list_default', nodes, pods, policy: 'default', compress, now, lp: { solver, budgetMs } })]);
  const out = [
    `### Replay, openb default list, arrivals ×${compress} faster, backfill on, lp budget ${budgetMs} ms`,
    '',
    '| policy | wait mean s | wait p95 s | wait p99 s | waited | allocation mean % (arrivals) | peak % | cycles | cycle ms mean / max | solver ms per lp cycle mean / max | lp fallbacks | budget stops | wall s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [name, r] of rows) {
    const lp = r.lp;
    out.push(
      `| ${name} | ${r.queueDelaySeconds.mean} | ${r.queueDelaySeconds.p95} | ${r.queueDelaySeconds.p99} | ${r.waited} | ${r.allocation.mean} | ${r.allocation.peak} | ${r.cycles.count} | ${r.cycles.meanMs} / ${r.cycles.maxMs} | ${lp ? `${lp.solveMsMean} / ${lp.solveMsMax}` : '—'} | ${lp ? `${lp.fallbacks} of ${lp.cycles}` : '—'} | ${lp ? lp.limited : '—'} | ${r.wallSeconds} |`,
    );
  }
  return out;
}

function publishedPart(pods: readonly TracePod[], solver: MilpSolver, budgetMs: number, seeds: number[], batches: number[]): string[] {
  const nodes = loadNodes(OPENB.nodes);
  const runs: [string, PublishedSummary][] = [];
  const common = { workload: 'openb_pod_list_default', nodes, pods, policy: 'default' as const, seeds, tune: 1.3, now };
  runs.push(['default (causal)', runPublished(common)]);
  for (const k of batches) {
    runs.push([`lp, batch ${k}`, runPublished({ ...common, lp: { solver, batch: k, budgetMs } })]);
    process.stderr.write(`published: batch ${k} done\n`);
  }
  const out = [
    `### Published protocol, openb default list, tune 1.3, seeds ${seeds.join(', ')} (${seeds.length}), lp budget ${budgetMs} ms per batch: allocated GPU % of capacity`,
    '',
    `| policy | ${REPORT_LEVELS.map((l) => `${l} %`).join(' | ')} | frag. ratio at 130 % | batches | solver ms per batch mean / max | fallbacks | budget stops | wall s |`,
    `| --- | ${REPORT_LEVELS.map(() => '---').join(' | ')} | --- | --- | --- | --- | --- | --- |`,
  ];
  for (const [name, s] of runs) {
    const lp = s.lp;
    out.push(
      `| ${name} | ${REPORT_LEVELS.map((l) => s.allocation[String(l)]?.toFixed(2) ?? '—').join(' | ')} | ${s.fragmentation['130']?.toFixed(2) ?? '—'} | ${lp ? lp.batches : '—'} | ${lp ? `${lp.solveMsMean} / ${lp.solveMsMax}` : '—'} | ${lp ? lp.fallbacks : '—'} | ${lp ? lp.limited : '—'} | ${s.wallSeconds} |`,
    );
  }
  return out;
}

export async function mainLp(args: readonly string[]): Promise<void> {
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const parts = (flag('--part') ?? 'cycle,replay,published').split(',');
  const budgetMs = Number(flag('--budget') ?? 200);
  const solver = await loadHighsSolver();
  const pods = loadPods(OPENB.pods);
  const lines: string[] = [`load average at start: ${loadavg().map((l) => l.toFixed(1)).join(', ')} (2 cores, shared)`, ''];
  const emit = (ls: string[]) => {
    console.log([...lines.splice(0), ...ls, ''].join('\n'));
  };
  if (parts.includes('cycle')) {
    const thread = await startHighsThreadSolver();
    emit(await cyclePart(pods, { inline: solver, thread }, budgetMs, Number(flag('--reps') ?? 3)));
    await thread.close();
  }
  if (parts.includes('replay')) emit(replayPart(pods, solver, budgetMs, Number(flag('--compress') ?? 50_000)));
  if (parts.includes('published')) {
    const batches = (flag('--batches') ?? '1,16,64').split(',').map(Number);
    emit(publishedPart(pods, solver, budgetMs, parseSeeds(flag('--seeds') ?? '42'), batches));
  }
}
