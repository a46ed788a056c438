// The JSON shapes of the API (CONTRACTS.md): tasks, attempts, nodes, GPUs and vGPUs flattened
// for people and scripts, timestamps as ISO strings.
import type { Attempt, NodeMpsHealth, NodeRecord, Placement, Task, VgpuReservation } from '../core/types.js';
import type { AttemptView, GpuView, NodeView, PlacementView, SliceView, TaskDetailView, TaskView, VgpuView } from '../protocol/views.js';

// The types are declared once, with their schemas, in protocol/views.ts.
export type { AttemptView, GpuView, NodeView, PlacementView, SliceView, TaskDetailView, TaskView, VgpuView } from '../protocol/views.js';

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/**
 * A placement with exactly the contract's fields, its arrays copied: what the API shows, and what
 * the server stores and sends to agents (the agent protocol's schema is strict, so a stray field
 * from a scheduler decision must not get through).
 */
export function placementView(p: Placement): PlacementView;
export function placementView(p: Placement | null): PlacementView | null;
export function placementView(p: Placement | null): PlacementView | null {
  if (!p) return null;
  const v: PlacementView = {
    node: p.node,
    nodeId: p.nodeId,
    gpus: [...p.gpus],
    gpuUuids: [...p.gpuUuids],
    gpuMilli: p.gpuMilli,
    memoryMiB: p.memoryMiB,
    cpuMilli: p.cpuMilli,
    hostMemoryMiB: p.hostMemoryMiB,
    sharing: p.sharing,
  };
  if (p.vgpuId !== undefined) v.vgpuId = p.vgpuId;
  return v;
}

export function taskView(t: Task): TaskView {
  const v: TaskView = {
    id: t.id,
    name: t.spec.name,
    state: t.state,
    reason: t.reason,
    reasonMessage: t.reasonMessage,
    priority: t.spec.priority,
    exitCode: t.exitCode,
    attempts: t.attempts,
    tenant: t.spec.tenant,
    createdAt: iso(t.createdAt),
    scheduledAt: iso(t.scheduledAt),
    startedAt: iso(t.startedAt),
    finishedAt: iso(t.finishedAt),
    spec: t.spec,
    placement: placementView(t.placement),
    gangId: t.gangId,
    gangIndex: t.gangIndex,
    vgpuId: t.spec.vgpuId ?? null,
  };
  if (t.array) v.array = t.array;
  if (t.after) v.after = t.after;
  if (t.reduce !== undefined) v.reduce = t.reduce;
  if (t.result !== undefined) v.result = t.result;
  return v;
}

export function attemptView(a: Attempt): AttemptView {
  return {
    attempt: a.attempt,
    nodeId: a.nodeId,
    node: a.placement.node,
    placement: placementView(a.placement),
    scheduledAt: iso(a.scheduledAt),
    startedAt: iso(a.startedAt),
    endedAt: iso(a.endedAt),
    outcome: a.outcome,
    exitCode: a.exitCode,
  };
}

export function taskDetailView(t: Task, attempts: readonly Attempt[]): TaskDetailView {
  const { attempts: n, ...rest } = taskView(t);
  return { ...rest, attempt: n, attempts: [...attempts].sort((a, b) => a.attempt - b.attempt).map(attemptView) };
}


