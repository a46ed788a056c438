// vGPU reservations: a slice of one GPU reserved ahead, and the tasks submitted into it. A
// reservation is placed like a 1-GPU request with no CPU or RAM of its own; its tasks then run in
// its slice one at a time, in submit order, each bringing its own CPU and RAM.
import type { NodeRecord, Task, VgpuReservation } from '../types.js';
import { toPlacement } from './capacity.js';
import { pendTask, placeTask, endIfPlacedNow, type Cycle } from './cycle.js';
import { explainNoFit } from './explain.js';
import { cpus, mib } from './format.js';

const bySubmit = (a: { createdAt: number; id: string }, b: { createdAt: number; id: string }): number =>
  a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Places PENDING reservations, oldest first, before any task. */
export function placeReservations(cy: Cycle, reservations: readonly VgpuReservation[]): void {
  const { cluster, records } = cy.cap;
  for (const r of reservations.filter((x) => x.state === 'PENDING').sort(bySubmit)) {
    const shape = cy.requests.shape({ gpu: { ...r.request, count: 1 }, cpuMilli: 0, memoryMiB: 0 });
    const c = cy.placer.choose(cluster, shape.req, cy.pctx);
    if (c) {
      cluster.allocate(c, shape.req);
      cy.decisions.push({ kind: 'placeReservation', reservationId: r.id, placement: toPlacement(records, c, 0, 0) });
    } else {
      const why = explainNoFit(cluster, shape.req, shape.resources, cy.requests.describe(shape), { ready: records, all: cy.allNodes });
      cy.decisions.push({ kind: 'reservationPending', reservationId: r.id, reason: why.reason, message: why.message });
    }
  }
}

/**
 * Tasks submitted into a reservation. When the reservation is ACTIVE and nothing runs in it,
 * the oldest of its pending tasks is placed in its slice (if the node has its CPU and RAM);
 * the others wait with reason 'Reservation'.
 */
export function scheduleSliceTasks(
  cy: Cycle,
  nodes: readonly NodeRecord[],
  active: readonly Task[],
  pending: readonly Task[],
  reservations: readonly VgpuReservation[],
): void {
  const { cluster, holds } = cy.cap;
  const byId = new Map(reservations.map((r) => [r.id, r]));
  const running = new Map<string, string>();
  for (const t of active) {
    const v = t.placement?.vgpuId ?? t.spec.vgpuId;
    if (v !== undefined && !running.has(v)) running.set(v, t.id);
  }
  const queues = new Map<string, Task[]>();
  for (const t of pending) {
    const v = t.spec.vgpuId!;
    const q = queues.get(v);
    if (q) q.push(t);
    else queues.set(v, [t]);
  }
  for (const [vgpuId, queue] of queues) {
    queue.sort(bySubmit);
    const r = byId.get(vgpuId);
    const waitAll = (message: string): void => {
      for (const t of queue) pendTask(cy, t, 'Reservation', message);
    };
    if (!r || r.state === 'RELEASED') {
      waitAll(`vGPU ${vgpuId} ${r ? 'was released' : 'does not exist'}; this task cannot run (cancel it)`);
      continue;
    }
    if (r.state === 'PENDING' || !r.placement) {
      waitAll(`vGPU ${vgpuId} is not placed yet${r.reason ? ` (${r.reason})` : ''}`);
      continue;
    }
    const busy = running.get(vgpuId);
    if (busy !== undefined) {
      waitAll(`waiting for vGPU ${vgpuId}: task ${busy} is running in it`);
      continue;
    }
    const p = r.placement;
    const pos = cluster.nodePos(p.nodeId);
    if (pos === undefined) {
      const state = nodes.find((n) => n.id === p.nodeId)?.state ?? 'gone';
      waitAll(`vGPU ${vgpuId} is on node ${p.node}, which is ${state}: it takes no new work`);
      continue;
    }
    const [next, ...rest] = queue;
    const node = cluster.nodes[pos]!;
    const { cpuMilli, memoryMiB } = next!.spec.resources;
    const fits = node.cpuMilliFree >= cpuMilli && node.memoryMiBFree >= memoryMiB;
    if (!fits) {
      pendTask(
        cy,
        next!,
        'Resources',
        `needs ${cpus(cpuMilli)} and ${mib(memoryMiB)} of RAM on node ${p.node}, where vGPU ${vgpuId} is; ` +
          `${cpus(node.cpuMilliFree)} and ${mib(node.memoryMiBFree)} free there`,
      );
    } else {
      cluster.charge(pos, [], 0, 0, cpuMilli, memoryMiB);
      holds.push({ end: endIfPlacedNow(cy, next!), nodePos: pos, gpuIdx: [], gpuMilli: 0, gpuMemoryMiB: 0, cpuMilli, memoryMiB });
      placeTask(cy, next!, { ...p, gpus: [...p.gpus], gpuUuids: [...p.gpuUuids], cpuMilli, hostMemoryMiB: memoryMiB, vgpuId });
    }
    const msg = `waiting for vGPU ${vgpuId}: task ${next!.id} ${fits ? 'is running in it' : 'goes first'}`;
    for (const t of rest) pendTask(cy, t, 'Reservation', msg);
  }
}
