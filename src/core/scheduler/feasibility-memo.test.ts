import { describe, expect, it } from 'vitest';
import { FeasibilityMemo } from './feasibility-memo.js';
import { poolModels } from './capacity.js';
import { neverFits } from './feasibility.js';
import { makeNode } from './testing.js';
import type { ResourceRequest } from '../types.js';

const req = (gpus: number, cpuMilli = 1000): ResourceRequest => ({ gpu: { count: gpus, share: { kind: 'milli', milli: 1000 } }, cpuMilli, memoryMiB: 1024 });

describe('FeasibilityMemo', () => {
  it('answers as neverFits, and again when a node changes its resources or joins', () => {
    const memo = new FeasibilityMemo();
    let nodes = [makeNode('a', { gpus: 2 }), makeNode('b', { gpus: 4, state: 'DRAINING' })];
    const asks = [req(1), req(4), req(8), req(2, 200_000), req(1)];
    const check = () => {
      for (const r of asks) expect(memo.neverFits(r, nodes)).toEqual(neverFits(r, nodes));
      expect(memo.neverFits(req(2), nodes, 3)).toEqual(neverFits(req(2), nodes, 3));
      expect(memo.poolModels(nodes)).toEqual(poolModels(nodes));
    };
    check();
    expect(memo.neverFits(req(8), nodes)?.message).toMatch(/needs 8 GPUs on one node; the largest node has 4/);
    // Heartbeats: new records, same resources; a lost node still counts.
    nodes = nodes.map((n) => ({ ...n, lastHeartbeatAt: 5, state: 'LOST' as const }));
    check();
    // A bigger node joins: 8 GPUs fit now.
    nodes = [...nodes, makeNode('c', { gpus: 8, cpuMilli: 256_000 })];
    check();
    expect(memo.neverFits(req(8), nodes)).toBeNull();
    // A node re-registers with fewer GPUs (same id): the old answer is not reused.
    nodes = nodes.map((n) => (n.id === 'c' ? makeNode('c', { gpus: 2, model: 'L4' }) : n));
    check();
    expect(memo.neverFits(req(8), nodes)).not.toBeNull();
  });
});
