// `npm run bench:placement -- --reserve [--heads N] [--seed N]`: the cost of backfill's reserved start
// per head on the whole trace's pool, filled by `default` with one seed's published arrivals; the
// arrivals that found no room are the heads. Two end orders: every running task ending at once (the
// live bench's ManualClock, where each head releases every hold) and each ending in its own step.
// Beside the scheduler's reserveStart (a what-if cluster kept between heads, scheduler/what-if.ts)
// runs the walk it replaced (a fresh copy of the cluster per head, cold memos and indexes); both must
// choose the same, and the table prints CPU ms per head, measured in the same process.
import { ClusterState, getPolicy, type PlacementChoice, type ResolvedPodRequest } from '../src/core/placement/index.js';
import { defaultWorkload } from '../src/core/placement/default.js';
import { PlacementMemos } from '../src/core/placement/memos.js';
import { mulberry32 } from '../src/core/placement/rng.js';
import { reserveStart } from '../src/core/scheduler/backfill.js';
import { reserveStartOnCopy } from '../src/core/scheduler/backfill-testing.js';
import type { Hold } from '../src/core/scheduler/capacity.js';
import { OPENB } from '../src/sim/data.js';
import { capacityMilli, publishedArrivals, publishedNodeNames } from '../src/sim/published.js';
import { loadNodes, loadPods } from '../src/sim/trace.js';

export function mainReserve(args: readonly string[]): void {
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const seed = Number(flag('--seed') ?? 52);
  const nodes = publishedNodeNames(loadNodes(OPENB.nodes), seed);
  const arrivals = publishedArrivals(loadPods(OPENB.pods), capacityMilli(nodes), seed, 1.3);
  const policy = getPolicy('default');
  console.log(`backfill reserved start per head, ${nodes.length} nodes, seed ${seed}, policy default: CPU ms per head (this process)`);
  console.log('| ends | holds | heads | fresh copy per head | kept what-if | ratio | same choices |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const ends of ['all at once', 'one per step'] as const) {
    const cluster = new ClusterState(nodes);
    const ctx = { rng: mulberry32(1), memos: new PlacementMemos(), workload: defaultWorkload(arrivals) };
    const holds: Hold[] = [];
    const heads: ResolvedPodRequest[] = [];
    for (let i = 0; i < arrivals.length; i++) {
      const r = arrivals[i]!;
      const c = policy.choose(cluster, r, ctx);
      if (!c) {
        heads.push(r);
        continue;
      }
      cluster.allocate(c, r);
      holds.push({ end: ends === 'all at once' ? 0 : i, nodePos: c.nodePos, gpuIdx: c.gpuIdx, gpuMilli: c.gpuMilli, gpuMemoryMiB: c.gpuMemoryMiB, cpuMilli: r.cpuMilli, memoryMiB: r.memoryMiB });
    }
    const n = Math.min(heads.length, Number(flag('--heads') ?? 300));
    // The walk as it was: a copy of the cluster per head, on which every index starts empty.
    const onCopy = (req: ResolvedPodRequest): PlacementChoice[] | null => reserveStartOnCopy(cluster, holds, [req], policy, ctx)?.choices ?? null;
    const kept = (req: ResolvedPodRequest): PlacementChoice[] | null => reserveStart(cluster, holds, [req], policy, ctx)?.choices ?? null;
    const time = (f: (r: ResolvedPodRequest) => PlacementChoice[] | null): { ms: number; out: string } => {
      const c0 = process.cpuUsage();
      const out = heads.slice(0, n).map((h) => JSON.stringify(f(h)));
      const c = process.cpuUsage(c0);
      return { ms: (c.user + c.system) / 1000 / n, out: out.join('\n') };
    };
    const a = time(onCopy);
    const b = time(kept);
    console.log(`| ${ends} | ${holds.length} | ${n} | ${a.ms.toFixed(2)} | ${b.ms.toFixed(2)} | ${(a.ms / b.ms).toFixed(1)}× | ${a.out === b.out ? 'yes' : 'NO'} |`);
  }
}
