// Each view is declared once (protocol/views.ts); these check that what the server builds is
// exactly that shape: no field missing, none extra (strict parse), at every level we build.
import { describe, expect, it } from 'vitest';
import { gpuReq, makeNode, makePlacement, makeTask } from '../core/scheduler/testing.js';
import type { Attempt, Placement, VgpuReservation } from '../core/types.js';
import { AttemptViewSchema, GpuViewSchema, NodeViewSchema, PlacementViewSchema, TaskDetailViewSchema, TaskViewSchema, VgpuViewSchema } from '../protocol/views.js';
import { attemptView, gpuViews, nodeView, placementView, taskDetailView, taskView, vgpuView } from './views.js';

const node = makeNode('box', { gpus: 2 });
const placed = makePlacement(node, [1], 500, 4096);

describe('server views match their one schema', () => {
  it('placement: exactly the contract fields, arrays copied, stray fields dropped', () => {
    const withExtra = { ...placed, score: 12, vgpuId: 'vg-1' } as Placement & { score: number };
    const v = placementView(withExtra);
    expect(PlacementViewSchema.strict().parse(v)).toEqual(v);
    expect(v).not.toHaveProperty('score');
    expect(v.gpus).not.toBe(withExtra.gpus);
    expect(placementView(null)).toBeNull();
  });

  it('task, attempt and task detail', () => {
    const t = { ...makeTask('t-1', { gpu: 0.5 }), state: 'RUNNING' as const, placement: placed, attempts: 1, scheduledAt: 5, startedAt: 6 };
    expect(TaskViewSchema.strict().parse(taskView(t))).toEqual(taskView(t));
    const a: Attempt = { taskId: 't-1', attempt: 1, nodeId: node.id, placement: placed, scheduledAt: 5, startedAt: 6, endedAt: null, outcome: null, exitCode: null };
    expect(AttemptViewSchema.strict().parse(attemptView(a))).toEqual(attemptView(a));
    const d = taskDetailView(t, [a]);
    expect(TaskDetailViewSchema.strict().parse(d)).toEqual(d);
    expect(d.attempt).toBe(1);
  });

  it('node, GPU (with slices) and vGPU', () => {
    const t = { ...makeTask('t-1', { gpu: 0.5 }), state: 'RUNNING' as const, placement: placed };
    const n = nodeView(node, [t], []);
    expect(NodeViewSchema.strict().parse(n)).toEqual(n);
    const gpus = gpuViews(node, [t], [], (i) => (i === 1 ? 40 : undefined));
    for (const g of gpus) expect(GpuViewSchema.strict().parse(g)).toEqual(g);
    expect(gpus[1]!.slices).toEqual([{ taskId: 't-1', name: t.spec.name, tenant: t.spec.tenant, milli: 500, memoryMiB: 4096 }]);
    const r: VgpuReservation = { id: 'vg-1', name: 'mine', tenant: 'default', request: gpuReq(0.25)!, state: 'ACTIVE', reason: null, placement: placed, createdAt: 1, releasedAt: null, version: 1 };
    const v = vgpuView(r, [{ ...t, spec: { ...t.spec, vgpuId: 'vg-1' } }]);
    expect(VgpuViewSchema.strict().parse(v)).toEqual(v);
    expect(v.tasks).toEqual({ RUNNING: 1 });
  });
});
