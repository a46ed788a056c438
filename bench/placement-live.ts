// `npm run bench:placement -- --live [--seed N] [--limit N] [--every K] [--json FILE]`: one seed of the published
// arrivals of the default openb list through the server's real control plane, against the
// simulator's `default (causal)` (src/sim/live-testing.ts says how).
import { writeFileSync } from 'node:fs';
import { OPENB } from '../src/sim/data.js';
import { runLive, type LiveResult } from '../src/sim/live-testing.js';
import { REPORT_LEVELS } from '../src/sim/run.js';
import { loadNodes, loadPods } from '../src/sim/trace.js';

export function renderLive(r: LiveResult): string {
  const f = (v: number | null | undefined) => (v === null || v === undefined ? '—' : v.toFixed(2));
  const lines = [
    `live control plane vs simulator, default list, ${r.nodes} nodes / ${r.gpus} GPUs, seed ${r.seed}, ${r.arrivals} arrivals (published protocol, tune 1.3), policy default (causal): allocated GPU % of capacity`,
    `| | ${REPORT_LEVELS.map((l) => `${l} %`).join(' | ')} |`,
    `| --- | ${REPORT_LEVELS.map(() => '---').join(' | ')} |`,
    `| live server (submit API, cycle, agents) | ${REPORT_LEVELS.map((l) => f(r.live[String(l)])).join(' | ')} |`,
    `| simulator default (causal) | ${REPORT_LEVELS.map((l) => f(r.sim[String(l)])).join(' | ')} |`,
    `| live − simulator | ${REPORT_LEVELS.map((l) => f((r.live[String(l)] ?? NaN) - (r.sim[String(l)] ?? NaN))).join(' | ')} |`,
    `decisions: ${r.sameDecisions} of ${r.arrivals} identical (node and GPUs, or both skipped); first divergence: ${r.firstDivergence ?? 'none'}; placed live ${r.placedLive}, simulator ${r.placedSim}`,
    `wall: ${r.wallSeconds} s for the arrivals (registering ${r.registerSeconds} s of it), CPU ${r.cpuSeconds} s (user + system, this process; load average then ${r.loadAverage.map((l) => l.toFixed(1)).join(', ')}); per arrival (submit, cycle, read, agent poll+report) p50 ${r.perArrivalMs.p50} ms, p99 ${r.perArrivalMs.p99} ms`,
    `server cycle (schedule() + apply + commit), ${r.cycleMs.count} cycles: p50 ${r.cycleMs.p50} ms, p90 ${r.cycleMs.p90} ms, p99 ${r.cycleMs.p99} ms, max ${r.cycleMs.max} ms, mean ${r.cycleMs.mean} ms`,
  ];
  return lines.join('\n');
}

export async function mainLive(args: readonly string[]): Promise<void> {
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const limit = flag('--limit');
  // `--every K`: every K-th node of the trace only (a smaller pool of the same mix, for a busy machine).
  const every = Number(flag('--every') ?? 1);
  const r = await runLive({
    nodes: loadNodes(OPENB.nodes).filter((_, i) => i % every === 0),
    pods: loadPods(OPENB.pods),
    seed: Number(flag('--seed') ?? 52),
    ...(limit !== undefined ? { limit: Number(limit) } : {}),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  const json = flag('--json');
  if (json) writeFileSync(json, JSON.stringify(r, null, 1));
  console.log(renderLive(r));
}
