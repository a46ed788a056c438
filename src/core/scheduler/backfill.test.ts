// reserveStart places the head on a what-if cluster kept between calls (warm memos and indexes). It
// must answer exactly what the same walk on a fresh copy answers, and leave the live cluster alone.
import { describe, expect, it } from 'vitest';
import { ClusterState, type NodeInit, type ResolvedPodRequest } from '../placement/cluster.js';
import { getPolicy } from '../placement/index.js';
import { PlacementMemos } from '../placement/memos.js';
import { mulberry32 } from '../placement/rng.js';
import type { PlacementContext, PolicyName } from '../placement/types.js';
import { typicalWorkload } from '../placement/workload.js';
import { reserveStart } from './backfill.js';
import { reserveStartOnCopy } from './backfill-testing.js';
import type { Hold } from './capacity.js';

function nodes(rng: () => number, n: number): NodeInit[] {
  return Array.from({ length: n }, (_, i) => {
    const count = [1, 2, 4, 8][Math.floor(rng() * 4)]!;
    const model = rng() < 0.5 ? 'A100' : 'T4';
    return {
      id: `n${i}`,
      name: `n-${String(Math.floor(rng() * 100)).padStart(2, '0')}-${i}`,
      cpuMilli: [16_000, 64_000][Math.floor(rng() * 2)]!,
      memoryMiB: [65_536, 262_144][Math.floor(rng() * 2)]!,
      gpus: Array.from({ length: count }, (_, g) => ({ index: g, model, memoryMiB: 40_960, tflops: 100, exclusive: false })),
    };
  });
}

function req(rng: () => number): ResolvedPodRequest {
  const cpuMilli = [0, 1000, 4000, 12_000][Math.floor(rng() * 4)]!;
  const memoryMiB = [0, 1024, 16_384][Math.floor(rng() * 3)]!;
  if (rng() < 0.5) return { cpuMilli, memoryMiB, gpuCount: 1, gpuMilli: [250, 500, 700][Math.floor(rng() * 3)]!, gpuMemoryMiB: 0, models: [] };
  return { cpuMilli, memoryMiB, gpuCount: [1, 2, 4, 8][Math.floor(rng() * 4)]!, gpuMilli: 1000, gpuMemoryMiB: 0, models: [] };
}

/** Every node's free state and task kinds, comparable with toEqual. */
function freeState(c: ClusterState): unknown {
  return c.nodes.map((n) => [n.cpuMilliFree, n.memoryMiBFree, n.gpus.map((g) => [g.freeMilli, g.freeMemoryMiB]), [...(n.gpuTaskKinds ?? new Map<string, number>())].sort()]);
}

describe('reserveStart', () => {
  for (const name of ['default', 'fgd', 'best-fit', 'gpu-clustering'] as PolicyName[]) {
    it(`answers what the walk on a copy answers and leaves the cluster unchanged (${name})`, () => {
      const rng = mulberry32(7);
      const policy = getPolicy(name);
      let checked = 0;
      let found = 0;
      for (let trial = 0; trial < 3; trial++) {
        const cluster = new ClusterState(nodes(rng, 40));
        const seen: ResolvedPodRequest[] = [];
        const ctx: PlacementContext = { rng: mulberry32(trial), memos: new PlacementMemos(), workload: [] };
        const holds: Hold[] = [];
        // Fill the pool until requests stop fitting; every so often ask for a head's reserved
        // start, so that memos and indexes are warm and the change feed moves between calls.
        for (let step = 0; step < 150; step++) {
          const r = req(rng);
          seen.push(r);
          const c = policy.choose(cluster, r, ctx);
          if (c) {
            cluster.allocate(c, r);
            // Ends with ties (several holds end together), as a pool of equal time limits has.
            holds.push({ end: Math.floor(rng() * 30), nodePos: c.nodePos, gpuIdx: c.gpuIdx, gpuMilli: c.gpuMilli, gpuMemoryMiB: c.gpuMemoryMiB, cpuMilli: r.cpuMilli, memoryMiB: r.memoryMiB });
            continue;
          }
          const head = rng() < 0.3 ? [r, req(rng)] : [r]; // sometimes a gang of two
          const hctx = { ...ctx, workload: typicalWorkload(seen) };
          const before = freeState(cluster);
          const want = reserveStartOnCopy(cluster, holds, head, policy, { ...hctx, memos: new PlacementMemos() });
          const got = reserveStart(cluster, holds, head, policy, hctx);
          expect(freeState(cluster)).toEqual(before);
          expect(got?.startAt).toEqual(want?.startAt);
          expect(got?.choices).toEqual(want?.choices);
          if (got && want) {
            expect(freeState(got.state)).toEqual(freeState(want.state));
            expect([...got.nodes]).toEqual([...want.nodes]);
            found++;
          }
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(100);
      expect(found).toBeGreaterThan(50);
    });
  }
});
