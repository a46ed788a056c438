// Prometheus metrics. One registry per app (so tests can run several). Gauges read the live
// state when scraped; finished-task counts come from the store.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TERMINAL_STATES, type TaskState } from '../core/types.js';
import type { Store } from '../store/port.js';
import type { ControlPlane } from './control.js';

const LIVE: TaskState[] = ['PENDING', 'SCHEDULED', 'RUNNING'];

export function createMetrics(control: ControlPlane, store: Store): Registry {
  const registry = new Registry();

  new Gauge({
    name: 'fastgpu_tasks',
    help: 'Tasks by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      const { byState } = control.counts();
      for (const s of LIVE) this.set({ state: s }, byState.get(s) ?? 0);
      for (const s of TERMINAL_STATES) this.set({ state: s }, await store.countTasks({ states: [s] }));
    },
  });

  new Gauge({
    name: 'fastgpu_pending_tasks',
    help: 'Pending tasks by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of control.counts().pendingByReason) this.set({ reason }, n);
    },
  });

  new Gauge({
    name: 'fastgpu_nodes',
    help: 'Nodes by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      const by: Record<string, number> = { READY: 0, DRAINING: 0, LOST: 0 };
      for (const n of control.nodes.values()) by[n.state] = (by[n.state] ?? 0) + 1;
      for (const [state, n] of Object.entries(by)) this.set({ state }, n);
    },
  });

  new Gauge({
    name: 'fastgpu_gpus',
    help: 'GPUs on nodes that are not lost, by model',
    labelNames: ['model'],
    registers: [registry],
    collect() {
      this.reset();
      for (const n of control.nodes.values()) {
        if (n.state === 'LOST') continue;
        for (const g of n.gpus) this.inc({ model: g.model });
      }
    },
  });

  new Gauge({
    name: 'fastgpu_gpu_allocated_milli',
    help: 'Milli-GPUs allocated to tasks and vGPU reservations',
    registers: [registry],
    collect() {
      let milli = 0;
      for (const t of control.tasks.values()) {
        const p = t.placement;
        if ((t.state === 'SCHEDULED' || t.state === 'RUNNING') && p && !p.vgpuId) milli += p.gpuMilli * p.gpus.length;
      }
      for (const r of control.reservations.values()) {
        if (r.state === 'ACTIVE' && r.placement) milli += r.placement.gpuMilli * r.placement.gpus.length;
      }
      this.set(milli);
    },
  });

  const cycle = new Histogram({
    name: 'fastgpu_scheduler_cycle_seconds',
    help: 'Duration of one scheduling cycle',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const submitted = new Counter({ name: 'fastgpu_tasks_submitted_total', help: 'Tasks submitted', registers: [registry] });
  control.hooks = {
    cycle: (seconds) => cycle.observe(seconds),
    submitted: (n) => submitted.inc(n),
  };
  return registry;
}
