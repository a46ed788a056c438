// Simulated trials for sweep tests and the sweep benchmark: a fake agent that starts what it is
// assigned, obeys stop orders, reports one metric step per round and ends a trial at `maxStep`;
// it counts scheduling cycles, to measure how soon a freed slice is used again.
import type { PoolEvent } from '../core/types.js';
import { sweepControllerOf } from './sweeps.js';
import type { FakeAgent, Harness } from './testing.js';

/** The simulated training curve: best near lr = 10^-2.5, better with every step. */
export const lossOf = (lr: number, step: number): number => Math.abs(Math.log10(lr) + 2.5) + 1 / step;

/** Drives fake-agent trials round by round: one round is one minute of clock and one reported step. */
export class Sim {
  /** taskId#attempt → steps reported so far. */
  readonly steps = new Map<string, number>();
  maxRunning = 0;
  cycles = 0;
  readonly scheduledAtCycle = new Map<string, number>();
  readonly exitAtCycle = new Map<string, number>();

  constructor(
    readonly h: Harness,
    readonly agent: FakeAgent,
    readonly params: Map<string, number>,
    readonly maxStep: number,
  ) {
    const control = h.server.control;
    const run = control.runCycle.bind(control);
    // Counts scheduling cycles, to measure in cycles how soon a freed slice is used again.
    control.runCycle = async () => {
      this.cycles++;
      return run();
    };
    control.subscribe((e: PoolEvent) => {
      if (e.type === 'task.scheduled' && e.taskId !== undefined) this.scheduledAtCycle.set(e.taskId, this.cycles);
      // When the server learns a trial ended (its slice is free): the next cycle to start may use it.
      if (e.type === 'task.finished' && e.taskId !== undefined) this.exitAtCycle.set(e.taskId, this.cycles);
    });
  }

  async settle(): Promise<void> {
    for (let i = 0; i < 5; i++) {
      await this.h.server.control.settle();
      await sweepControllerOf(this.h.server.control)!.idle();
    }
  }

  /** One round: obey stops, start assignments, report a step for each running trial, finish the done. */
  async round(): Promise<void> {
    const r = await this.agent.poll();
    for (const s of r.stop) {
      if (!this.agent.running.has(`${s.taskId}#${s.attempt}`)) continue;
      this.agent.stopped(s.taskId, s.attempt);
      await this.agent.send([this.agent.exited.get(`${s.taskId}#${s.attempt}`)!]);
    }
    await this.settle();
    await this.agent.pollAndStart();
    await this.settle();
    this.maxRunning = Math.max(this.maxRunning, this.agent.running.size);
    this.h.clock.advance(60_000);
    const points = [];
    const done: [string, number][] = [];
    for (const key of this.agent.running.keys()) {
      const [taskId, attempt] = key.split('#') as [string, string];
      const step = (this.steps.get(key) ?? 0) + 1;
      this.steps.set(key, step);
      const lr = this.params.get(taskId);
      if (lr === undefined) continue;
      points.push({ taskId, attempt: Number(attempt), index: step - 1, at: this.h.clock.now(), step, values: { loss: lossOf(lr, step) } });
      if (step >= this.maxStep) done.push([taskId, Number(attempt)]);
    }
    const res = await this.h.req('POST', '/v1/agent/metrics', { nodeId: this.agent.nodeId, points }, this.agent.headers());
    if (res.status !== 200) throw new Error(`metrics: ${res.status} ${res.raw}`);
    await this.settle();
    for (const [taskId, attempt] of done) {
      if (!this.agent.running.has(`${taskId}#${attempt}`)) continue;
      await this.agent.exit(taskId, attempt, 0);
    }
    await this.settle();
  }

  /**
   * For each trial placed after the first `initial` (those the empty pool took), the cycles from
   * the last trial end before its placement to its placement: 1 means the very next cycle.
   */
  reuseWaits(trials: readonly { taskId: string; index: number }[], initial: number): number[] {
    const ends = [...this.exitAtCycle.values()].sort((a, b) => a - b);
    const waits: number[] = [];
    for (const t of trials) {
      const at = this.scheduledAtCycle.get(t.taskId);
      if (at === undefined || t.index < initial) continue;
      const freedBy = ends.filter((e) => e < at).pop();
      if (freedBy !== undefined) waits.push(at - freedBy);
    }
    return waits;
  }
}
