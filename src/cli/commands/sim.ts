// `fastgpu sim`: replay a trace through the placement code the scheduler uses.
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command, Option } from 'commander';
import { isPolicyName, POLICY_NAMES, type PolicyName } from '../../core/placement/index.js';
import { DEFAULT_LP_BUDGET_MS } from '../../core/placement/lp.js';
import type { MilpSolver } from '../../core/placement/lp-solver.js';
import { runElastic, type PoolRun } from '../../sim/elastic.js';
import { loadHighsSolver } from '../../solver/highs.js';
import { runReplay } from '../../sim/replay.js';
import { parseSeeds, REPORT_LEVELS, runPublishedParallel, type LpRunOptions } from '../../sim/run.js';
import { loadNodes, loadPodList, TraceError } from '../../sim/trace.js';

interface SimFlags {
  pods: string;
  nodes: string;
  policy: string;
  mode: 'published' | 'replay';
  seeds: string;
  tune: string;
  compress: string;
  backfill: 'on' | 'off';
  timeLimits: 'exact' | 'none';
  output: 'json' | 'table';
  autoscale?: boolean;
  bootSeconds?: string;
  idleTimeout?: string;
  pendingThreshold?: string;
  minNodes?: string;
  spareGpus?: string;
  spareNodes?: string;
  forecastFactor?: string;
  forecastWindow?: string;
  fixedPool?: 'peak' | 'trace';
  workload?: 'causal' | 'oracle';
  batch?: string;
  lpBudget?: string;
}

export function register(program: Command): void {
  program
    .command('sim')
    .description('Simulate placement on a GPU cluster trace (openb CSVs): the FGD paper protocol or a timed replay')
    .requiredOption('--pods <file>', 'pod list CSV (name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,…)')
    .requiredOption('--nodes <file>', 'node list CSV (sn,cpu_milli,memory_mib,gpu,model)')
    .option('--policy <name>', `placement policy: ${POLICY_NAMES.join(', ')}, or lp (MILP batches with HiGHS; default places what a batch leaves)`, 'default')
    .option('--batch <k>', 'published mode with --policy lp: arrivals handed to one MILP', '1')
    .option('--lp-budget <ms>', 'with --policy lp: solver time per batch or cycle, ms (anytime: the best incumbent wins; none in time: default places them, counted)', String(DEFAULT_LP_BUDGET_MS))
    .addOption(new Option('--mode <mode>', 'published: shuffle, top up, place, no departures; replay: trace times with a queue').choices(['published', 'replay']).default('published'))
    .option('--seeds <list>', 'seeds, e.g. 42-51 or 42,43 (published mode; replay uses the first)', '42-51')
    .addOption(
      new Option('--workload <kind>', "the request mix default plans for: causal (what the live server knows: the requests seen so far) or oracle (the whole list, known in advance, as the paper's protocol)")
        .choices(['causal', 'oracle'])
        .default('causal'),
    )
    .option('--tune <ratio>', 'published mode: top up requests to this multiple of GPU capacity', '1.3')
    .option('--compress <factor>', 'replay mode: arrivals this many times faster', '1')
    .addOption(new Option('--backfill <on|off>', 'replay mode: EASY backfill, or strict queue order (FIFO)').choices(['on', 'off']).default('on'))
    .addOption(new Option('--time-limits <kind>', "replay mode: tasks' time limits (what backfill reads): their traced durations, or none").choices(['exact', 'none']).default('exact'))
    .option('--autoscale', 'replay mode: the pool starts empty and grows and shrinks by the autoscaler (the trace\'s node shapes are the offers); compared with a fixed pool')
    .option('--boot-seconds <s>', 'with --autoscale: seconds from a node request to its agent joining', '60')
    .option('--idle-timeout <s>', 'with --autoscale: seconds a node may sit empty before it is drained and given back', '300')
    .option('--pending-threshold <s>', 'with --autoscale: seconds demand waits for room before nodes are asked for', '30')
    .option('--min-nodes <n>', 'with --autoscale: nodes kept warm', '0')
    .option('--spare-gpus <n>', 'with --autoscale: warm headroom: idle GPUs kept ready ahead of demand', '0')
    .option('--spare-nodes <n>', 'with --autoscale: warm headroom: whole empty nodes (of the widest shape) kept ready', '0')
    .option('--forecast-factor <x>', 'with --autoscale: scale ahead: keep room for the GPUs that arrived in the last forecast window, times this (0: off)', '0')
    .option('--forecast-window <s>', 'with --autoscale: seconds the scale-ahead forecast looks back (default: --boot-seconds)')
    .addOption(new Option('--fixed-pool <kind>', 'with --autoscale: compare with the nodes a replay on the whole list used (peak), or the whole list (trace)').choices(['peak', 'trace']).default('peak'))
    .addOption(new Option('--output <format>', 'output format').choices(['json', 'table']).default('table'))
    .action(async (flags: SimFlags) => {
      try {
        // HiGHS loads asynchronously, once, before the simulation starts.
        const solver = flags.policy === 'lp' ? await loadHighsSolver() : undefined;
        process.stdout.write(await simCommand(flags, solver));
      } catch (e) {
        if (e instanceof TraceError || e instanceof UsageError) {
          process.stderr.write(`fastgpu sim: ${e.message}\n`);
          process.exitCode = 2;
          return;
        }
        throw e;
      }
    });
}

