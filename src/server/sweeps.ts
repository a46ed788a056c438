// The sweep controller (issue 14 item 4): turns a sweep into trials, each an ordinary task
// tagged with its sweep and trial number (the store's sweep_trials), and keeps the sweep moving
// on task events and reported metrics, never on a sleep:
// - keeps `max_concurrent` trials live, submitting the next one the moment one ends or is
//   stopped, so its task already waits when the stopped trial's slice is freed and the very
//   next scheduling cycle places it;
// - early stopping (core/sweep/stopping.ts) on every batch of metrics;
// - the cost cap: trials' charged cost from the ledger, checked on every step and on a clock
//   interval after a settlement; at the cap it stops every live trial and starts no more.
// Writes come first (trial rows, the sweep's next index), then the task submit, so a crash in
// between leaves a trial whose task is missing, which the next step submits again.
import { conflict, invalid, notFound } from '../core/errors.js';
import type { Params } from '../core/sweep/types.js';
import type { Micros } from '../core/pricing/money.js';
import { bestUpTo, checkAskedParams, decideStops, gridPoints, objectiveSeries, parseSweepSpec, sampleTrial, trialSpec } from '../core/sweep/index.js';
import { FINAL_TRIAL_STATES, type MetricPoint, type SweepSpec, type TrialState } from '../core/sweep/types.js';
import { MAX_POINTS_PER_TASK, metricSeq } from '../core/sweep/metrics.js';
import type { Clock, PoolEvent, Task, TaskState } from '../core/types.js';
import { newPendingTask } from '../core/state.js';
import type { ShippedMetric } from '../protocol/metrics.js';
import type { Store } from '../store/port.js';
import type { MetricRecord, SweepRecord, TrialRecord } from '../store/sweeps.js';
import { timerClock, type Timer } from '../util/clock.js';
import type { ControlPlane } from './control.js';
import { newId, randomBase32 } from './ids.js';
import { specContextFor, specContextFrom } from './time-limits.js';

export interface SweepControllerOptions {
  store: Store;
  control: ControlPlane;
  clock: Clock;
  log?: (line: string) => void;
  /** Clock ms between cost-cap checks of running sweeps (after a ledger settlement). Default 10 s. */
  costCheckEveryMs?: number;
  defaultTimeLimitMs?: number;
}

export interface TrialView extends TrialRecord {
  taskState: TaskState | null;
  /** The slice it holds or held: milli-GPU and GPU memory on each GPU, where. */
  slice: { gpuMilli: number; memoryMiB: number; node: string; gpus: number[] } | null;
  cost: Micros;
  /** Best objective value so far and its step; null before the first report. */
  best: { value: number; step: number } | null;
  lastStep: number | null;
  points: number;
}

export interface SweepView {
  sweep: SweepRecord;
  spec: SweepSpec;
  trials: TrialView[];
  cost: Micros;
  best: (TrialView & { best: { value: number; step: number } }) | null;
  counts: Partial<Record<TrialState, number>>;
}

/** Each control plane's sweep controller (tests and tools reach it through the control plane). */
const controllers = new WeakMap<ControlPlane, SweepController>();
export const sweepControllerOf = (control: ControlPlane): SweepController | undefined => controllers.get(control);

const isFinal = (s: TrialState): boolean => FINAL_TRIAL_STATES.includes(s);

/** A trial's state from its task's. */
function fromTask(t: Task): TrialState {
  switch (t.state) {
    case 'RUNNING':
      return 'RUNNING';
    case 'SUCCEEDED':
      return 'SUCCEEDED';
    case 'CANCELLED':
      return 'CANCELLED';
    case 'FAILED':
    case 'TIMEOUT':
      return 'FAILED';
    default:
      return 'PENDING';
  }
}

export class SweepController {
  private readonly store: Store;
  private readonly control: ControlPlane;
  private readonly log: (line: string) => void;
  private readonly specs = new Map<string, SweepSpec>();
  private readonly taskToSweep = new Map<string, string>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly queued = new Set<string>();
  private unsubscribe: (() => void) | null = null;
  private timer: Timer | null = null;
  private closed = false;

  constructor(private readonly o: SweepControllerOptions) {
    this.store = o.store;
    this.control = o.control;
    this.log = o.log ?? (() => {});
    controllers.set(o.control, this);
  }

