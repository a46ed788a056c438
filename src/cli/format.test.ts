import { describe, expect, it } from 'vitest';
import type { PoolEvent, TaskView } from '../sdk/types.js';
import { eventsTable, psTable } from './commands/tasks.js';
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
      'ID   NAME   STATE    REASON     PRI  REQUEST  PLACED  STARTED  ENDED  AGE\nt_1  train  PENDING  Resources  50   0.5      -       -        -      1m\n',
    );
  });

  it('shows tasks that shared one vGPU slice, one after another', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    const placement = { node: 'box', nodeId: 'n_1', gpus: [0], gpuUuids: [], gpuMilli: 250, memoryMiB: 1, cpuMilli: 1, hostMemoryMiB: 1, sharing: 'simulated' as const, vgpuId: 'vg_1' };
    const at = (s: number): number => now - 60_000 + s * 1000;
    const row = (id: string, tflops: number, start: number, end: number): TaskView =>
      ({
        id, name: id, state: 'SUCCEEDED', reason: null, priority: 50, createdAt: at(0), startedAt: at(start), finishedAt: at(end), placement, vgpuId: 'vg_1',
        spec: { resources: { gpu: { count: 1, share: { kind: 'tflops', tflops } } } },
      }) as unknown as TaskView;
    const lines = psTable([row('t_1', 20, 0, 5), row('t_2', 15, 5, 8)], now).split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+STATE\s+REASON\s+PRI\s+REQUEST\s+VGPU\s+PLACED\s+STARTED\s+ENDED\s+AGE$/);
    const cells = lines.slice(1, 3).map((l) => l.split(/\s{2,}/));
    expect(cells.map((c) => [c[5], c[6], c[7]])).toEqual([['20TF', 'vg_1', 'box:gpu0'], ['15TF', 'vg_1', 'box:gpu0']]);
    // The second started when the first ended: the clock columns say so.
    expect(cells[1]![8]).toBe(cells[0]![9]);
    expect(cells[0]![8]).toMatch(/^\d\d:\d\d:\d\d$/);
  });

  it('prints a task’s history: time, type, node by name, details without empty values', () => {
    const at = Date.parse('2026-01-01T12:00:00Z');
    const events: PoolEvent[] = [
      { seq: 1, at, type: 'task.submitted', taskId: 't_1', data: { name: 'train', tenant: 'default', gangId: null } },
      { seq: 4, at: at + 5, type: 'task.scheduled', taskId: 't_1', nodeId: 'n_1', data: { attempt: 1, node: 'box', gpus: [0], gpuMilli: 500 } },
      { seq: 9, at: at + 1500, type: 'task.pending', taskId: 't_1', data: { reason: 'Quota', message: 'tenant a is at its limit' } },
      { seq: 12, at: at + 2000, type: 'task.finished', taskId: 't_1', nodeId: 'n_gone', data: { state: 'SUCCEEDED', exitCode: 0 } },
    ];
    expect(eventsTable(events, new Map([['n_1', 'box']]))).toBe(
      [
        'TIME                      TYPE            NODE    DETAILS',
        '2026-01-01T12:00:00.000Z  task.submitted  -       name=train tenant=default',
        '2026-01-01T12:00:00.005Z  task.scheduled  box     attempt=1 gpus=[0] gpuMilli=500',
        '2026-01-01T12:00:01.500Z  task.pending    -       reason=Quota message="tenant a is at its limit"',
        '2026-01-01T12:00:02.000Z  task.finished   n_gone  state=SUCCEEDED exitCode=0',
        '',
      ].join('\n'),
    );
    expect(eventsTable([])).toBe('TIME  TYPE  NODE  DETAILS\n');
  });
});
