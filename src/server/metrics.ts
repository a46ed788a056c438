// Prometheus metrics. One registry per app (so tests can run several). Gauges read the live
// state when scraped; finished-task counts come from the store.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { moneyToNumber } from '../core/pricing/money.js';
import { promotionStatus } from '../core/pricing/price.js';
import { borrowedTasks } from '../core/scheduler/tenancy.js';
import { tenantUsage } from '../core/tenancy/usage.js';
import { TERMINAL_STATES, type Task, type TaskState } from '../core/types.js';
import type { Store } from '../store/port.js';
import type { ControlPlane } from './control.js';
import { registerDataMetrics } from './datasets-metrics.js';

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

  // Measured utilisation as the agents last reported it, per GPU: what Prometheus recording
  // rules roll up for pool history (docs/samples.md).
  new Gauge({
    name: 'fastgpu_gpu_utilisation_percent',
    help: 'Measured GPU utilisation, 0..100, as last reported by the node agent',
    labelNames: ['node', 'gpu', 'model'],
    registers: [registry],
    collect() {
      this.reset();
      for (const n of control.nodes.values()) {
        if (n.state === 'LOST') continue;
        for (const g of n.gpus) {
          const u = control.utilOf(n.id, g.index);
          if (u !== undefined) this.set({ node: n.name ?? n.id, gpu: String(g.index), model: g.model }, u);
        }
      }
    },
  });

  tenancyMetrics(registry, control);

  const cycle = new Histogram({
    name: 'fastgpu_scheduler_cycle_seconds',
    help: 'Duration of one scheduling cycle',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const submitted = new Counter({ name: 'fastgpu_tasks_submitted_total', help: 'Tasks submitted', registers: [registry] });
  const preempted = new Counter({ name: 'fastgpu_preemptions_total', help: 'Running tasks ordered to stop to make room for a waiting one, by the victim’s tenant', labelNames: ['tenant'], registers: [registry] });
  control.hooks = {
    cycle: (seconds) => cycle.observe(seconds),
    submitted: (n) => submitted.inc(n),
    preempted: (tenant) => preempted.inc({ tenant }),
  };
  registerDataMetrics(registry, () => control.nodes.values());
  return registry;
}

const activeTasks = (control: ControlPlane): Task[] => [...control.tasks.values()].filter((t) => t.state === 'SCHEDULED' || t.state === 'RUNNING');

/** Quota use, borrowed capacity, spend and promotions (issue 4), read from the live state when scraped. */
function tenancyMetrics(registry: Registry, control: ControlPlane): void {
  new Gauge({
    name: 'fastgpu_tenant_gpu_milli',
    help: 'Milli-GPUs a tenant holds (tasks and vGPU reservations)',
    labelNames: ['tenant'],
    registers: [registry],
    collect() {
      this.reset();
      const usage = tenantUsage(activeTasks(control), [...control.reservations.values()]);
      for (const name of new Set([...control.tenants.keys(), ...usage.keys()])) this.set({ tenant: name }, usage.get(name)?.gpuMilli ?? 0);
    },
  });
  new Gauge({
    name: 'fastgpu_tenant_guarantee_milli',
    help: 'Milli-GPUs a tenant is guaranteed',
    labelNames: ['tenant'],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of control.tenants.values()) this.set({ tenant: t.name }, t.guaranteeMilli);
    },
  });
  new Gauge({
    name: 'fastgpu_tenant_limit_milli',
    help: 'Milli-GPUs a tenant may never exceed (tenants with a limit)',
    labelNames: ['tenant'],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of control.tenants.values()) if (t.limitMilli !== null) this.set({ tenant: t.name }, t.limitMilli);
    },
  });
  new Gauge({
    name: 'fastgpu_tenant_borrowed_milli',
    help: 'Milli-GPUs a tenant holds above its guarantee, on capacity others are guaranteed (preemptible)',
    labelNames: ['tenant'],
    registers: [registry],
    collect() {
      this.reset();
      const active = activeTasks(control);
      const borrowed = borrowedTasks(active, [...control.tenants.values()]);
      const by = new Map<string, number>([...control.tenants.keys()].map((n) => [n, 0]));
      for (const t of active) if (borrowed.has(t.id) && t.placement) by.set(t.spec.tenant, (by.get(t.spec.tenant) ?? 0) + t.placement.gpuMilli * t.placement.gpus.length);
      for (const [tenant, milli] of by) this.set({ tenant }, milli);
    },
  });
  new Gauge({
    name: 'fastgpu_tenant_spend',
    help: 'Amount charged to a tenant in the current budget period (all time unless one is set), in the price book currency (settled usage)',
    labelNames: ['tenant'],
    registers: [registry],
    collect() {
      this.reset();
      const spend = control.billing.spend();
      for (const name of new Set([...control.tenants.keys(), ...spend.keys()])) this.set({ tenant: name }, moneyToNumber(spend.get(name) ?? 0n));
    },
  });
  new Gauge({
    name: 'fastgpu_tenant_budget',
    help: 'Spend a tenant is allowed (tenants with a budget)',
    labelNames: ['tenant'],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of control.tenants.values()) if (t.budget !== null) this.set({ tenant: t.name }, moneyToNumber(t.budget));
    },
  });
  new Gauge({
    name: 'fastgpu_promotions_active',
    help: 'Promotions applying now (in their window and daily hours, budget left)',
    registers: [registry],
    collect() {
      const { promos, promoSpent } = control.billing.pricing;
      const now = control.clock.now();
      this.set(promos.filter((p) => promotionStatus(p, now, promoSpent) === 'active').length);
    },
  });
  new Gauge({
    name: 'fastgpu_promotion_active',
    help: '1 while the promotion applies, else 0 (promotions not yet ended)',
    labelNames: ['promotion'],
    registers: [registry],
    collect() {
      this.reset();
      const { promos, promoSpent } = control.billing.pricing;
      const now = control.clock.now();
      for (const p of promos) {
        const st = promotionStatus(p, now, promoSpent);
        if (st !== 'ended') this.set({ promotion: p.name }, st === 'active' ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'fastgpu_promotion_discount_given',
    help: 'Discount a promotion has given so far, in the price book currency',
    labelNames: ['promotion'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [name, spent] of control.billing.pricing.promoSpent) this.set({ promotion: name }, moneyToNumber(BigInt(spent)));
    },
  });
}