  /** Follows task events, and picks up the sweeps a previous server left running. */
  async start(): Promise<void> {
    this.unsubscribe = this.control.subscribe((e) => this.onEvent(e));
    for (const s of await this.store.sweeps().listSweeps({ live: true })) {
      for (const t of await this.store.sweeps().listTrials(s.id)) this.taskToSweep.set(t.taskId, s.id);
      this.queue(s.id);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    this.timer?.clear();
    await this.idle();
  }

  /** Resolves when no step is running or queued (tests). */
  async idle(): Promise<void> {
    for (;;) {
      const pending = [...this.chains.values()];
      await Promise.all(pending);
      if ([...this.chains.values()].every((p, i) => p === pending[i]) && this.chains.size === pending.length) return;
    }
  }

  private onEvent(e: PoolEvent): void {
    if (e.taskId === undefined) return;
    const id = this.taskToSweep.get(e.taskId);
    if (id !== undefined && (e.type === 'task.started' || e.type === 'task.finished' || e.type === 'task.cancelled' || e.type === 'task.requeued')) this.queue(id);
  }

  /**
   * Arms the next cost check, only while some live sweep has a cost cap: a timer that is not
   * needed never fires (a test that moves its clock a thousand years on is not stuck in it).
   */
  private armCostCheck(): void {
    if (this.closed || this.timer !== null || ![...this.specs.values()].some((s) => s.costCap !== null)) return;
    this.timer = timerClock(this.o.clock)
      .timeout(() => {
        this.timer = null;
        void this.checkCosts().finally(() => this.armCostCheck());
      }, this.o.costCheckEveryMs ?? 10_000)
      .unref();
  }

  private async checkCosts(): Promise<void> {
    if (this.closed) return;
    const capped = [...this.specs].filter(([, s]) => s.costCap !== null).map(([id]) => id);
    if (capped.length === 0) return;
    try {
      await this.control.billing.settleNow();
    } catch (e) {
      this.log(`error: sweep cost check: ${String(e)}`);
    }
    for (const id of capped) this.queue(id);
  }

  /** Queues one step of a sweep; steps of one sweep run one at a time, and a burst makes one step. */
  private queue(id: string): void {
    if (this.closed || this.queued.has(id)) return;
    this.queued.add(id);
    const prev = this.chains.get(id) ?? Promise.resolve();
    const next = prev.then(async () => {
      this.queued.delete(id);
      try {
        await this.step(id);
      } catch (e) {
        this.log(`error: sweep ${id}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    });
    this.chains.set(id, next);
    void next.then(() => {
      if (this.chains.get(id) === next) this.chains.delete(id);
    });
  }

  private specOf(s: SweepRecord): SweepSpec {
    let spec = this.specs.get(s.id);
    if (!spec) {
      spec = parseSweepSpec(s.input, specContextFrom(this.o.control.tenants, s.tenant, this.o.defaultTimeLimitMs));
      this.specs.set(s.id, spec);
      this.armCostCheck();
    }
    return spec;
  }

  /**
   * Validates and starts a sweep; its first trials are submitted before this answers.
   * @example await sweeps.create({command: 'python train.py --lr {lr}', space: {lr: {loguniform: [1e-5, 0.1]}}, trials: 32, gpu: 0.25, metric: 'loss'}, 'default')
   */
  async create(input: unknown, tenant: string): Promise<SweepRecord> {
    const spec = parseSweepSpec(input, await specContextFor(this.o.control.tenantCache, tenant, this.o.defaultTimeLimitMs));
    const rec: SweepRecord = {
      id: `sw_${randomBase32(10)}`,
      tenant,
      name: spec.name,
      state: 'RUNNING',
      createdAt: this.o.clock.now(),
      finishedAt: null,
      input,
      nextTrial: 0,
      message: null,
      version: 1,
    };
    await this.store.sweeps().insertSweep(rec);
    this.specs.set(rec.id, spec);
    this.armCostCheck();
    this.queue(rec.id);
    await this.chains.get(rec.id);
    return (await this.store.sweeps().getSweep(rec.id)) ?? rec;
  }

  /** Stops every live trial and starts no more. */
  async cancel(id: string): Promise<SweepRecord> {
    const s = await this.store.sweeps().getSweep(id);
    if (!s) throw notFound('sweep', id);
    if (s.state !== 'RUNNING') throw conflict(`sweep ${id} already ended (${s.state})`);
    const next: SweepRecord = { ...s, state: 'CANCELLED', finishedAt: this.o.clock.now(), message: 'cancelled', version: s.version + 1 };
    if (!(await this.store.sweeps().writeSweep(next, s.version))) throw conflict(`sweep ${id} changed meanwhile; try again`);
    this.queue(id);
    await this.chains.get(id);
    return next;
  }

  /**
   * Metric points an agent shipped. Points of a task that does not run on `nodeId` (a stale
   * attempt) are ignored. Any task may report; a trial's points drive its sweep's stopping rule.
   */
  async ingest(nodeId: string, points: readonly ShippedMetric[]): Promise<number> {
    const records: MetricRecord[] = [];
    const sweeps = new Set<string>();
    const ok = new Map<string, boolean>();
    for (const p of points) {
      const key = `${p.taskId}/${p.attempt}`;
      if (!ok.has(key)) {
        const t = await this.control.getTask(p.taskId);
        ok.set(key, t !== null && t.attempts === p.attempt && t.placement?.nodeId === nodeId);
      }
      if (!ok.get(key)) continue;
      records.push({ taskId: p.taskId, seq: metricSeq(p.attempt, p.index), at: p.at, step: p.step, values: p.values });
      const sw = this.taskToSweep.get(p.taskId);
      if (sw !== undefined) sweeps.add(sw);
    }
    const stored = await this.store.sweeps().appendMetrics(records, MAX_POINTS_PER_TASK);
    for (const id of sweeps) this.queue(id);
    return stored;
  }

  private async taskOf(id: string): Promise<Task | null> {
    return this.control.getTask(id);
  }

  private async costOf(taskIds: readonly string[]): Promise<Map<string, Micros>> {
    const out = new Map<string, Micros>();
    await Promise.all(
      taskIds.map(async (id) => {
        let sum = 0n;
        for (const l of await this.store.listPricedUsage({ taskId: id })) sum += l.chargedAmount;
        out.set(id, sum);
      }),
    );
    return out;
  }

  /** One step: sync trials with their tasks, the cost cap, early stopping, new trials, the end. */
  private async step(id: string): Promise<void> {
    const sw = this.store.sweeps();
    let rec = await sw.getSweep(id);
    if (!rec) return;
    const spec = this.specOf(rec);
    const now = this.o.clock.now();
    const trials = await sw.listTrials(id);
    const changed = new Map<number, TrialRecord>();
    const put = (t: TrialRecord): void => {
      trials[trials.findIndex((x) => x.index === t.index)] = t;
      changed.set(t.index, t);
    };
    const submit: Task[] = [];
    const toCancel: string[] = [];

    for (const t of trials) {
      this.taskToSweep.set(t.taskId, id);
      if (isFinal(t.state)) continue;
      const task = await this.taskOf(t.taskId);
      if (!task) {
        // Written but never submitted (a crash in between): submit it now.
        submit.push(this.newTask(t.taskId, trialSpec(spec.template, id, t.index, t.params), now));
        continue;
      }
      const state = fromTask(task);
      if (state !== t.state) put({ ...t, state, ...(isFinal(state) ? { finishedAt: task.finishedAt ?? now, message: task.reasonMessage } : {}) });
    }

    const stopAll = (state: TrialState, message: string): void => {
      for (const t of trials) {
        if (isFinal(t.state)) continue;
        put({ ...t, state, finishedAt: now, message });
        toCancel.push(t.taskId);
      }
    };

    let next: SweepRecord = rec;
    if (rec.state !== 'RUNNING') {
      stopAll('CANCELLED', rec.message ?? 'sweep ended');
    } else {
      const costs = spec.costCap !== null ? await this.costOf(trials.map((t) => t.taskId)) : new Map<string, Micros>();
      let cost = 0n;
      for (const c of costs.values()) cost += c;
      if (spec.costCap !== null && cost >= spec.costCap) {
        stopAll('CANCELLED', 'the sweep reached its cost cap');
        next = { ...rec, state: 'CAPPED', finishedAt: now, message: `stopped at the cost cap: spent ${cost} of ${spec.costCap} micro-units`, version: rec.version + 1 };
      } else {
        const metrics = await sw.listMetrics(trials.map((t) => t.taskId));
        const byTask = new Map<string, MetricPoint[]>();
        for (const m of metrics) byTask.set(m.taskId, [...(byTask.get(m.taskId) ?? []), m]);
        const progress = trials.map((t) => ({ id: t.taskId, state: t.state, points: objectiveSeries(byTask.get(t.taskId) ?? [], spec.objective.metric) }));
        // backend optuna: the driver prunes (pruneTrial) and asks for trials (addTrial).
        const external = spec.backend === 'optuna';
        for (const taskId of external ? [] : decideStops(spec.earlyStopping, spec.objective.goal, progress)) {
          const t = trials.find((x) => x.taskId === taskId)!;
          put({ ...t, state: 'PRUNED', finishedAt: now, message: `stopped early (${spec.earlyStopping.kind} rule)` });
          toCancel.push(taskId);
        }
        let live = trials.filter((t) => !isFinal(t.state)).length;
        let nextTrial = rec.nextTrial;
        const grid = gridPoints(spec.space);
        while (!external && live < spec.maxConcurrent && nextTrial < spec.trials) {
          const params = sampleTrial(spec.space, spec.seed, nextTrial, grid);
          const taskId = newId('t');
          const t: TrialRecord = { sweepId: id, index: nextTrial, taskId, params, state: 'PENDING', createdAt: now, finishedAt: null, message: null };
          trials.push(t);
          changed.set(t.index, t);
          submit.push(this.newTask(taskId, trialSpec(spec.template, id, nextTrial, params), now));
          this.taskToSweep.set(taskId, id);
          nextTrial++;
          live++;
        }
        if (nextTrial !== rec.nextTrial) next = { ...rec, nextTrial, version: rec.version + 1 };
        if (nextTrial >= spec.trials && trials.every((t) => isFinal(t.state))) {
          const ok = trials.some((t) => t.state === 'SUCCEEDED' || t.state === 'PRUNED');
          next = { ...next, state: ok ? 'SUCCEEDED' : 'FAILED', finishedAt: now, message: ok ? 'every trial ended' : 'no trial succeeded', version: rec.version + 1 };
        }
      }
    }

    if (changed.size > 0) await sw.putTrials([...changed.values()]);
    if (next !== rec) {
      if (!(await sw.writeSweep(next, rec.version))) {
        // Cancelled meanwhile: the next step sees it.
        this.queue(id);
        return;
      }
      rec = next;
    }
    if (submit.length > 0) await this.control.submit(submit);
    for (const taskId of toCancel) {
      try {
        await this.control.cancel(taskId);
      } catch (e) {
        // Already finished: nothing to stop.
        if (!(e instanceof Error && 'code' in e && (e as { code: string }).code === 'CONFLICT')) throw e;
      }
    }
    if (rec.state !== 'RUNNING') this.specs.delete(id);
  }

  /** Runs `fn` in the sweep's chain, after its queued steps, and then a step. */
  private serialized<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(id) ?? Promise.resolve();
    const out = prev.then(fn);
    const next = out.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(id, next);
    void next.then(() => {
      if (this.chains.get(id) === next) this.chains.delete(id);
      this.queue(id);
    });
    return out;
  }

  private async liveOptuna(id: string): Promise<{ rec: SweepRecord; spec: SweepSpec; trials: TrialRecord[] }> {
    const sw = this.store.sweeps();
    const rec = await sw.getSweep(id);
    if (!rec) throw notFound('sweep', id);
    const spec = this.specOf(rec);
    if (spec.backend !== 'optuna') throw invalid('backend', `sweep ${id} samples its own trials (backend native); only a backend: optuna sweep takes trials from its driver`);
    if (rec.state !== 'RUNNING') throw conflict(`sweep ${id} already ended (${rec.state})`);
    return { rec, spec, trials: await sw.listTrials(id) };
  }

  /**
   * backend optuna: the driver asked its sampler for a trial with these parameters; run it.
   * Refused (CONFLICT) when `max_concurrent` trials are live or every trial was made.
   */
  addTrial(id: string, rawParams: unknown): Promise<TrialRecord> {
    return this.serialized(id, async () => {
      const { rec, spec, trials } = await this.liveOptuna(id);
      const params: Params = checkAskedParams(rawParams, spec.space);
      const live = trials.filter((t) => !isFinal(t.state)).length;
      if (rec.nextTrial >= spec.trials) throw conflict(`sweep ${id} has made all its ${spec.trials} trials`);
      if (live >= spec.maxConcurrent) throw conflict(`sweep ${id} has ${live} live trials, its max_concurrent; ask for the next when one ends`);
      const now = this.o.clock.now();
      const taskId = newId('t');
      const t: TrialRecord = { sweepId: id, index: rec.nextTrial, taskId, params, state: 'PENDING', createdAt: now, finishedAt: null, message: null };
      const sw = this.store.sweeps();
      await sw.putTrials([t]);
      if (!(await sw.writeSweep({ ...rec, nextTrial: rec.nextTrial + 1, version: rec.version + 1 }, rec.version))) throw conflict(`sweep ${id} changed meanwhile; try again`);
      this.taskToSweep.set(taskId, id);
      await this.control.submit([this.newTask(taskId, trialSpec(spec.template, id, t.index, params), now)]);
      return t;
    });
  }

  /** backend optuna: the driver's pruner stopped trial `index`; its slice is freed at once. */
  pruneTrial(id: string, index: number): Promise<TrialRecord> {
    return this.serialized(id, async () => {
      const { trials } = await this.liveOptuna(id);
      const t = trials.find((x) => x.index === index);
      if (!t) throw notFound('trial', `${id}/${index}`);
      if (isFinal(t.state)) throw conflict(`trial ${index} of sweep ${id} already ended (${t.state})`);
      const pruned: TrialRecord = { ...t, state: 'PRUNED', finishedAt: this.o.clock.now(), message: 'stopped early (the Optuna pruner)' };
      await this.store.sweeps().putTrials([pruned]);
      try {
        await this.control.cancel(t.taskId);
      } catch (e) {
        if (!(e instanceof Error && 'code' in e && (e as { code: string }).code === 'CONFLICT')) throw e;
      }
      return pruned;
    });
  }

  private newTask(id: string, spec: Task['spec'], now: number): Task {
    return newPendingTask(id, spec, now);
  }

  /** Everything the status page shows: trials with state, slice, cost, best and point counts. */
  async view(id: string): Promise<SweepView> {
    const sw = this.store.sweeps();
    const rec = await sw.getSweep(id);
    if (!rec) throw notFound('sweep', id);
    const spec = this.specs.get(id) ?? parseSweepSpec(rec.input, { tenant: rec.tenant });
    const trials = await sw.listTrials(id);
    const ids = trials.map((t) => t.taskId);
    const [metrics, costs] = await Promise.all([sw.listMetrics(ids), this.costOf(ids)]);
    const byTask = new Map<string, MetricPoint[]>();
    for (const m of metrics) byTask.set(m.taskId, [...(byTask.get(m.taskId) ?? []), m]);
    const views: TrialView[] = [];
    let total = 0n;
    const counts: Partial<Record<TrialState, number>> = {};
    for (const t of trials) {
      const task = await this.taskOf(t.taskId);
      const points = byTask.get(t.taskId) ?? [];
      const series = objectiveSeries(points, spec.objective.metric);
      const bestValue = bestUpTo(series, Infinity, spec.objective.goal);
      const bestStep = bestValue === undefined ? null : series.find((p) => p.value === bestValue)!.step;
      const cost = costs.get(t.taskId) ?? 0n;
      total += cost;
      counts[t.state] = (counts[t.state] ?? 0) + 1;
      const p = task?.placement;
      views.push({
        ...t,
        taskState: task?.state ?? null,
        slice: p ? { gpuMilli: p.gpuMilli, memoryMiB: p.memoryMiB, node: p.node, gpus: p.gpus } : null,
        cost,
        best: bestValue === undefined || bestStep === null ? null : { value: bestValue, step: bestStep },
        lastStep: series.length > 0 ? series[series.length - 1]!.step : null,
        points: points.length,
      });
    }
    let best: SweepView['best'] = null;
    for (const v of views) {
      if (!v.best) continue;
      if (!best || (spec.objective.goal === 'minimize' ? v.best.value < best.best.value : v.best.value > best.best.value)) best = v as SweepView['best'];
    }
    return { sweep: rec, spec, trials: views, cost: total, best, counts };
  }
}
