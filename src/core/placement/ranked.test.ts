// The ranked path (indexes over the cluster's change feed) must choose exactly what the scan of
// every node chooses, for every policy: random pools (mixed models, exclusive GPUs, CPU- and
// RAM-tight nodes), random request streams with releases, and views that override some nodes (as
// a backfill guard does).
import { describe, expect, it } from 'vitest';
import { ClusterState, type NodeInit, type ResolvedPodRequest } from './cluster.js';
import { getPolicy, POLICY_NAMES } from './index.js';
import { PlacementMemos } from './memos.js';
import { mulberry32 } from './rng.js';
import type { ClusterView, NodeSlot, PlacementChoice, PolicyName } from './types.js';
import { typicalWorkload } from './workload.js';

const MODELS = [
  { model: 'H100', memoryMiB: 81_920 },
  { model: 'A100', memoryMiB: 40_960 },
  { model: 'T4', memoryMiB: 16_384 },
];

function pool(rng: () => number, n: number): NodeInit[] {
  return Array.from({ length: n }, (_, i) => {
    const m = MODELS[Math.floor(rng() * MODELS.length)]!;
    const gpus = [1, 2, 4, 8][Math.floor(rng() * 4)]!;
    const exclusive = rng() < 0.15;
    // Names out of position order, so that name ties and position order differ.
    return {
      id: `n${i}`,
      name: `node-${String(Math.floor(rng() * 1000)).padStart(3, '0')}-${i}`,
      cpuMilli: [8000, 32_000, 64_000, 128_000][Math.floor(rng() * 4)]!,
      memoryMiB: [32_768, 131_072, 524_288][Math.floor(rng() * 3)]!,
      gpus: Array.from({ length: gpus }, (_, g) => ({ index: g, model: m.model, memoryMiB: m.memoryMiB, tflops: 100, exclusive })),
    };
  });
}

function request(rng: () => number): ResolvedPodRequest {
  const r = rng();
  const cpuMilli = [0, 1000, 2000, 4000, 16_000][Math.floor(rng() * 5)]!;
  const memoryMiB = [0, 2048, 8192, 65_536][Math.floor(rng() * 4)]!;
  if (r < 0.08) return { cpuMilli, memoryMiB, gpuCount: 0, gpuMilli: 0, gpuMemoryMiB: 0, models: [] };
  if (r < 0.5) {
    const milli = [100, 250, 300, 500, 700][Math.floor(rng() * 5)]!;
    const models = rng() < 0.2 ? ['A100'] : [];
    return { cpuMilli, memoryMiB, gpuCount: 1, gpuMilli: milli, gpuMemoryMiB: rng() < 0.3 ? 8192 : 0, models };
  }
  if (r < 0.6) {
    // A memory request: its share depends on the model.
    const perModel = new Map(MODELS.map((m) => [m.model, { gpuMilli: Math.ceil((16_384 / m.memoryMiB) * 1000), gpuMemoryMiB: 16_384 }]));
    return { cpuMilli, memoryMiB, gpuCount: 1, gpuMilli: 0, gpuMemoryMiB: 0, models: [], perModel };
  }
  return { cpuMilli, memoryMiB, gpuCount: [1, 1, 2, 4, 8][Math.floor(rng() * 5)]!, gpuMilli: 1000, gpuMemoryMiB: 0, models: rng() < 0.1 ? ['H100'] : [] };
}

/** A view of `c` with some nodes shown smaller (as a backfill guard shows the head's shadow nodes). */
function narrowed(c: ClusterState, over: ReadonlySet<number>, withFeed: boolean): ClusterView {
  const nodes: NodeSlot[] = [...c.nodes];
  for (const p of over) {
    const n = c.nodes[p]!;
    nodes[p] = { ...n, cpuMilliFree: Math.floor(n.cpuMilliFree / 2), gpus: n.gpus.map((g, i) => ({ ...g, freeMilli: i === 0 ? 0 : g.freeMilli })) };
  }
  return withFeed ? { nodes, changes: c.changes, overridden: over } : { nodes };
}

interface Held {
  c: PlacementChoice;
  req: ResolvedPodRequest;
}

/** Plays one random stream on two equal clusters: one chosen by scan, one through the indexes. */
function play(policy: PolicyName, seed: number, steps: number): number {
  const rng = mulberry32(seed);
  const inits = pool(rng, 20 + Math.floor(rng() * 60));
  const scanned = new ClusterState(inits);
  const ranked = new ClusterState(inits);
  const reqs = Array.from({ length: 12 }, () => request(rng));
  const workload = typicalWorkload(reqs);
  const memos = new PlacementMemos();
  const p = getPolicy(policy);
  const held: Held[] = [];
  let placed = 0;
  for (let s = 0; s < steps; s++) {
    if (held.length > 0 && rng() < 0.3) {
      const [h] = held.splice(Math.floor(rng() * held.length), 1);
      for (const c of [scanned, ranked]) c.release(h!.c.nodePos, h!.c.gpuIdx, h!.c.gpuMilli, h!.c.gpuMemoryMiB, h!.req.cpuMilli, h!.req.memoryMiB);
      continue;
    }
    const req = reqs[Math.floor(rng() * reqs.length)]!;
    const over = rng() < 0.2 ? new Set([Math.floor(rng() * inits.length), Math.floor(rng() * inits.length)]) : null;
    // Scan: a plain view (no change feed) and no memos; ranked: the cluster itself, memos kept.
    const a = p.choose(over ? narrowed(scanned, over, false) : { nodes: scanned.nodes }, req, { rng: mulberry32(s), workload });
    const b = p.choose(over ? narrowed(ranked, over, true) : ranked, req, { rng: mulberry32(s), workload, memos });
    expect(b, `${policy} seed ${seed} step ${s}`).toEqual(a);
    if (!a || over) continue;
    scanned.allocate(a, req);
    ranked.allocate(a, req);
    held.push({ c: a, req });
    placed++;
  }
  return placed;
}

describe('ranked placement chooses what the scan chooses', () => {
  for (const policy of POLICY_NAMES) {
    it(policy, () => {
      let placed = 0;
      for (let seed = 1; seed <= 8; seed++) placed += play(policy, seed * 7919, 300);
      // The streams place a lot (the comparison is not over empty answers).
      expect(placed).toBeGreaterThan(700);
    });
  }
});
