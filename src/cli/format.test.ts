import { describe, expect, it } from 'vitest';
import type { TaskView } from '../sdk/types.js';
import { psTable } from './commands/tasks.js';
import { age, gpuColumn, requestedGpus, table } from './format.js';

describe('format', () => {
  it('aligns table columns', () => {
    expect(table(['A', 'BB'], [['xxx', 'y'], ['z', '']])).toBe('A    BB\nxxx  y\nz\n');
  });

  it('gives short ages', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(age('2026-01-01T11:59:55Z', now)).toBe('5s');
    expect(age('2026-01-01T11:57:00Z', now)).toBe('3m');
    expect(age('2026-01-01T09:00:00Z', now)).toBe('3h');
    expect(age('2025-12-30T12:00:00Z', now)).toBe('2d');
    expect(age(null, now)).toBe('-');
  });

  it('shows where a task runs, or what a pending one asks for', () => {
    expect(requestedGpus({ count: 1, share: { kind: 'milli', milli: 500 } })).toBe('0.5');
    expect(requestedGpus({ count: 2, share: { kind: 'milli', milli: 1000 }, model: 'H100-80GB' })).toBe('H100-80GB:2');
    expect(requestedGpus({ count: 1, share: { kind: 'memory', memoryMiB: 20480 } })).toBe('20 GiB');
    expect(requestedGpus({ count: 1, share: { kind: 'tflops', tflops: 20 } })).toBe('20TF');
    expect(requestedGpus(null)).toBe('-');
    const placed = { node: 'n', nodeId: 'x', gpus: [0], gpuUuids: [], gpuMilli: 500, memoryMiB: 1, cpuMilli: 1, hostMemoryMiB: 1, sharing: 'simulated' as const };
    expect(gpuColumn({ placement: placed, spec: {} as TaskView['spec'] })).toBe('0:0.5');
    expect(gpuColumn({ placement: { ...placed, gpus: [0, 1], gpuMilli: 1000 }, spec: {} as TaskView['spec'] })).toBe('0,1');
  });

  it('prints ps rows with the contract columns', () => {
    const t = {
      id: 't_1', name: 'train', state: 'PENDING', reason: 'Resources', priority: 50, createdAt: '2026-01-01T11:59:00Z', placement: null,
      spec: { resources: { gpu: { count: 1, share: { kind: 'milli', milli: 500 } } } },
    } as unknown as TaskView;
    expect(psTable([t], Date.parse('2026-01-01T12:00:00Z'))).toBe(
      'ID   NAME   STATE    REASON     PRI  GPU  NODE  AGE\nt_1  train  PENDING  Resources  50   0.5  -     1m\n',
    );
  });
});
