// Conformance tests for sweeps, their trials and metric points, registered by storeConformance
// so every adapter runs them. Contract points: a conditional sweep write; trials upserted by
// (sweep, index) and found by task; metric points idempotent on (task, seq) and capped per task
// (duplicates do not use up the cap); reads by task then seq.
import { describe, expect, it } from 'vitest';
import type { Store } from './port.js';
import type { MetricRecord, SweepRecord, TrialRecord } from './sweeps.js';

const sweep = (id: string, over: Partial<SweepRecord> = {}): SweepRecord => ({
  id,
  tenant: 'default',
  name: 'lr',
  state: 'RUNNING',
  createdAt: 1_000,
  finishedAt: null,
  input: { command: 'train --lr {lr}', space: { lr: { loguniform: [1e-5, 0.1] } }, trials: 4, metric: 'loss' },
  nextTrial: 0,
  message: null,
  version: 1,
  ...over,
});

const trial = (sweepId: string, index: number, over: Partial<TrialRecord> = {}): TrialRecord => ({
  sweepId,
  index,
  taskId: `t_${sweepId}_${index}`,
  params: { lr: 0.01 * (index + 1), opt: 'adam', warm: true },
  state: 'PENDING',
  createdAt: 1_000 + index,
  finishedAt: null,
  message: null,
  ...over,
});

const point = (taskId: string, seq: number, loss = 1 / (seq + 1)): MetricRecord => ({ taskId, seq, at: 2_000 + seq, step: seq + 1, values: { loss, acc: 0.5 } });

export function sweepConformance(store: () => Store): void {
  describe('sweeps', () => {
    it('stores, lists and conditionally writes sweeps', async () => {
      const s = store().sweeps();
      await s.insertSweep(sweep('sw_a', { createdAt: 1 }));
      await s.insertSweep(sweep('sw_b', { createdAt: 2, tenant: 'other' }));
      await expect(s.insertSweep(sweep('sw_a'))).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await s.getSweep('sw_a')).toEqual(sweep('sw_a', { createdAt: 1 }));
      expect(await s.getSweep('nope')).toBeNull();
      expect((await s.listSweeps()).map((x) => x.id)).toEqual(['sw_b', 'sw_a']);
      expect((await s.listSweeps({ tenant: 'other' })).map((x) => x.id)).toEqual(['sw_b']);
      const done = sweep('sw_a', { createdAt: 1, state: 'SUCCEEDED', finishedAt: 9, nextTrial: 4, version: 2, message: 'all trials finished' });
      expect(await s.writeSweep(done, 1)).toBe(true);
      expect(await s.writeSweep({ ...done, version: 3 }, 1)).toBe(false);
      expect(await s.getSweep('sw_a')).toEqual(done);
      expect((await s.listSweeps({ live: true })).map((x) => x.id)).toEqual(['sw_b']);
    });

    it('upserts trials by (sweep, index) and finds them by task', async () => {
      const s = store().sweeps();
      await s.insertSweep(sweep('sw_t'));
      await s.putTrials([trial('sw_t', 1), trial('sw_t', 0)]);
      await s.putTrials([trial('sw_t', 1, { state: 'PRUNED', finishedAt: 5, message: 'median rule' })]);
      expect(await s.listTrials('sw_t')).toEqual([trial('sw_t', 0), trial('sw_t', 1, { state: 'PRUNED', finishedAt: 5, message: 'median rule' })]);
      expect(await s.trialOfTask('t_sw_t_0')).toEqual(trial('sw_t', 0));
      expect(await s.trialOfTask('t_none')).toBeNull();
      expect(await s.listTrials('sw_none')).toEqual([]);
    });

    it('keeps metric points once each, at most the cap per task, in order', async () => {
      const s = store().sweeps();
      expect(await s.appendMetrics([point('t1', 0), point('t1', 1), point('t2', 0)], 3)).toBe(3);
      // A re-sent point is ignored and does not use up the cap.
      expect(await s.appendMetrics([point('t1', 1), point('t1', 2), point('t1', 3), point('t1', 4)], 3)).toBe(1);
      expect(await s.countMetrics('t1')).toBe(3);
      expect(await s.countMetrics('t9')).toBe(0);
      expect(await s.listMetrics(['t2', 't1'])).toEqual([point('t1', 0), point('t1', 1), point('t1', 2), point('t2', 0)]);
      expect(await s.listMetrics(['t1'], 1)).toEqual([point('t1', 2)]);
      expect(await s.listMetrics([])).toEqual([]);
      expect(await s.appendMetrics([], 3)).toBe(0);
    });

    it('keeps fractional steps and values exactly', async () => {
      const s = store().sweeps();
      const p: MetricRecord = { taskId: 'tf', seq: 0, at: 1_700_000_000_123, step: 2.5, values: { loss: 0.1 + 0.2, big: 1e300, neg: -3.25 } };
      await s.appendMetrics([p], 10);
      expect(await s.listMetrics(['tf'])).toEqual([p]);
    });
  });
}
