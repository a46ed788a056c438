// Conformance for task arrays (issue 14), registered by conformance.ts for every adapter: an
// array of 10,000 elements goes in with one insertTasks (one transaction, all or nothing), its
// elements come back by array id, and an element's array place, dependencies and result
// round-trip.
import { expect, it, describe } from 'vitest';
import type { Task } from '../core/types.js';
import type { Store } from './port.js';

const T0 = 1_700_000_000_000;

type Fixture = (id: string, o: { createdAt?: number }) => Task;

export function arrayConformance(store: () => Store, fixtureTask: Fixture): void {
  function element(arrayId: string, index: number, size: number): Task {
  const t = fixtureTask(`${arrayId}-t${index}`, { createdAt: T0 });
  t.array = { id: arrayId, index, size, max: 8 };
  t.spec.env = { ...t.spec.env, FASTGPU_ARRAY_ID: arrayId, FASTGPU_ARRAY_INDEX: String(index), FASTGPU_ARRAY_SIZE: String(size) };
  return t;
  }

  describe('task arrays', () => {
    it('stores 10,000 elements in one insertTasks and lists them by array id', async () => {
      const s = store();
      const big = Array.from({ length: 10_000 }, (_, i) => element('a_big', i, 10_000));
      const other = Array.from({ length: 3 }, (_, i) => element('a_other', i, 3));
      await s.insertTasks(big);
      await s.insertTasks([...other, fixtureTask('plain', { createdAt: T0 })]);
      const got = await s.listTasks({ arrayId: 'a_big', limit: 20_000 });
      expect(got).toHaveLength(10_000);
      expect(new Set(got.map((t) => t.array?.index)).size).toBe(10_000);
      expect((await s.listTasks({ arrayId: 'a_other' })).map((t) => t.id).sort()).toEqual(other.map((t) => t.id).sort());
      expect(await s.listTasks({ arrayId: 'a_none' })).toEqual([]);
      expect(await s.getTask('a_big-t42')).toEqual(big[42]);
    });

    it('is all or nothing: a duplicate anywhere stores no element', async () => {
      const s = store();
      await s.insertTasks([fixtureTask('a_dup-t9999', { createdAt: T0 })]);
      const arr = Array.from({ length: 10_000 }, (_, i) => element('a_dup', i, 10_000));
      await expect(s.insertTasks(arr)).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await s.listTasks({ arrayId: 'a_dup' })).toEqual([]);
    });

    it('filters by array id together with states, and round-trips dependencies and results', async () => {
      const s = store();
      const [a, b] = [element('a_x', 0, 2), element('a_x', 1, 2)];
      const done: Task = { ...b!, state: 'SUCCEEDED', exitCode: 0, finishedAt: T0 + 9, reason: null, reasonMessage: null, result: { loss: 0.25, tags: ['é', null] } };
      const dependent: Task = { ...fixtureTask('dep', { createdAt: T0 + 1 }), after: [{ id: 'a_x', on: 'ok' }, { id: 't_q', on: 'failed' }] };
      await s.insertTasks([a!, done, dependent]);
      expect((await s.listTasks({ arrayId: 'a_x', states: ['SUCCEEDED'] })).map((t) => t.id)).toEqual([done.id]);
      expect((await s.getTask(done.id))?.result).toEqual({ loss: 0.25, tags: ['é', null] });
      expect((await s.getTask('dep'))?.after).toEqual(dependent.after);
    });

    it('keeps every character of a batch as written: quotes, backslashes, control characters, non-ASCII', async () => {
      const s = store();
      const awkward = 'a "quoted" \\ back\\slash, tab\t, newline\n, \u0001, é, 漢字, 🎉, {"json": [1]}, \'single\'';
      const tasks = [element('a_chars', 0, 2), element('a_chars', 1, 2)].map((t) => ({ ...t, spec: { ...t.spec, env: { ...t.spec.env, AWKWARD: awkward }, command: ['echo', awkward] } }));
      const r = await s.commitBatch({ newTasks: tasks, events: tasks.map((t) => ({ at: T0, type: 'task.submitted' as const, taskId: t.id, data: { awkward } })) });
      expect(r.events.map((e) => e.data)).toEqual([{ awkward }, { awkward }]);
      const [first] = r.events;
      expect((await s.listEvents(first!.seq - 1, 2)).map((e) => [e.taskId, e.data])).toEqual(tasks.map((t) => [t.id, { awkward }]));
      expect(await s.getTask(tasks[1]!.id)).toEqual(tasks[1]);
      // The same through a conditional write of both.
      const done = tasks.map((t) => ({ ...t, state: 'CANCELLED' as const, finishedAt: T0 + 1, reasonMessage: awkward, version: t.version + 1 }));
      expect(await s.writeTasks(done.map((t) => ({ task: t, expectedVersion: t.version - 1 })))).toEqual([]);
      expect((await s.listTasks({ arrayId: 'a_chars' })).sort((x, y) => x.array!.index - y.array!.index)).toEqual(done);
    });
  });
}
