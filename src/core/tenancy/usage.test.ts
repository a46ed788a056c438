import { describe, expect, it } from 'vitest';
import type { NodeRecord, Placement, Task, VgpuReservation } from '../types.js';
import { fairShareTaskOf, gpuDemand, poolCapacity, runningInfoOf, tenantMilli, tenantUsage } from './usage.js';

const placement = (gpus: number[], gpuMilli: number, memoryMiB: number, vgpuId?: string): Placement => ({
  nodeId: 'n1',
  node: 'n1',
  gpus,
  gpuUuids: gpus.map((g) => `GPU-${g}`),
  gpuMilli,
  memoryMiB,
  cpuMilli: 1000,
  hostMemoryMiB: 1024,
  sharing: 'simulated',
  ...(vgpuId ? { vgpuId } : {}),
});

function task(id: string, tenant: string, over: Partial<Task> = {}, spec: Partial<Task['spec']> = {}): Task {
  return {
    id,
    spec: {
      name: id,
      command: ['true'],
      env: {},
      resources: { gpu: { count: 1, share: { kind: 'milli', milli: 500 } }, cpuMilli: 1000, memoryMiB: 1024 },
      priority: 50,
      retries: 0,
      preemptible: false,
      gang: 1,
      tenant,
      ...spec,
    },
    state: 'RUNNING',
    reason: null,
    reasonMessage: null,
    attempts: 1,
    exitCode: null,
    createdAt: 1,
    scheduledAt: 2,
    startedAt: 3,
    finishedAt: null,
    placement: null,
    gangId: null,
    gangIndex: 0,
    version: 1,
    ...over,
  };
}

describe('usage adapters', () => {
  it('pool capacity counts READY nodes only', () => {
    const gpu = (i: number) => ({ index: i, uuid: `u${i}`, model: 'H100-80GB', memoryMiB: 81920, tflops: 989, sharing: 'simulated' as const });
    const node = (state: NodeRecord['state'], n: number): NodeRecord => ({ id: state, name: state, cpuMilli: 1, memoryMiB: 1, labels: {}, gpus: Array.from({ length: n }, (_, i) => gpu(i)), state, simulated: true, agentVersion: '', registeredAt: 0, lastHeartbeatAt: 0 });
    expect(poolCapacity([node('READY', 2), node('LOST', 4)])).toEqual({ gpuMilli: 2000, gpuMemoryMiB: 2 * 81920 });
  });

  it('tenant usage sums placements and active reservations, not tasks inside reservations', () => {
    const active = [
      task('t1', 'a', { placement: placement([0, 1], 1000, 81920) }),
      task('t2', 'a', { placement: placement([2], 250, 20480) }),
      task('t3', 'b', { placement: placement([3], 500, 40960, 'vg1') }),
    ];
    const res: VgpuReservation[] = [
      { id: 'vg1', name: 'v', tenant: 'b', request: { count: 1, share: { kind: 'milli', milli: 500 } }, state: 'ACTIVE', reason: null, placement: placement([3], 500, 40960), createdAt: 0, releasedAt: null, version: 1 },
      { id: 'vg2', name: 'w', tenant: 'b', request: { count: 1, share: { kind: 'milli', milli: 500 } }, state: 'PENDING', reason: 'Resources', placement: null, createdAt: 0, releasedAt: null, version: 1 },
    ];
    const u = tenantUsage(active, res);
    expect(u).toEqual(new Map([['a', { gpuMilli: 2250, gpuMemoryMiB: 184320 }], ['b', { gpuMilli: 500, gpuMemoryMiB: 40960 }]]));
    expect(tenantMilli(u)).toEqual(new Map([['a', 2250], ['b', 500]]));
  });

  it('demand of a request before placement', () => {
    expect(gpuDemand(null)).toEqual({ gpuMilli: 0, gpuMemoryMiB: 0 });
    expect(gpuDemand({ count: 2, share: { kind: 'milli', milli: 1000 } })).toEqual({ gpuMilli: 2000, gpuMemoryMiB: 0 });
    expect(gpuDemand({ count: 1, share: { kind: 'memory', memoryMiB: 20480 } })).toEqual({ gpuMilli: 0, gpuMemoryMiB: 20480 });
    expect(gpuDemand({ count: 1, share: { kind: 'tflops', tflops: 20 } }, () => ({ milli: 64, memoryMiB: 5243 }))).toEqual({ gpuMilli: 64, gpuMemoryMiB: 5243 });
  });

  it('task views for fair share and preemption', () => {
    const t = task('t1', 'a', { placement: placement([0], 500, 40960) }, { priority: 70 });
    expect(fairShareTaskOf(t)).toMatchObject({ id: 't1', tenant: 'a', priority: 70, submittedAt: 1, gpuMilli: 500 });
    expect(runningInfoOf(t)).toMatchObject({ id: 't1', startedAt: 3, preemptible: false, gpuMilli: 500 });
    expect(runningInfoOf(t, true).preemptible).toBe(true);
  });
});
