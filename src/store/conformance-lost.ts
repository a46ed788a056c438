// Conformance tests for LOST attempt records (issue 9: a restarted server keeps the wait before a
// lost node's tasks run again, and a late exit still wins), registered by storeConformance.
//
// Contract points the port's types do not spell out, and that this suite pins down:
// - commitBatch writes records whole, one per task id (a later put replaces it), then deletes;
//   deleting a record that is not there is no error.
// - They are part of the batch's transaction: a batch that fails stores none of them, and a
//   batch of new tasks with records (the submit fast path of an adapter) still stores them.
// - The task inside a record comes back as it was put (every field, unicode included).
import { describe, expect, it } from 'vitest';
import type { Task } from '../core/types.js';
import type { LostAttemptRecord } from './lost-port.js';
import type { Store } from './port.js';

const T0 = Date.UTC(2025, 2, 1);

type Fixture = (id: string, o?: { state?: Task['state']; nodeId?: string }) => Task;

const byTask = (rs: LostAttemptRecord[]): LostAttemptRecord[] => [...rs].sort((a, b) => (a.taskId < b.taskId ? -1 : 1));

/** `fixtureTask`: conformance.ts's task fixture (passed in: that file registers this one). */
export function lostAttemptConformance(store: () => Store, fixtureTask: Fixture): void {
  const rec = (taskId: string, o: Partial<LostAttemptRecord> = {}): LostAttemptRecord => ({
    taskId,
    attempt: 1,
    nodeId: 'n1',
    at: T0,
    task: { ...fixtureTask(taskId, { nodeId: 'n1' }), state: 'PENDING', reason: 'NodeLost', reasonMessage: 'its node ✓ was lost' },
    holdUntil: T0 + 8_000,
    awaited: false,
    ...o,
  });

  describe('LOST attempt records', () => {
    it('are written by commitBatch, read back whole, replaced by task id and deleted', async () => {
      const s = store();
      expect(await s.listLostAttempts()).toEqual([]);
      const a = rec('t-a');
      const b = rec('t-b', { attempt: 3, nodeId: 'n2', holdUntil: T0, task: { ...fixtureTask('t-b', { nodeId: 'n2' }), state: 'FAILED' } });
      await s.commitBatch({ lostAttempts: { put: [a, b] } });
      expect(byTask(await s.listLostAttempts())).toEqual([a, b]);
      // Its node came back listing it: the hold is extended, once.
      const awaited = { ...a, awaited: true, holdUntil: T0 + 20_000 };
      await s.commitBatch({ lostAttempts: { put: [awaited] } });
      expect(byTask(await s.listLostAttempts())).toEqual([awaited, b]);
      await s.commitBatch({ lostAttempts: { delete: ['t-b', 't-never'] } });
      expect(await s.listLostAttempts()).toEqual([awaited]);
    });

    it('go with the task writes of their batch: a failed batch stores none', async () => {
      const s = store();
      await s.insertTasks([fixtureTask('t-a')]);
      // A duplicate new task fails the batch with CONFLICT: the record in it is not stored.
      await expect(s.commitBatch({ newTasks: [fixtureTask('t-a')], lostAttempts: { put: [rec('t-a')] } })).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await s.listLostAttempts()).toEqual([]);
      // A batch of new tasks with records (no other write) stores both.
      await s.commitBatch({ newTasks: [fixtureTask('t-c')], lostAttempts: { put: [rec('t-c')] } });
      expect((await s.listLostAttempts()).map((r) => r.taskId)).toEqual(['t-c']);
      expect(await s.getTask('t-c')).not.toBeNull();
    });

    it('a put and a delete of the same task in one batch leave it deleted', async () => {
      const s = store();
      await s.commitBatch({ lostAttempts: { put: [rec('t-a')] } });
      await s.commitBatch({ lostAttempts: { put: [rec('t-a', { attempt: 2 })], delete: ['t-a'] } });
      expect(await s.listLostAttempts()).toEqual([]);
    });
  });
}