class UsageError extends Error {}

function lpFlags(flags: SimFlags, solver: MilpSolver | undefined): LpRunOptions {
  if (!solver) throw new UsageError('--policy lp: the solver (HiGHS) is not loaded');
  const batch = Number(flags.batch ?? '1');
  if (!Number.isInteger(batch) || batch < 1 || batch > 10_000) throw new UsageError(`--batch: expected a whole number 1–10000, got '${flags.batch}'`);
  if (flags.autoscale === true) throw new UsageError('--policy lp does not run with --autoscale yet');
  if (flags.mode === 'replay' && batch !== 1) throw new UsageError('--batch is for --mode published; in replay mode a cycle takes the whole queue');
  return { solver, batch, budgetMs: num(flags.lpBudget ?? String(DEFAULT_LP_BUDGET_MS), '--lp-budget') };
}

function num(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag}: expected a positive number, got '${v}'`);
  return n;
}

/** Runs the simulation described by the flags and returns what to print. */
export async function simCommand(flags: SimFlags, solver?: MilpSolver): Promise<string> {
  const isLp = flags.policy === 'lp';
  if (!isLp && !isPolicyName(flags.policy)) throw new UsageError(`--policy: unknown '${flags.policy}' (one of ${POLICY_NAMES.join(', ')}, lp)`);
  const policy: PolicyName = isLp ? 'default' : (flags.policy as PolicyName);
  const lp = isLp ? lpFlags(flags, solver) : undefined;
  if (!isLp && flags.batch !== undefined && flags.batch !== '1') throw new UsageError('--batch needs --policy lp (other policies place one arrival at a time)');
  const label = isLp ? `lp (MILP, budget ${lp!.budgetMs} ms${flags.mode === 'replay' ? '' : `, batch ${lp!.batch}`}; default for the rest)` : policy;
  let seeds: number[];
  try {
    seeds = parseSeeds(flags.seeds);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const nodes = loadNodes(flags.nodes);
  const { pods, notes } = loadPodList(flags.pods);
  for (const n of notes) process.stderr.write(`fastgpu sim: note: ${basename(flags.pods)}: ${n}\n`);
  const estimate = flags.workload ?? 'causal';
  const workload = basename(flags.pods).replace(/\.csv$/, '');
  const now = () => performance.now();
  if (flags.autoscale === true) {
    if (flags.mode !== 'replay') throw new UsageError('--autoscale needs --mode replay (the published protocol has no time in it)');
    const minNodes = Number(flags.minNodes ?? '0');
    if (!Number.isInteger(minNodes) || minNodes < 0) throw new UsageError(`--min-nodes: expected a whole number ≥ 0, got '${flags.minNodes}'`);
    const spareGpus = Number(flags.spareGpus ?? '0');
    if (!Number.isInteger(spareGpus) || spareGpus < 0 || spareGpus > 10_000) throw new UsageError(`--spare-gpus: expected a whole number 0–10000, got '${flags.spareGpus}'`);
    const spareNodes = Number(flags.spareNodes ?? '0');
    if (!Number.isInteger(spareNodes) || spareNodes < 0 || spareNodes > 1_000) throw new UsageError(`--spare-nodes: expected a whole number 0–1000, got '${flags.spareNodes}'`);
    const forecastFactor = Number(flags.forecastFactor ?? '0');
    if (!Number.isFinite(forecastFactor) || forecastFactor < 0 || forecastFactor > 100) throw new UsageError(`--forecast-factor: expected a number 0–100, got '${flags.forecastFactor}'`);
    const r = runElastic(
      {
        workload,
        nodes,
        pods,
        policy,
        seed: seeds[0] ?? 42,
        compress: num(flags.compress, '--compress'),
        bootSeconds: num(flags.bootSeconds ?? '60', '--boot-seconds'),
        idleTimeoutSeconds: num(flags.idleTimeout ?? '300', '--idle-timeout'),
        pendingThresholdSeconds: num(flags.pendingThreshold ?? '30', '--pending-threshold'),
        minNodes,
        spareGpus,
        spareNodes,
        forecastFactor,
        ...(flags.forecastWindow !== undefined ? { forecastWindowSeconds: num(flags.forecastWindow, '--forecast-window') } : {}),
        fixedPool: flags.fixedPool ?? 'peak',
      },
      now,
    );
    if (flags.output === 'json') return JSON.stringify(r) + '\n';
    const row = (name: string, p: PoolRun, extra = '') =>
      `${name.padEnd(9)}${String(p.nodeHours).padStart(14)}${p.cost.padStart(14)}${String(p.waitSeconds.mean).padStart(11)}${String(p.waitSeconds.p95).padStart(10)}${String(p.waitSeconds.p99).padStart(10)}${String(p.waited).padStart(8)}${String(p.peakNodes).padStart(7)}  ${extra}`;
    const a = r.autoscale;
    const ahead = `${a.spareNodes > 0 ? `, spare ${a.spareNodes} whole node(s)` : ''}${a.spareGpus > 0 ? `, spare ${a.spareGpus} GPU(s)` : ''}${a.forecastFactor > 0 ? `, scale-ahead ${a.forecastFactor} × the last ${a.forecastWindowSeconds} s` : ''}`;
    return [
      `workload ${r.workload} · replay ×${num(flags.compress, '--compress')} · policy ${policy} · autoscale: boot ${a.bootSeconds} s, threshold ${a.pendingThresholdSeconds} s, idle ${a.idleTimeoutSeconds} s, warm ${a.minNodes}${ahead}`,
      `${'pool'.padEnd(9)}${'node-hours'.padStart(14)}${'cost'.padStart(14)}${'wait mean'.padStart(11)}${'p95'.padStart(10)}${'p99'.padStart(10)}${'waited'.padStart(8)}${'peak'.padStart(7)}`,
      row('fixed', r.fixed, `${r.fixedPool.nodes} nodes (${r.fixedPool.kind === 'peak' ? 'the nodes a replay on the whole list used' : 'the whole node list'})`),
      row('elastic', r.elastic, `${r.elastic.scaleOuts} nodes asked for, ${r.elastic.scaleIns} given back`),
      `elastic: ${r.nodeHoursSavedPct} % fewer node-hours, mean wait ${r.meanWaitIncreasePct >= 0 ? '+' : ''}${r.meanWaitIncreasePct} % · ${r.wallSeconds} s`,
      '',
    ].join('\n');
  }
  if (flags.mode === 'replay') {
    const r = runReplay({
      workload,
      nodes,
      pods,
      policy,
      backfill: (flags.backfill ?? 'on') === 'on',
      timeLimits: flags.timeLimits ?? 'exact',
      seed: seeds[0] ?? 42,
      compress: num(flags.compress, '--compress'),
      estimate,
      now,
      ...(lp ? { lp } : {}),
    });
    if (flags.output === 'json') return JSON.stringify(r) + '\n';
    const reasons = Object.entries(r.waitReasons).map(([k, v]) => `${k} ${v}`).join(', ');
    return [
      `workload ${r.workload} · replay ×${r.compress} · scheduler: placement ${label}, backfill ${r.backfill ? 'on' : 'off'}`,
      `pods ${r.pods}, placed ${r.placed}, never placed ${r.neverPlaced}, placed on arrival ${(100 * r.placedOnArrival).toFixed(1)} %`,
      `waited ${r.waited}${reasons ? ` (first reason: ${reasons})` : ''}`,
      `queueing delay: mean ${r.queueDelaySeconds.mean} s, p95 ${r.queueDelaySeconds.p95} s, p99 ${r.queueDelaySeconds.p99} s, max ${r.queueDelaySeconds.max} s`,
      `allocated GPU: mean ${r.allocation.mean} % while pods arrive, ${r.allocation.meanAll} % overall, peak ${r.allocation.peak} %`,
      `${r.cycles.count} scheduler cycles (mean ${r.cycles.meanMs} ms, max ${r.cycles.maxMs} ms) · ${r.placementsPerSecond} placements/s · ${r.wallSeconds} s`,
      ...(r.lp ? [`lp: ${r.lp.cycles} MILP cycles, solver mean ${r.lp.solveMsMean} ms, max ${r.lp.solveMsMax} ms; ${r.lp.limited} stopped on the budget (incumbent used), ${r.lp.fallbacks} fell back to default; ${r.lp.placed} tasks placed by the batch`] : []),
      '',
    ].join('\n');
  }
  // Seeds side by side, a worker thread per core (the same results as one after another).
  const s = await runPublishedParallel({ workload, nodes, pods, policy, seeds, tune: num(flags.tune, '--tune'), estimate, now, ...(lp ? { lp } : {}) });
  if (flags.output === 'json') {
    const { curve, ...rest } = s;
    return JSON.stringify({ ...rest, curve }) + '\n';
  }
  const pad = (x: string, n: number) => x.padStart(n);
  const lines = [
    `workload ${s.workload} · published protocol · policy ${label}${s.policy === 'default' ? ` (${s.estimate})` : ''} · seeds ${seeds[0]}–${seeds.at(-1)} (${seeds.length}) · tune ${s.tune}`,
    `${'arrived %'.padEnd(22)}${REPORT_LEVELS.map((l) => pad(String(l), 8)).join('')}`,
    `${'allocated GPU %'.padEnd(22)}${REPORT_LEVELS.map((l) => pad(s.allocation[String(l)]?.toFixed(2) ?? '—', 8)).join('')}`,
    `${'fragmentation ratio %'.padEnd(22)}${REPORT_LEVELS.map((l) => pad(s.fragmentation[String(l)]?.toFixed(2) ?? '—', 8)).join('')}`,
    `${s.pods} pods, ${s.failed} skipped · ${s.placementsPerSecond} placements/s · ${s.wallSeconds} s`,
    ...(s.lp ? [`lp: ${s.lp.batches} batches of ${s.lp.batch}, solver mean ${s.lp.solveMsMean} ms, max ${s.lp.solveMsMax} ms; ${s.lp.limited} stopped on the budget (incumbent used), ${s.lp.fallbacks} fell back to default`] : []),
    '',
  ];
  return lines.join('\n');
}
