// Conformance for group accounting (store/groups.ts), registered by conformance.ts for every
// adapter: tasks map to their array (or map) and their sweep, a trial counts with its sweep, and
// a group's summary counts its elements by state (trials by trial state), with its name, tenant
// and size; unknown ids are left out and order follows the request.
import { describe, expect, it } from 'vitest';
import type { Task } from '../core/types.js';
import type { Store } from './port.js';

const T0 = 1_700_000_000_000;

type Fixture = (id: string, o: { createdAt?: number }) => Task;

export function groupConformance(store: () => Store, fixtureTask: Fixture): void {
  function element(arrayId: string, index: number, size: number, input?: string): Task {
    const t = fixtureTask(`${arrayId}-e${index}`, { createdAt: T0 + index });
    t.spec = { ...t.spec, name: `${arrayId}-job`, env: { ...t.spec.env, FASTGPU_ARRAY_ID: arrayId, ...(input !== undefined ? { FASTGPU_INPUT: input } : {}) } };
    t.array = { id: arrayId, index, size };
    return t;
  }

  describe('group accounting', () => {
    it('maps tasks to their array, map or sweep and summarises each group by state', async () => {
      const s = store();
      const arr = Array.from({ length: 5 }, (_, i) => element('a_grp', i, 5));
      arr[1] = { ...arr[1]!, state: 'SUCCEEDED', finishedAt: T0 + 50 };
      arr[2] = { ...arr[2]!, state: 'SUCCEEDED', finishedAt: T0 + 50 };
      arr[3] = { ...arr[3]!, state: 'FAILED', finishedAt: T0 + 50 };
      const map = Array.from({ length: 3 }, (_, i) => element('a_gmap', i, 3, JSON.stringify(i)));
      const plain = fixtureTask('g-plain', { createdAt: T0 });
      const trialTask = fixtureTask('g-trial', { createdAt: T0 });
      await s.insertTasks([...arr, ...map, plain, trialTask]);
      const sw = s.sweeps();
      await sw.insertSweep({ id: 'sw_grp', tenant: 'team-a', name: 'lr-search', state: 'RUNNING', createdAt: T0 + 7, finishedAt: null, input: {}, nextTrial: 3, message: null, version: 1 });
      await sw.insertSweep({ id: 'sw_empty', tenant: 'team-a', name: 'nothing-yet', state: 'RUNNING', createdAt: T0 + 8, finishedAt: null, input: {}, nextTrial: 0, message: null, version: 1 });
      const trial = (index: number, taskId: string, state: 'RUNNING' | 'PRUNED' | 'SUCCEEDED') => ({ sweepId: 'sw_grp', index, taskId, params: {}, state, createdAt: T0, finishedAt: null, message: null });
      await sw.putTrials([trial(0, 'g-trial', 'RUNNING'), trial(1, 'g-gone-1', 'PRUNED'), trial(2, 'g-gone-2', 'PRUNED')]);

      const groups = await s.groups().groupsOfTasks(['a_grp-e0', 'a_grp-e3', 'a_gmap-e2', 'g-plain', 'g-trial', 'g-unknown', 'a_grp-e0']);
      expect(Object.fromEntries(groups)).toEqual({
        'a_grp-e0': { kind: 'array', id: 'a_grp' },
        'a_grp-e3': { kind: 'array', id: 'a_grp' },
        'a_gmap-e2': { kind: 'map', id: 'a_gmap' },
        'g-trial': { kind: 'sweep', id: 'sw_grp' },
      });

      const sums = await s.groups().summarizeGroups(['sw_grp', 'a_none', 'a_gmap', 'a_grp', 'sw_empty', 'sw_none']);
      expect(sums.map((g) => g.id)).toEqual(['sw_grp', 'a_gmap', 'a_grp', 'sw_empty']);
      const [sweep, mapped, array, empty] = sums;
      expect(array).toEqual({ kind: 'array', id: 'a_grp', name: 'a_grp-job', tenant: arr[0]!.spec.tenant, createdAt: T0, size: 5, counts: { PENDING: 2, SUCCEEDED: 2, FAILED: 1 } });
      expect(mapped).toMatchObject({ kind: 'map', id: 'a_gmap', size: 3, counts: { PENDING: 3 } });
      expect(sweep).toEqual({ kind: 'sweep', id: 'sw_grp', name: 'lr-search', tenant: 'team-a', createdAt: T0 + 7, size: 3, counts: { RUNNING: 1, PRUNED: 2 } });
      expect(empty).toEqual({ kind: 'sweep', id: 'sw_empty', name: 'nothing-yet', tenant: 'team-a', createdAt: T0 + 8, size: 0, counts: {} });
    });

    it('answers for more ids than one query binds', async () => {
      const s = store();
      const big = Array.from({ length: 1_234 }, (_, i) => element('a_gbig', i, 1_234));
      await s.insertTasks(big);
      const groups = await s.groups().groupsOfTasks(big.map((t) => t.id));
      expect(groups.size).toBe(1_234);
      const ids = [...Array.from({ length: 700 }, (_, i) => `a_missing${i}`), 'a_gbig'];
      expect(await s.groups().summarizeGroups(ids)).toMatchObject([{ id: 'a_gbig', size: 1_234, counts: { PENDING: 1_234 } }]);
    });
  });
}