export function nodeView(n: NodeRecord, active: readonly Task[], reservations: readonly VgpuReservation[]): NodeView {
  let cpu = 0;
  let mem = 0;
  let gpu = 0;
  for (const t of active) {
    if (!t.placement) continue;
    cpu += t.placement.cpuMilli;
    mem += t.placement.hostMemoryMiB;
    if (!t.placement.vgpuId) gpu += t.placement.gpuMilli * t.placement.gpus.length;
  }
  for (const r of reservations) if (r.state === 'ACTIVE' && r.placement?.nodeId === n.id) gpu += r.placement.gpuMilli * r.placement.gpus.length;
  return {
    id: n.id,
    name: n.name,
    state: n.state,
    drained: n.drained === true,
    cpuMilli: n.cpuMilli,
    memoryMiB: n.memoryMiB,
    labels: n.labels,
    gpus: n.gpus,
    simulated: n.simulated,
    agentVersion: n.agentVersion,
    registeredAt: iso(n.registeredAt),
    lastHeartbeatAt: iso(n.lastHeartbeatAt),
    allocated: { cpuMilli: cpu, memoryMiB: mem, gpuMilli: gpu },
    tasks: active.length,
    mps: n.mps
      ? { state: n.mps.state, ...(n.mps.detail !== undefined ? { detail: n.mps.detail } : {}), restarts: n.mps.restarts, lastOkAt: iso(n.mps.lastOkAt ?? null), reportedAt: iso(n.mps.reportedAt) }
      : null,
  };
}


/** Another tenant's slice: its amounts only, no id, name or tenant (they are empty strings). */
const hiddenSlice = (p: { gpuMilli: number; memoryMiB: number }): SliceView => ({ name: '', tenant: '', milli: p.gpuMilli, memoryMiB: p.memoryMiB });


export function gpuViews(
  n: NodeRecord,
  active: readonly Task[],
  reservations: readonly VgpuReservation[],
  util: (index: number) => number | undefined,
  /** Whether the viewer may see a tenant's slices in full; others show only their amounts. */
  shown: (tenant: string) => boolean = () => true,
): GpuView[] {
  return n.gpus.map((g) => {
    const slices: SliceView[] = [];
    let milli = 0;
    let mem = 0;
    for (const r of reservations) {
      const p = r.placement;
      if (r.state !== 'ACTIVE' || !p || p.nodeId !== n.id || !p.gpus.includes(g.index)) continue;
      slices.push(shown(r.tenant) ? { vgpuId: r.id, name: r.name, tenant: r.tenant, milli: p.gpuMilli, memoryMiB: p.memoryMiB } : hiddenSlice(p));
      milli += p.gpuMilli;
      mem += p.memoryMiB;
    }
    for (const t of active) {
      const p = t.placement;
      if (!p || p.nodeId !== n.id || !p.gpus.includes(g.index)) continue;
      const full = shown(t.spec.tenant);
      const s: SliceView = full ? { taskId: t.id, name: t.spec.name, tenant: t.spec.tenant, milli: p.gpuMilli, memoryMiB: p.memoryMiB } : hiddenSlice(p);
      if (p.vgpuId) {
        // Inside a vGPU: the reservation already counts it; an anonymous copy would count twice.
        if (!full) continue;
        s.vgpuId = p.vgpuId;
      } else {
        milli += p.gpuMilli;
        mem += p.memoryMiB;
      }
      slices.push(s);
    }
    const v: GpuView = {
      node: n.name,
      nodeId: n.id,
      nodeState: n.state,
      index: g.index,
      uuid: g.uuid,
      model: g.model,
      memoryMiB: g.memoryMiB,
      tflops: g.tflops,
      sharing: g.sharing,
      allocatedMilli: milli,
      allocatedMemoryMiB: mem,
      slices,
    };
    const u = util(g.index);
    if (u !== undefined) v.utilPercent = u;
    return v;
  });
}


export function vgpuView(r: VgpuReservation, liveTasks: Iterable<Task>): VgpuView {
  const tasks: Record<string, number> = {};
  for (const t of liveTasks) if (t.spec.vgpuId === r.id) tasks[t.state] = (tasks[t.state] ?? 0) + 1;
  return {
    id: r.id,
    name: r.name,
    tenant: r.tenant,
    state: r.state,
    reason: r.reason,
    request: r.request,
    placement: placementView(r.placement),
    createdAt: iso(r.createdAt),
    releasedAt: iso(r.releasedAt),
    tasks,
  };
}
